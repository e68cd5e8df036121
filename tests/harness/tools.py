"""Third-party programs the tests drive for real: Debian's kcat and headless Chromium.

`make test` installs them (target system-packages); a test never skips for want of one."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Without the networking flags Chromium calls home at start, which this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


def required_program(name: str, package: str) -> str:
    """The program's path; a failure naming the set-up step when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `make test` installs Debian's {package}")
    return path


@contextlib.contextmanager
def chromium(profile: Path, **options: Any) -> Iterator[Any]:
    """A headless Chromium (Playwright's persistent context) on a fresh --user-data-dir."""
    from playwright.sync_api import sync_playwright

    executable = required_program("chromium", "chromium")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=CHROMIUM_ARGS, **options
        )
        try:
            yield context
        finally:
            context.close()
