"""Fixtures of the statistics tests: the app on a warehouse holding a known data set, on SQLite
and on PostgreSQL, with keys for two customers and an admin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.bootstrap import Context, build_context
from core.config import Settings, load_settings
from core.repository.warehouse import Warehouse
from services.upload_api.app import create_app
from tests.harness.app import key_pairs, run_imgpipe
from tests.harness.warehouse_data import known_data_set

ADMINS = ["ops"]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/warehouse.db"
    from core.repository.migrations import upgrade

    url = str(request.getfixturevalue("postgres_url"))
    upgrade(url)
    return url


@pytest.fixture
def make_context(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Context]]:
    """Contexts on the test's database (keys for acme, globex and the admin ops by default)."""
    built: list[Context] = []

    def build(**overrides: Any) -> Context:
        values: dict[str, Any] = {
            "database_url": database_url,
            "storage_url": f"file://{tmp_path}/objects",
            "api_keys": key_pairs(),
            "admin_customers": ADMINS,
        }
        values.update(overrides)
        settings: Settings = load_settings(**values)
        ctx = build_context(settings)
        built.append(ctx)
        return ctx

    yield build
    for ctx in built:
        ctx.close()


@pytest.fixture
def warehouse(make_context: Callable[..., Context]) -> Warehouse:
    """The warehouse, holding the known data set (two customers, two days, both sources)."""
    found = make_context().warehouse
    assert isinstance(found, Warehouse)
    known_data_set(found)
    return found


@pytest.fixture
def client(make_context: Callable[..., Context], warehouse: Warehouse) -> Iterator[TestClient]:
    with TestClient(create_app(ctx=make_context()), raise_server_exceptions=False) as test:
        yield test


@pytest.fixture(scope="session")
def demo_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where `imgpipe demo` filled the embedded defaults (.imgpipe/), once per
    session: the demo and browser tests read it, none writes to it."""
    workdir = tmp_path_factory.mktemp("demo")
    done = run_imgpipe(workdir, "demo")
    assert done.returncode == 0, done.stderr
    (workdir / "demo.out").write_text(done.stdout)
    return workdir
