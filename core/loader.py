"""The warehouse loader: fact objects not yet loaded, oldest first and bounded, into the
warehouse in one transaction; the only writer of the warehouse.

Run by a scheduled handler on AWS, by `imgpipe load`, and by a background thread of
`imgpipe serve` and `imgpipe consume`. Loaders take turns (a lock in the warehouse); each
finds what the other loaded in the warehouse's ledger, so nothing loads twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from core import facts, layout
from core.erasure_seal import seal_erasures
from core.errors import ConfigError, NotFound
from core.models import utcnow
from core.periodic import Periodic
from core.telemetry import metrics
from core.telemetry.logs import correlated
from core.telemetry.traces import span

if TYPE_CHECKING:
    from core.bootstrap import Context
    from core.config import Settings
    from core.ports import FactWarehouse
    from core.repository.objects import ObjectStore

log = logging.getLogger("imgpipe.loader")

# A loader thread looks back this far on most loads: a fact written a moment before a newer one
# lands within it (slow writes, two writers). Every SWEEP_SECONDS it looks back the whole settle
# window (clocks set apart): that listing grows with the facts written within the window, tens
# of thousands at a few dozen per second, too many to list and hold every 2 s.
RECENT_SECONDS = 30.0
SWEEP_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class FactFile:
    key: str
    size: int
    rows: list[dict[str, Any]] = field(repr=False)


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What one load did, and what it left waiting."""

    load_id: str
    files: int = 0  # fact objects loaded
    bytes: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # rows written, by table
    rejected: tuple[str, ...] = ()  # fact objects moved aside
    pending: int = 0  # fact objects still waiting (at least: the listing is bounded)
    lag_seconds: float = 0.0  # age of the oldest fact still waiting; 0 when none
    seconds: float = 0.0
    last_key: str | None = None  # the newest fact object this load looked at
    sealed: int = 0  # erasure facts spent and deleted after the load (core.erasure_seal)

    @property
    def rows_written(self) -> int:
        removed = {"superseded", "erased_images", "erased_renditions", "unlinked_events"}
        return sum(count for name, count in self.rows.items() if name not in removed)

    def to_json(self) -> dict[str, Any]:
        return {
            "load_id": self.load_id,
            "files": self.files,
            "bytes": self.bytes,
            "rows": self.rows,
            "rejected": list(self.rejected),
            "pending": self.pending,
            "lag_seconds": round(self.lag_seconds, 3),
            "seconds": round(self.seconds, 3),
            "sealed": self.sealed,
        }


def load_once(
    ctx: Context, *, replay_after: str | None = None, look_back: float | None = None
) -> LoadReport:
    """One bounded load. With `replay_after` (a fact key or prefix), the fact objects after it
    are loaded again whether or not the ledger has them: rows already present stay single.
    `look_back`: seconds before the newest loaded fact to look for late ones (at most, and by
    default, load_settle_seconds). A full load (neither) then seals spent erasures."""
    load_id = layout.new_ulid()
    with correlated(correlation_id=load_id, load_id=load_id):
        report = _load(ctx, load_id, replay_after, look_back)
        if replay_after is None and look_back is None:
            report = replace(report, sealed=seal_erasures(ctx).sealed)
    metrics.count("RowsLoaded", report.rows_written)
    metrics.count("FactsLoaded", report.files)
    metrics.count("LoaderLagSeconds", report.lag_seconds)
    return report


def _load(
    ctx: Context, load_id: str, replay_after: str | None, look_back: float | None
) -> LoadReport:
    started = time.perf_counter()
    settings, objects, warehouse = ctx.settings, ctx.objects, ctx.warehouse
    waiting = _waiting(objects, warehouse, settings, replay_after, look_back)
    batch: list[tuple[str, int]] = []
    size = 0
    for key, object_size in waiting:
        full = len(batch) >= settings.load_max_files or size + object_size > settings.load_max_bytes
        if batch and full:
            break
        batch.append((key, object_size))
        size += object_size
    files, rejected = _read(objects, warehouse, batch)
    rows: dict[str, int] = {}
    loaded: list[FactFile] = []
    if files:
        rows, loaded = _write(ctx, files, load_id, replay=replay_after is not None)
        if rows and any(rows.values()):
            warehouse.refresh_statistics()
    left = waiting[len(batch) :]
    report = LoadReport(
        load_id=load_id,
        files=len(loaded),
        bytes=sum(f.size for f in loaded),
        rows=rows,
        rejected=tuple(rejected),
        pending=len(left),
        lag_seconds=_age(left[0][0]) if left else 0.0,
        seconds=time.perf_counter() - started,
        last_key=batch[-1][0] if batch else None,
    )
    if report.files or report.rejected:
        log.info("load %s: %s", load_id, json.dumps(report.to_json()))
    return report


def _waiting(
    objects: ObjectStore,
    warehouse: FactWarehouse,
    settings: Settings,
    replay_after: str | None,
    look_back: float | None = None,
) -> list[tuple[str, int]]:
    """The fact objects to load, oldest first (a bounded listing: one load's worth and one
    more): after the newest loaded one, less the settle window (or `look_back`, if shorter),
    since a fact may land after a newer one (writers' clocks differ, writes take time)."""
    enough = settings.load_max_files + 1
    if replay_after is not None:
        return objects.scan(layout.FACTS, start_after=replay_after, limit=enough)
    newest = warehouse.watermark()
    if newest is None:
        return objects.scan(layout.FACTS, limit=enough)
    settle = settings.load_settle_seconds
    seconds = settle if look_back is None else min(look_back, settle)
    since = layout.fact_written_at(newest) - timedelta(seconds=seconds)
    return _not_loaded(objects, warehouse, layout.fact_key(layout.ulid_floor(since)), enough)


def _not_loaded(
    objects: ObjectStore, warehouse: FactWarehouse, start: str, enough: int
) -> list[tuple[str, int]]:
    """The first `enough` fact objects after `start` that the ledger lacks, a page of the
    listing at a time: the settle window holds every fact of ten minutes, and holding all
    their keys at once (listed and loaded) raised the process's memory for good."""
    waiting: list[tuple[str, int]] = []
    after = start
    while len(waiting) < enough:
        page = objects.scan(layout.FACTS, start_after=after, limit=enough)
        loaded = warehouse.loaded_among([key for key, _ in page]) if page else set()
        waiting += [(key, size) for key, size in page if key not in loaded]
        if len(page) < enough:
            break
        after = page[-1][0]
    return waiting[:enough]


def _read(
    objects: ObjectStore, warehouse: FactWarehouse, batch: Sequence[tuple[str, int]]
) -> tuple[list[FactFile], list[str]]:
    """Each fact object's rows, checked; one that is not a fact object is moved aside."""
    files, rejected = [], []
    for key, size in batch:
        try:
            data = objects.get(key)
        except NotFound:
            continue  # gone since the listing: rewritten by an erasure, or moved aside
        try:
            rows = warehouse.prepare(facts.decode(data))
        except facts.FactError as error:
            _move_aside(objects, key, data, str(error))
            rejected.append(key)
            continue
        files.append(FactFile(key, size, rows))
    return files, rejected


def _move_aside(objects: ObjectStore, key: str, data: bytes, why: str) -> None:
    aside = layout.rejected_fact_key(key)
    log.error("fact object %s cannot be loaded (%s): moved to %s", key, why, aside)
    objects.put(aside, data, "application/gzip")
    objects.delete(key)


def _write(
    ctx: Context, files: Sequence[FactFile], load_id: str, *, replay: bool
) -> tuple[dict[str, int], list[FactFile]]:
    """Stage the files' rows, insert what is new, record the files: one transaction."""
    objects, warehouse = ctx.objects, ctx.warehouse
    with span("warehouse"), warehouse.load_session() as session:
        present = session.already_loaded([f.key for f in files])
        fresh = [f for f in files if f.key not in present]
        staged = files if replay else fresh
        if not staged:
            return {}, []
        if session.stages_by_copy:
            role = ctx.settings.redshift_copy_role_arn
            if not role:
                raise ConfigError("IMGPIPE_REDSHIFT_COPY_ROLE_ARN: Redshift loads need a role")
            session.stage_copy(_copy_manifest(objects, staged, load_id), role)
        else:
            session.stage_rows([row for f in staged for row in f.rows])
        rows = session.apply()
        session.record([(f.key, len(f.rows), f.size) for f in fresh], load_id)
    return rows, list(fresh)


def _copy_manifest(objects: ObjectStore, files: Sequence[FactFile], load_id: str) -> str:
    from core.repository.warehouse.sql import copy_manifest

    urls = [objects.location(f.key) for f in files]
    if not all(url.startswith("s3://") for url in urls):
        raise ConfigError("IMGPIPE_STORAGE_URL: Redshift loads COPY from S3 storage only")
    key = layout.load_manifest_key(load_id)
    objects.put(key, json.dumps(copy_manifest(urls)).encode(), "application/json")
    return objects.location(key)


def _age(key: str) -> float:
    try:
        return max(0.0, (utcnow() - layout.fact_written_at(key)).total_seconds())
    except ValueError:
        return 0.0  # a key not named by ingest: its age is unknown, not infinite


def lag_seconds(ctx: Context) -> float:
    """Age of the oldest fact object not loaded yet; 0 when the warehouse is up to date."""
    waiting = _waiting(ctx.objects, ctx.warehouse, ctx.settings, None)
    return _age(waiting[0][0]) if waiting else 0.0


class LoaderThread(Periodic):
    """Loads every `interval` seconds in a daemon thread until stopped; at once again while a
    load leaves work waiting; after a fault, later (with backoff). `last`: the latest report.
    Most loads look back RECENT_SECONDS for late facts; the first, and one every
    SWEEP_SECONDS, the whole settle window."""

    def __init__(
        self,
        ctx: Context,
        interval: float,
        *,
        on_report: Callable[[LoadReport], None] | None = None,
    ) -> None:
        super().__init__("loader", self._load, interval, log)
        self.ctx = ctx
        self.on_report = on_report
        self.last: LoadReport | None = None
        self._swept: float | None = None  # time.monotonic() of the last whole-window load

    def _load(self) -> bool:
        now = time.monotonic()
        sweep = self._swept is None or now - self._swept >= SWEEP_SECONDS
        report = load_once(self.ctx, look_back=None if sweep else RECENT_SECONDS)
        if sweep:
            self._swept = now  # after the load: a failed one is tried again in full
            from core.budget import give_back_memory  # here: the Lambda loader needs no Pillow

            give_back_memory()  # the window's pages are freed; glibc would keep them
        self.last = report
        if self.on_report:
            self.on_report(report)
        return bool(report.pending)
