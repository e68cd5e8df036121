"""What the use cases need of the warehouse: readers list and count, the loader writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from core.models import ImageRecord, Source
    from core.stats import Stats


class WarehouseReads(Protocol):
    """Listings and statistics, lagging ingest by at most one load interval."""

    def list_images(
        self,
        customer_id: str,
        limit: int = 50,
        cursor: str | None = None,
        since: datetime | None = None,
    ) -> tuple[Sequence[ImageRecord], str | None]: ...

    def stats(
        self,
        since: date | None = None,
        until: date | None = None,
        source: Source | None = None,
        customer_id: str | None = None,
        top_customers: int = 10,
    ) -> Stats: ...

    def ping(self) -> None: ...

    @property
    def replaced_at(self) -> datetime | None:
        """When the embedded database's file was found removed or replaced (else None)."""
        ...


class LoadSession(Protocol):
    """One load's transaction, the loaders' lock held."""

    @property
    def stages_by_copy(self) -> bool: ...

    def already_loaded(self, keys: Sequence[str]) -> set[str]: ...

    def stage_rows(self, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def stage_copy(self, manifest_url: str, iam_role: str) -> None: ...

    def apply(self) -> dict[str, int]: ...

    def record(self, loaded: Sequence[tuple[str, int, int]], load_id: str) -> None: ...


class FactWarehouse(Protocol):
    """The loader's side: the ledger of loaded fact objects, and the load itself."""

    def watermark(self) -> str | None: ...

    def loaded_among(self, keys: Sequence[str]) -> set[str]:
        """Those of `keys` the ledger has: a look-back asks a page of the listing at a time."""
        ...

    def prepare(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]: ...

    def load_session(self) -> AbstractContextManager[LoadSession]: ...

    def refresh_statistics(self) -> None: ...


class Warehouse(WarehouseReads, FactWarehouse, Protocol):
    """Both sides: what a Context carries. Ingest needs neither: it appends facts."""
