"""Fixtures of the statistics tests: the app on a warehouse holding a known data set, on SQLite
and on PostgreSQL, with keys for two customers and an admin."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.bootstrap import Context, build_context
from core.config import Settings, load_settings
from core.repository.warehouse import Warehouse
from services.upload_api.app import create_app
from tests.integration.test_warehouse import known_data_set

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"acme": "acme-key", "globex": "globex-key", "ops": "ops-key"}
ADMINS = ["ops"]


def headers_for(customer: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[customer]}


def key_pairs() -> list[str]:
    return [f"{c}:{hashlib.sha256(k.encode()).hexdigest()}" for c, k in KEYS.items()]


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


def run_imgpipe(
    workdir: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`imgpipe ARGS` in `workdir` on the embedded defaults (no IMGPIPE_* from outside)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGPIPE_")}
    env["PYTHONPATH"] = str(ROOT)
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def demo_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where `imgpipe demo` filled the embedded defaults (.imgpipe/), once per
    session: the demo and browser tests read it, none writes to it."""
    workdir = tmp_path_factory.mktemp("demo")
    done = run_imgpipe(workdir, "demo")
    assert done.returncode == 0, done.stderr
    (workdir / "demo.out").write_text(done.stdout)
    return workdir
