"""Sealing an erasure: its fact, the last stored thing naming the image, deleted once spent.

An erasure's fact names the image id: the loader applies it, the publisher announces it as
image.deleted, and a fact of the image that lands late (within the settle window) meets it.
Once the settle windows have passed, the warehouse has loaded it (its `erasures` table keeps
the id from then on) and every event sink's cursor has passed it, it has done all of that. The
seal then rewrites once more the facts written around the erasure (a writer stalled across it
may have landed one naming the image), and deletes the fact and its record. Run by full loads
(`imgpipe load`, the scheduled loader, the serve loader's sweep); until then the receipt says
it is scheduled. A sink whose cursor no longer moves holds the seal until the fact log expires.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core import facts, layout
from core.erasure_scan import Traces, rewrite_facts
from core.errors import NotFound, TransientError
from core.events.publisher import Cursor, start_of
from core.models import moment, utcnow

if TYPE_CHECKING:
    from core.bootstrap import Context
    from core.repository.objects import ObjectStore

log = logging.getLogger("imgpipe.erasure")


@dataclass(frozen=True, slots=True)
class SealReport:
    sealed: int = 0  # erasure facts deleted
    waiting: int = 0  # erasure facts not yet loaded, announced or settled


def note_unsealed(objects: ObjectStore, erasure_id: str, fact_key: str) -> None:
    """Record an erasure's fact as one to seal. The record names the fact, not the image."""
    body = json.dumps({"erasure_id": erasure_id, "fact_key": fact_key}).encode()
    key = layout.erasure_fact_record_key(fact_key)
    objects.put(key, body, "application/json", layout.RECORD_CACHE_CONTROL)


def seal_erasures(ctx: Context, now: datetime | None = None) -> SealReport:
    """Seal every erasure whose fact is spent; the others wait for a later run. A fault of
    storage or the warehouse leaves an erasure for the next run and does not raise."""
    objects, settings = ctx.objects, ctx.settings
    now = now or utcnow()
    settle = max(settings.load_settle_seconds, settings.events_settle_seconds)
    sealed = waiting = 0
    try:
        records = objects.keys(layout.ERASURE_FACTS)
        cursors = [] if not records else _cursors(objects)
        for record in records:
            fact_key = _fact_of(objects, record)
            if fact_key is None:
                continue
            settled = layout.fact_written_at(fact_key) + timedelta(seconds=settle) < now
            if not settled or not _spent(ctx, fact_key, cursors):
                waiting += 1
                continue
            _seal(ctx, fact_key, settle)
            objects.delete(record)
            sealed += 1
    except TransientError as error:
        log.warning("erasures not sealed, left for the next load: %s", error.detail)
    if sealed:
        log.info("sealed %d erasure facts; %d waiting", sealed, waiting)
    return SealReport(sealed, waiting)


def _fact_of(objects: ObjectStore, record: str) -> str | None:
    try:
        doc: dict[str, Any] = json.loads(objects.get(record))
        fact_key = doc["fact_key"]
        layout.fact_written_at(fact_key)
    except NotFound:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):
        log.error("erasure record %s is not one: deleted", record)
        objects.delete(record)
        return None
    return str(fact_key)


def _cursors(objects: ObjectStore) -> list[Cursor]:
    found = []
    for key in objects.keys(layout.EVENT_CURSORS):
        try:
            found.append(Cursor.parse(objects.get(key)))
        except NotFound:
            continue
        except (ValueError, AttributeError):
            found.append(Cursor())  # unreadable: its sink may not have announced anything
    return found


def _spent(ctx: Context, fact_key: str, cursors: list[Cursor]) -> bool:
    """Loaded, and announced by every sink (a cursor that will not list it again has)."""
    if fact_key not in ctx.warehouse.loaded_among([fact_key]):
        return False
    settle = ctx.settings.events_settle_seconds
    for cursor in cursors:
        passed = (start_of(cursor.after, settle) or "") >= fact_key
        if not (fact_key in cursor.recent or passed):
            return False
    return True


def _seal(ctx: Context, fact_key: str, settle: int) -> None:
    objects = ctx.objects
    try:
        rows = facts.decode(objects.get(fact_key))
    except NotFound:
        return  # expired with the fact log, or sealed by another loader
    except facts.FactError:
        rows = []
    written = layout.fact_written_at(fact_key)
    for row in rows:
        if row.get("kind") != "erasure" or not row.get("image_id"):
            continue
        requested = moment(row.get("requested_at")) or written
        traces = Traces(str(row["image_id"]), "", row.get("customer_id"))
        since = layout.fact_key(layout.ulid_floor(requested - timedelta(seconds=settle)))
        until = layout.fact_key(layout.ulid_floor(written + timedelta(seconds=settle + 1)))
        rewrite_facts(objects, layout.FACTS, traces, since, until)
    objects.delete(fact_key)
