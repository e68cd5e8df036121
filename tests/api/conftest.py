"""Fixtures of the API tests: the app on the embedded defaults and on PostgreSQL + moto S3."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.bootstrap import build_context
from core.config import Settings, load_settings
from services.upload_api.app import create_app
from tests.harness.app import key_pairs, serving
from tests.harness.s3 import MakeSettings


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on SQLite and a local folder under the test's tmp dir."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path}/warehouse.db",
            "storage_url": f"file://{tmp_path}/objects",
            "api_keys": key_pairs(),
        }
        values.update(overrides)
        return load_settings(**values)

    return build


@pytest.fixture
def aws_settings(make_settings: MakeSettings, postgres_url: str) -> Callable[..., Settings]:
    """Settings on a fresh PostgreSQL schema (migrated) and a fresh moto bucket."""
    from core.repository.migrations import upgrade

    upgrade(postgres_url)

    def build(**overrides: Any) -> Settings:
        return make_settings(database_url=postgres_url, api_keys=key_pairs(), **overrides)

    return build


@pytest.fixture(params=["embedded", "aws"])
def backend_settings(request: pytest.FixtureRequest) -> Callable[..., Settings]:
    """Each test that takes it runs twice: on SQLite + folder, and on PostgreSQL + moto S3."""
    name = "embedded_settings" if request.param == "embedded" else "aws_settings"
    factory: Callable[..., Settings] = request.getfixturevalue(name)
    return factory


@pytest.fixture
def settings(backend_settings: Callable[..., Settings]) -> Settings:
    return backend_settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    ctx = build_context(settings)
    with TestClient(create_app(ctx=ctx), raise_server_exceptions=False) as test_client:
        yield test_client
    ctx.close()


@pytest.fixture
def embedded_client(embedded_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    ctx = build_context(embedded_settings())
    with TestClient(create_app(ctx=ctx), raise_server_exceptions=False) as test_client:
        yield test_client
    ctx.close()


@pytest.fixture
def api_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The imgpipe.api records (the JSON handler stops them at `imgpipe`; caplog sits below)."""
    logger = logging.getLogger("imgpipe")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="imgpipe")
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`imgpipe serve` on the embedded defaults (SQLite, a folder) with the test keys, started
    once for the session: a start costs seconds, and the tests that use it only add images."""
    workdir: Path = tmp_path_factory.mktemp("embedded-server")
    env = {
        "IMGPIPE_DATABASE_URL": f"sqlite:///{workdir}/warehouse.db",
        "IMGPIPE_STORAGE_URL": f"file://{workdir}/objects",
        "IMGPIPE_API_KEYS": ",".join(key_pairs()),
    }
    with serving(workdir, env) as (base, _):
        yield base
