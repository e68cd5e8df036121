"""Wires the adapters that the settings name into one Context, built once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from core.config import Settings, get_settings

if TYPE_CHECKING:
    from core.ports import Warehouse
    from core.repository.objects import ObjectStore

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Context:
    """The collaborators of a use case: settings, object storage, warehouse, a small pool."""

    settings: Settings
    objects: ObjectStore
    warehouse: Warehouse
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterable[R]:
        """fn over items, in a few threads when there are several (Pillow frees the GIL)."""
        if len(items) < 2 or self.settings.ingest_workers < 2:
            return [fn(item) for item in items]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.settings.ingest_workers, thread_name_prefix="ingest"
                )
        return list(self._pool.map(fn, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def build_context(settings: Settings | None = None) -> Context:
    """A Context on the adapters the settings name. The database engine and the S3 client
    (with its connection pool) are cached per process by their modules; the object store and
    its thread pool are new each time, so build one Context per process and keep it
    (default_context does)."""
    from core.repository.objects import open_object_store
    from core.repository.warehouse import open_warehouse

    settings = settings or get_settings()
    return Context(settings, open_object_store(settings), open_warehouse(settings))


_default: Context | None = None
_default_lock = threading.Lock()


def default_context() -> Context:
    """The process-wide Context on the environment's settings (Lambda keeps it warm)."""
    global _default  # noqa: PLW0603 - one per process is the point
    with _default_lock:
        if _default is None:
            _default = build_context()
        return _default
