"""The warehouse (Redshift, PostgreSQL or SQLite through SQLAlchemy Core): written only by the
fact loader, read for listings and the key statistics.

Rooms: `schema` (tables), `sql` (statements), `load` (the loader's writes), `read` (the
readers), `engine` (engines and faults).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.repository.warehouse.engine import (
    WRITE_OPTION,
    create_warehouse_engine,
    engine_for,
    redacted_url,
    translate_errors,
)
from core.repository.warehouse.load import WarehouseLoader
from core.repository.warehouse.read import WarehouseReader
from core.repository.warehouse.schema import metadata, without_returning

if TYPE_CHECKING:
    from core.config import Settings

__all__ = [
    "WRITE_OPTION",
    "Warehouse",
    "create_warehouse_engine",
    "engine_for",
    "metadata",
    "open_warehouse",
    "redacted_url",
    "translate_errors",
    "without_returning",
]


class Warehouse(WarehouseReader, WarehouseLoader):
    """Both sides of the warehouse on one engine."""


def open_warehouse(settings: Settings | None = None) -> Warehouse:
    """The warehouse named by `settings.database_url`. A SQLite database (the embedded
    default) is migrated on first use, so `make run` needs no set-up, and made again if its
    file goes (see embedded.py); PostgreSQL and Redshift are migrated on purpose, with
    `imgpipe db upgrade`."""
    if settings is None:
        from core.config import get_settings

        settings = get_settings()
    url = settings.database_url
    engine = engine_for(url)
    if engine.dialect.name != "sqlite":
        return Warehouse(engine)
    from core.repository.warehouse.embedded import embedded_file

    watched = embedded_file(url, engine)
    with translate_errors("migrating the embedded database"):
        if watched is not None:
            watched.ensure()
        else:  # in memory: migrated once, gone with the process
            from core.repository.migrations import at_head, upgrade

            if not at_head(engine):
                upgrade(engine)
    return Warehouse(engine, embedded=watched)
