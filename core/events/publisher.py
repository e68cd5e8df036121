"""The event publisher: fact objects after a sink's cursor, as events, to the sink; an outbox.

Each sink has a cursor object in storage (events/cursors/): the newest fact key announced, and
the keys announced within the settle window before it (a fact may land after a newer one, as
the loader knows). A cursor moves only after its sink took every event of the fact objects it
passes, so delivery is at least once: a crash between storing a fact and announcing it, or in
the middle of a batch, announces it (again) on the next run; nothing is announced that was not
stored. Sinks are independent: a webhook that is down holds back only its own cursor.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from core import facts, layout
from core.errors import NotFound, TransientError
from core.events.cloudevents import Event, events_of

if TYPE_CHECKING:
    from core.repository.objects import ObjectStore

log = logging.getLogger("imgpipe.events")


class Sink(Protocol):
    """Somewhere events go. `send` returns only when the sink has every event it was given
    (raising TransientError, or any error, otherwise)."""

    @property
    def name(self) -> str: ...

    def wants(self, event: Event) -> bool: ...

    def send(self, events: Sequence[Event]) -> None: ...


@dataclass
class Cursor:
    after: str | None = None  # the newest fact key announced
    recent: set[str] = field(default_factory=set)  # announced keys within the settle window

    @classmethod
    def parse(cls, data: bytes) -> Cursor:
        doc = json.loads(data)
        return cls(doc.get("after"), set(doc.get("recent", [])))

    def dump(self) -> bytes:
        return json.dumps({"after": self.after, "recent": sorted(self.recent)}).encode()


@dataclass(frozen=True, slots=True)
class PublishReport:
    events: dict[str, int]  # events sent, by sink
    failed: tuple[str, ...] = ()  # sinks that did not take their batch
    pending: bool = False  # a sink has more waiting than one run takes


def start_of(after: str | None, settle_seconds: float) -> str | None:
    """Where a listing of facts not yet announced starts: the settle window before `after`."""
    if after is None:
        return None
    written = layout.ulid_time(after.rsplit("/", 1)[-1].split(".", 1)[0])
    return layout.fact_key(layout.ulid_floor(written - timedelta(seconds=settle_seconds)))


class FactReader:
    """Fact objects' events, each object read once per run however many sinks want it."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects
        self._cache: dict[str, list[Event] | None] = {}

    def events(self, key: str) -> list[Event] | None:
        """The object's events; None when it is gone (rewritten by an erasure, moved aside)."""
        if key not in self._cache:
            try:
                self._cache[key] = events_of(facts.decode(self.objects.get(key)))
            except NotFound:
                self._cache[key] = None
            except facts.FactError as error:
                log.error("fact object %s is not one (%s): no events from it", key, error)
                self._cache[key] = []
        return self._cache[key]


class Publisher:
    """Announces the fact log to sinks, each from its own cursor."""

    def __init__(
        self,
        objects: ObjectStore,
        sinks: Sequence[Sink],
        *,
        settle_seconds: float = 600.0,
        max_files: int = 200,
    ) -> None:
        self.objects = objects
        self.sinks = list(sinks)
        self.settle_seconds = settle_seconds
        self.max_files = max_files

    def publish_once(self) -> PublishReport:
        reader = FactReader(self.objects)
        sent: dict[str, int] = {}
        failed: list[str] = []
        pending = False
        for sink in self.sinks:
            try:
                count, more = self._publish(sink, reader)
            except Exception as error:  # one sink's failure holds back only its cursor
                failed.append(sink.name)
                detail = error.detail if isinstance(error, TransientError) else repr(error)
                log.warning(
                    "events to %s not delivered, kept for the next run: %s", sink.name, detail
                )
                continue
            sent[sink.name] = count
            pending = pending or more
        return PublishReport(sent, tuple(failed), pending)

    def _publish(self, sink: Sink, reader: FactReader) -> tuple[int, bool]:
        cursor_key = layout.event_cursor_key(sink.name)
        cursor = self._cursor(cursor_key)
        start = start_of(cursor.after, self.settle_seconds)
        listed = self.objects.scan(
            layout.FACTS, start_after=start, limit=len(cursor.recent) + self.max_files + 1
        )
        waiting = [key for key, _size in listed if key not in cursor.recent]
        batch, more = waiting[: self.max_files], len(waiting) > self.max_files
        if not batch:
            return 0, False
        events = [
            event for key in batch for event in (reader.events(key) or []) if sink.wants(event)
        ]
        if events:
            sink.send(events)
        newest = max([*batch, cursor.after or ""])
        floor = start_of(newest, self.settle_seconds) or ""
        recent = {key for key in cursor.recent | set(batch) if key > floor}
        self.objects.put(cursor_key, Cursor(newest, recent).dump(), "application/json")
        return len(events), more

    def _cursor(self, key: str) -> Cursor:
        try:
            return Cursor.parse(self.objects.get(key))
        except NotFound:
            return Cursor()


def follow(
    objects: ObjectStore,
    *,
    start_after: str | None = None,
    settle_seconds: float = 600.0,
    interval: float = 1.0,
    forever: bool = True,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[Event]:
    """Every event of the fact log after `start_after`, then (forever) each new one as it is
    stored: what `imgpipe events --follow` prints. Keeps its cursor in memory only."""
    cursor = Cursor(None, set())
    first = start_after
    while not stop():
        start = start_of(cursor.after, settle_seconds) if cursor.after else first
        listed = objects.scan(layout.FACTS, start_after=start)
        fresh = [key for key, _size in listed if key not in cursor.recent]
        reader = FactReader(objects)
        for key in fresh:
            yield from reader.events(key) or []
        if fresh:
            newest = max([*fresh, cursor.after or ""])
            floor = start_of(newest, settle_seconds) or ""
            cursor = Cursor(newest, {k for k in cursor.recent | set(fresh) if k > floor})
        if not forever:
            return
        time.sleep(interval)


def describe(report: PublishReport) -> dict[str, Any]:
    return {"events": report.events, "failed": list(report.failed), "pending": report.pending}
