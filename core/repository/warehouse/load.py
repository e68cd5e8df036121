"""The loader's writes: fact rows checked against the tables, then staged and inserted once, in
one transaction that also records which fact objects it loaded."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable

from core.facts import FactError, Row
from core.models import utcnow
from core.repository.migrations.views import STATS_VIEWS
from core.repository.warehouse import sql
from core.repository.warehouse.engine import Database, translate_errors
from core.repository.warehouse.schema import (
    FACT_TABLES,
    STAGE_NAME,
    UtcDateTime,
    loaded_facts,
    staging_columns,
)

_MAX_INTEGER = 2**63 - 1


def coerce(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Fact rows as the tables take them (timestamps parsed, every staging column present).
    Raises FactError for a row that would not fit its table: a missing value, a wrong type, a
    text longer than its column. Checked before loading, so that no load fails on one bad
    file (Redshift's COPY would fail whole)."""
    names = [column.name for column in staging_columns()]
    staged = []
    for number, row in enumerate(rows, start=1):
        table = FACT_TABLES.get(row["kind"])
        if table is None:
            continue  # a kind this version has no table for
        out: dict[str, Any] = dict.fromkeys(names)
        out["kind"] = row["kind"]
        for column in table.columns:
            try:
                out[column.name] = _value(column, row.get(column.name))
            except (TypeError, ValueError) as exc:
                raise FactError(f"row {number} ({row['kind']}): {column.name}: {exc}") from None
        staged.append(out)
    return staged


def _value(column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        if not column.nullable:
            raise ValueError("missing")
        return None
    kind = column.type
    if isinstance(kind, sa.Boolean):
        if not isinstance(value, bool):
            raise TypeError(f"{value!r} is not a boolean")
        return value
    if isinstance(kind, sa.Integer):
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _MAX_INTEGER:
            raise TypeError(f"{value!r} is not an integer")
        return value
    if isinstance(kind, sa.Float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{value!r} is not a number")
        return float(value)
    if isinstance(kind, UtcDateTime):
        if not isinstance(value, str):
            raise TypeError(f"{value!r} is not a timestamp")
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    length = getattr(kind, "length", None)
    if length is not None and len(value.encode("utf-8")) > length:
        raise ValueError(f"longer than {length} bytes")
    return value


class LoadSession:
    """One load's transaction, with the loaders' lock held: see which fact objects are already
    in, stage the rest (rows, or Redshift's COPY), insert what is new, record the objects."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.dialect = conn.dialect.name
        self._staged = False

    @property
    def stages_by_copy(self) -> bool:
        """Redshift stages with COPY from S3; the others with the parsed rows."""
        return self.dialect == "redshift"

    def already_loaded(self, keys: Sequence[str]) -> set[str]:
        return _loaded_among(self._conn, keys)

    def _create_stage(self) -> None:
        if not self._staged:
            # A temporary table lives as long as its (pooled) connection: one left by a load
            # that never reached apply() must not fail this one.
            self._conn.exec_driver_sql(sql.drop_stage_sql(if_exists=True))
            self._conn.exec_driver_sql(sql.create_stage_sql(self._conn.dialect))
            self._staged = True

    def stage_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self._create_stage()
        if not rows:
            return
        stage = sa.Table(STAGE_NAME, sa.MetaData(), *staging_columns())
        for statement, params in sql.MultiRowInsert(stage, rows).render(self._conn.dialect):
            self._conn.exec_driver_sql(statement, params)

    def stage_copy(self, manifest_url: str, iam_role: str) -> None:
        self._create_stage()
        self._conn.exec_driver_sql(sql.copy_sql(manifest_url, iam_role))

    def apply(self) -> dict[str, int]:
        """Insert the staged rows that are new, then apply erasures; the counts of rows
        written, by table, and of rows erased or unlinked."""
        counts = {"superseded": self._count(sql.supersede_refusals())}
        erasures, *others = sql.INSERT_ORDER
        counts[FACT_TABLES[erasures].name] = self._count(sql.insert_new(erasures))
        # Rows of an erased image go whichever load brought them: those already in before the
        # inserts (the same bytes uploaded again then insert as a new image), and after them
        # the renditions and events of the erased one that this load brought.
        counts.update(self._erase())
        for kind in others:
            counts[FACT_TABLES[kind].name] = self._count(sql.insert_new(kind))
        for name, count in self._erase().items():
            counts[name] += count
        # Erasures are rare: their counts show in a report only when there were any.
        for name in ("erasures", *sql.ERASURE_COUNTS):
            if not counts[name]:
                del counts[name]
        self._conn.exec_driver_sql(sql.drop_stage_sql())
        self._staged = False
        return counts

    def _erase(self) -> dict[str, int]:
        statements = sql.apply_erasures(self.dialect)
        return {name: self._count(statement) for name, statement in statements}

    def _count(self, statement: Executable) -> int:
        """Run a statement and say how many rows it wrote."""
        result = self._conn.execute(statement, execution_options={"preserve_rowcount": True})
        return max(int(result.rowcount), 0)

    def record(self, loaded: Sequence[tuple[str, int, int]], load_id: str) -> None:
        """Note the fact objects (key, rows, bytes) as loaded, in the same transaction."""
        if not loaded:
            return
        now = utcnow()
        rows = [
            {"fact_key": key, "load_id": load_id, "rows": count, "bytes": size, "loaded_at": now}
            for key, count, size in loaded
        ]
        for statement, params in sql.MultiRowInsert(loaded_facts, rows).render(self._conn.dialect):
            self._conn.exec_driver_sql(statement, params)


def _loaded_among(conn: Connection, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in sql._chunks(list(keys), sql.MAX_PARAMS):
        query = sa.select(loaded_facts.c.fact_key).where(loaded_facts.c.fact_key.in_(chunk))
        found.update(conn.execute(query).scalars())
    return found


class WarehouseLoader(Database):
    """The warehouse's one writer: the fact loader."""

    @staticmethod
    def prepare(rows: Sequence[Row]) -> list[dict[str, Any]]:
        """Fact rows checked and shaped for staging (see `coerce`)."""
        return coerce(rows)

    def watermark(self) -> str | None:
        """The newest fact object loaded (by key, which orders them by time), or None."""
        with self._transaction("reading the load watermark") as conn:
            value = conn.execute(sa.select(sa.func.max(loaded_facts.c.fact_key))).scalar()
        return str(value) if value else None

    def loaded_among(self, keys: Sequence[str]) -> set[str]:
        """Those of `keys` that are loaded fact objects."""
        with self._transaction("reading loaded facts") as conn:
            return _loaded_among(conn, keys)

    @contextlib.contextmanager
    def load_session(self) -> Iterator[LoadSession]:
        """One transaction with the loaders' lock: committed when the block ends, rolled back
        (nothing recorded, nothing inserted) when it raises."""
        with self._transaction("loading facts", write=True) as conn:
            lock = sql.lock_sql(self._dialect)
            if lock:
                conn.exec_driver_sql(lock)
            yield LoadSession(conn)

    def refresh_statistics(self) -> None:
        """Bring what the statistics read up to date: Redshift's materialized views (each
        REFRESH runs as a transaction of its own, so outside one); plain views elsewhere
        need nothing."""
        if self._dialect != "redshift":
            return
        autocommit = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        with translate_errors("refreshing the statistics"), autocommit.connect() as conn:
            for view in STATS_VIEWS:
                conn.exec_driver_sql(sql.refresh_sql(view))
