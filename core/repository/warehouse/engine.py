"""Warehouse engines and faults: one engine per URL and process, database errors as imgpipe's.

Every engine is set up for imgpipe: short connect timeouts, pre-ping, a small pool (one
connection per Lambda container), and on SQLite WAL, a busy timeout and real transactions
(BEGIN IMMEDIATE for writers).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, make_url

from core.errors import TransientError
from core.repository.warehouse.schema import without_returning

if TYPE_CHECKING:
    from core.repository.warehouse.embedded import EmbeddedFile

# Connection execution option that makes SQLite take the write lock at BEGIN (IMMEDIATE):
# a writer that first read and then writes could otherwise fail at once on a busy database.
WRITE_OPTION: Final = "imgpipe_write"

_TRANSIENT_SQLSTATE_CLASSES: Final = {"08", "53", "57", "58"}  # connection, resources, operator
_TRANSIENT_SQLSTATES: Final = {"40001", "40P01", "40003", "55P03", "55006"}
# SQLite primary result codes a retry can cure: BUSY, LOCKED, IOERR, FULL, CANTOPEN, PROTOCOL.
_TRANSIENT_SQLITE_CODES: Final = {5, 6, 10, 13, 14, 15}


def _sqlstate(orig: BaseException) -> str | None:
    for attribute in ("sqlstate", "pgcode"):  # psycopg 3, psycopg2
        value = getattr(orig, attribute, None)
        if isinstance(value, str):
            return value
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], dict):  # redshift_connector: the server's error fields
        code = args[0].get("C")
        return code if isinstance(code, str) else None
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether a database error is a fault a retry may cure, rather than a bug or bad SQL."""
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if orig is None:
        return isinstance(exc, sa_exc.OperationalError)
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF in _TRANSIENT_SQLITE_CODES
    state = _sqlstate(orig)
    if state:
        if "serializable isolation violation" in str(orig).lower():
            return True  # Redshift reports it as XX000 (error 1023)
        return state[:2] in _TRANSIENT_SQLSTATE_CLASSES or state in _TRANSIENT_SQLSTATES
    # No server answer at all: refused, reset, timed out, closed.
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)


@contextlib.contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Faults become TransientError; programming errors propagate unchanged."""
    try:
        yield
    except (sa_exc.DBAPIError, sa_exc.TimeoutError, sa_exc.DisconnectionError) as exc:
        if not is_transient(exc):
            raise
        orig = getattr(exc, "orig", None) or exc
        summary = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
        raise TransientError(
            f"warehouse unavailable while {action}: {type(orig).__name__}: {summary}"[:300],
            retry_after=2.0,
        ) from exc


def redacted_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _on_lambda() -> bool:
    from core.config import running_on_lambda

    return running_on_lambda()


def create_warehouse_engine(url: str) -> Engine:
    """A new engine for `url`, set up for imgpipe: short connect timeout, pre-ping, a small
    pool (one connection per Lambda container), and on SQLite WAL, a busy timeout and real
    transactions (BEGIN IMMEDIATE for writers)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    connect_args: dict[str, Any] = {}
    driver = parsed.get_driver_name()
    if driver in {"psycopg", "psycopg2", "psycopg2cffi"}:
        # A server that vanishes without a reset (a failover, a dropped route) would hold a
        # connection for the kernel's retransmission time, some 15 minutes: keepalives find
        # an idle one dead within a minute, the user timeout one waiting on unacknowledged
        # data within 30 s. A long query is unaffected: a live server acknowledges both.
        connect_args.update(
            connect_timeout=5,
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
            tcp_user_timeout=30_000,
        )
    # redshift_connector's `timeout` also bounds every read, so long queries keep its default.
    lambda_pool = _on_lambda()
    engine = sa.create_engine(
        parsed,
        connect_args=connect_args,
        pool_pre_ping=True,
        pool_size=1 if lambda_pool else 4,
        max_overflow=1 if lambda_pool else 4,
        pool_timeout=5,
        pool_recycle=300,  # under NAT gateways' and proxies' idle timeouts
    )
    without_returning(engine.dialect)
    return engine


def _sqlite_engine(url: sa.URL) -> Engine:
    database = url.database or ""
    memory = database in {"", ":memory:"} or database.startswith("file::memory:")
    if not memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"timeout": 15, "check_same_thread": False},
        poolclass=sa.StaticPool if memory else sa.QueuePool,
    )

    @sa_event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit transactions cover DML only; BEGIN is issued below, so
        # migrations are atomic and writers can take the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """The process's engine for `url`, created on first use (Lambda keeps it warm)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = create_warehouse_engine(url)
        return engine


class Database:
    """An engine and the one way its transactions are opened. Cheap to build: the engine (and
    its pool) is what is shared."""

    def __init__(self, engine: Engine, *, embedded: EmbeddedFile | None = None) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._embedded = embedded

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._dialect

    @property
    def replaced_at(self) -> datetime | None:
        """When this process found the embedded database's file removed or replaced."""
        return self._embedded.replaced_at if self._embedded else None

    @contextlib.contextmanager
    def _transaction(self, action: str, *, write: bool = False) -> Iterator[Connection]:
        with translate_errors(action):
            if self._embedded is not None:
                self._embedded.ensure()
        with translate_errors(action), self._engine.connect() as conn:
            if write:
                conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def ping(self) -> None:
        """Raise TransientError unless the database answers."""
        with self._transaction("pinging") as conn:
            conn.execute(sa.select(sa.literal(1)))
