"""Warehouse rules that need no server: which database errors are faults, and page cursors."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from core.errors import PermanentError, TransientError
from core.repository.warehouse.engine import is_transient, translate_errors
from core.repository.warehouse.read import decode_cursor, encode_cursor
from tests.harness.proxy import free_port


def wrapped(orig: BaseException) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError.instance("SELECT 1", {}, orig, psycopg.Error)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.ConnectionFailure("connection failure"),
        psycopg.errors.SqlclientUnableToEstablishSqlconnection("cannot connect"),
        psycopg.errors.AdminShutdown("terminating connection"),
        psycopg.errors.CrashShutdown("terminating connection after a crash"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.LockNotAvailable("could not obtain lock"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.TooManyConnections("too many clients"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_server_faults_are_transient(error: psycopg.Error) -> None:
    assert is_transient(wrapped(error))


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.UndefinedTable('relation "images" does not exist'),
        psycopg.errors.SyntaxError("syntax error"),
        psycopg.errors.StringDataRightTruncation("value too long"),
        psycopg.errors.UniqueViolation("duplicate key"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_programming_errors_and_bad_data_are_not_transient(error: psycopg.Error) -> None:
    assert not is_transient(wrapped(error))


class Error(Exception):
    """The shape of redshift_connector's errors: the server's fields in args[0]."""


class ProgrammingError(Error):
    pass


def test_redshift_serializable_isolation_violation_is_transient() -> None:
    def redshift(fields: dict[str, str]) -> sa_exc.DBAPIError:
        return sa_exc.DBAPIError.instance("SELECT 1", {}, ProgrammingError(fields), Error)

    violation = {"S": "ERROR", "C": "XX000", "M": "1023: Serializable isolation violation"}
    assert isinstance(redshift(violation), sa_exc.ProgrammingError)
    assert is_transient(redshift(violation))
    assert not is_transient(redshift({"S": "ERROR", "C": "42P01", "M": "relation not found"}))


def test_refused_connection_becomes_a_transient_error() -> None:
    engine = sa.create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x",
        connect_args={"connect_timeout": 2},
    )
    with pytest.raises(TransientError) as raised, translate_errors("testing"), engine.connect():
        pass
    assert "warehouse unavailable while testing" in raised.value.detail


def test_locked_sqlite_database_is_transient_but_a_missing_table_is_not(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with pytest.raises(sa_exc.OperationalError) as locked, engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        assert is_transient(locked.value)
        with pytest.raises(sa_exc.OperationalError) as missing, engine.connect() as conn:
            conn.execute(sa.text("SELECT * FROM nowhere"))
        assert not is_transient(missing.value)
    finally:
        holder.close()
        engine.dispose()


def test_cursor_round_trips_position_in_any_zone() -> None:
    seen = datetime(2024, 3, 2, 0, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    image_id = "a3371747-af46-5951-ba9f-303a797b7ebd"
    cursor = encode_cursor(seen, image_id)
    assert "=" not in cursor
    when, after = decode_cursor(cursor)
    assert (when, after) == (seen, image_id)
    assert when.tzinfo is not None
    assert when.astimezone(UTC).hour == 22


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "WzEsMl0", "WyIyMDI0LTAxLTAxIiwieCJd"])
def test_cursors_not_issued_here_are_bad_requests(cursor: str) -> None:
    with pytest.raises(PermanentError):
        decode_cursor(cursor)
