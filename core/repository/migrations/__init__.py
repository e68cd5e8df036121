"""The warehouse's Alembic migrations, driven from code: no alembic.ini, the same history on
SQLite, PostgreSQL and Redshift. Alembic is imported only when a function here runs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).parent
DIALECTS = ("redshift", "postgresql", "sqlite")


def _config(**attributes: Any) -> Config:
    from alembic.config import Config

    config = Config(output_buffer=attributes.pop("output_buffer", None))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes.update(attributes)
    return config


def _engine(target: Engine | str) -> tuple[Engine, bool]:
    if isinstance(target, str):
        from core.repository.warehouse import create_warehouse_engine

        return create_warehouse_engine(target), True
    return target, False


def _run(target: Engine | str, action: str, revision: str) -> None:
    from alembic import command

    from core.repository.warehouse import WRITE_OPTION

    engine, owned = _engine(target)
    try:
        with engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            config = _config(connection=conn)
            getattr(command, action)(config, revision)
    finally:
        if owned:
            engine.dispose()


def upgrade(target: Engine | str, revision: str = "head") -> None:
    """Bring the database at `target` (an engine or a URL) up to `revision`."""
    _run(target, "upgrade", revision)


def downgrade(target: Engine | str, revision: str = "base") -> None:
    _run(target, "downgrade", revision)


# The newest revision, kept here so that a start can tell an up-to-date embedded database
# without importing Alembic (a third of a cold start); a test keeps it equal to head().
HEAD = "0005"


def at_head(engine: Engine) -> bool:
    """Whether the database was migrated to HEAD (read with SQLAlchemy alone)."""
    import sqlalchemy as sa

    try:
        with engine.connect() as conn:
            versions = conn.execute(sa.text("select version_num from alembic_version")).all()
    except sa.exc.DBAPIError:
        return False  # never migrated: no version table yet
    return [row[0] for row in versions] == [HEAD]


def head() -> str:
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def current(target: Engine | str) -> str | None:
    """The revision the database is at; None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    engine, owned = _engine(target)
    try:
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
    finally:
        if owned:
            engine.dispose()
    return str(revision) if revision is not None else None


def ddl(dialect: str) -> str:
    """The SQL of every migration for `dialect`, rendered without a database (offline)."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}")
    from alembic import command

    buffer = io.StringIO()
    command.upgrade(_config(dialect_name=dialect, output_buffer=buffer), "head", sql=True)
    return buffer.getvalue()
