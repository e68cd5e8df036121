"""Wires the adapters that the settings name into one Context, built once per process."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from core.config import Settings, get_settings
from core.telemetry.traces import carry

if TYPE_CHECKING:
    from core.ports import Warehouse
    from core.repository.objects import ObjectStore

T = TypeVar("T")
R = TypeVar("R")


# Object storage requests of one image (its renditions) in flight at once: they wait on the
# network, not on a core, and an ingest worker must not wait for each in turn.
IO_THREADS = 8


@dataclass
class Context:
    """The collaborators of a use case: settings, object storage, warehouse, a few threads."""

    settings: Settings
    objects: ObjectStore
    warehouse: Warehouse
    _pools: dict[str, ThreadPoolExecutor] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterable[R]:
        """fn over items, in a few threads when there are several (Pillow frees the GIL)."""
        if len(items) < 2 or self.settings.ingest_workers < 2:
            return [fn(item) for item in items]
        scope = contextvars.copy_context()  # log correlation fields follow into the threads
        traced = carry(fn)  # and the X-Ray segment, so that the threads' subsegments are sent
        pool = self._pool("ingest", self.settings.ingest_workers)
        return list(pool.map(lambda item: scope.copy().run(traced, item), items))

    def io_map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """fn over items that wait on I/O, in threads of their own: safe to call from an
        ingest worker (a pool of its own, so no worker waits for a thread it holds)."""
        if len(items) < 2:
            return [fn(item) for item in items]
        return list(self._pool("io", IO_THREADS).map(fn, items))

    def _pool(self, name: str, size: int) -> ThreadPoolExecutor:
        with self._lock:
            pool = self._pools.get(name)
            if pool is None:
                pool = self._pools[name] = ThreadPoolExecutor(size, thread_name_prefix=name)
            return pool

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=True)


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
