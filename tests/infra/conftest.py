"""The template as written and as the SAM translator expands it, read once for the session."""

from __future__ import annotations

from typing import Any

import pytest

from infra.check import expand, load_template


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="session")
def expanded(template: dict[str, Any]) -> dict[str, Any]:
    return expand(template)
