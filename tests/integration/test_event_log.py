"""The publisher's reading of the fact log, on the folder store: erasures become image.deleted,
vanished objects are skipped, late facts within the settle window are announced, and
`imgpipe events` prints the log's events without any sink."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import jsonschema
import pytest

from core import facts, layout
from core.config import Settings, get_settings
from core.events.cloudevents import Event, json_schema
from core.events.publisher import Cursor, Publisher, follow
from core.models import utcnow
from core.repository.objects import ObjectStore, open_object_store
from services.cli import main
from tests.integration.test_webhooks import event_row

ERASURE_ID = "01JE7R0B8W2C4D6E8F0G1H2J3K"


class Collecting:
    name = "collecting"

    def __init__(self) -> None:
        self.events: list[Event] = []

    def wants(self, event: Event) -> bool:
        return True

    def send(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


def put(objects: ObjectStore, rows: list[dict[str, Any]], key: str | None = None) -> str:
    key = key or facts.new_fact_key()
    objects.put(key, facts.encode(rows), facts.CONTENT_TYPE)
    return key


@pytest.fixture
def objects(folder_settings: Settings) -> ObjectStore:
    return open_object_store(folder_settings)


def test_an_erasure_fact_is_announced_as_image_deleted_with_the_erasure_id(
    objects: ObjectStore,
) -> None:
    put(objects, [event_row("e1", "acme")])
    put(
        objects,
        [
            {
                "kind": "erasure",
                "erasure_id": ERASURE_ID,
                "image_id": "img-e1",
                "customer_id": "acme",
                "requested_at": "2026-12-02T08:00:00+00:00",
            }
        ],
    )
    sink = Collecting()
    Publisher(objects, [sink]).publish_once()
    processed, deleted = sink.events
    assert processed.type == "com.imgpipe.image.processed" and processed.subject == "img-e1"
    assert deleted.type == "com.imgpipe.image.deleted"
    assert (deleted.id, deleted.subject, deleted.source) == (
        ERASURE_ID,
        "img-e1",
        "imgpipe/erasure",
    )
    doc = json.loads(deleted.to_bytes())
    jsonschema.validate(doc, json_schema())
    assert doc["data"] == {
        "erasure_id": ERASURE_ID,
        "image_id": "img-e1",
        "customer_id": "acme",
        "requested_at": "2026-12-02T08:00:00Z",
    }


def test_a_fact_object_gone_since_the_listing_is_skipped(objects: ObjectStore) -> None:
    put(objects, [event_row("e1", "acme")])
    gone = put(objects, [event_row("e2", "acme")])
    put(objects, [event_row("e3", "acme")])

    original = objects.get

    def get(key: str) -> bytes:
        if key == gone:
            objects.delete(gone)  # rewritten away by an erasure between listing and reading
        return original(key)

    objects.get = get  # type: ignore[method-assign]
    sink = Collecting()
    Publisher(objects, [sink]).publish_once()
    assert [e.id for e in sink.events] == ["e1", "e3"]


def test_a_fact_that_lands_late_within_the_settle_window_is_announced_once(
    objects: ObjectStore,
) -> None:
    now = utcnow()
    put(objects, [event_row("new", "acme")], facts.new_fact_key(now))
    sink = Collecting()
    publisher = Publisher(objects, [sink], settle_seconds=600)
    publisher.publish_once()
    # A writer with a slow clock stores a fact that sorts before the one announced.
    put(objects, [event_row("late", "acme")], facts.new_fact_key(now - timedelta(seconds=60)))
    publisher.publish_once()
    publisher.publish_once()
    assert [e.id for e in sink.events] == ["new", "late"]
    cursor = Cursor.parse(objects.get(layout.event_cursor_key(sink.name)))
    assert len(cursor.recent) == 2


def test_the_cursor_forgets_keys_older_than_the_settle_window(objects: ObjectStore) -> None:
    now = utcnow()
    for minutes in (30, 20, 0):
        put(
            objects,
            [event_row(f"e{minutes}", "acme")],
            facts.new_fact_key(now - timedelta(minutes=minutes)),
        )
    sink = Collecting()
    Publisher(objects, [sink], settle_seconds=300).publish_once()
    assert len(sink.events) == 3
    cursor = Cursor.parse(objects.get(layout.event_cursor_key(sink.name)))
    assert len(cursor.recent) == 1  # the two older than five minutes before the newest are gone


def test_a_run_takes_a_bounded_batch_and_says_more_is_waiting(objects: ObjectStore) -> None:
    for i in range(5):
        put(objects, [event_row(f"e{i}", "acme")])
    sink = Collecting()
    publisher = Publisher(objects, [sink], max_files=2)
    reports = [publisher.publish_once() for _ in range(4)]
    assert [r.pending for r in reports] == [True, True, False, False]
    assert [e.id for e in sink.events] == [f"e{i}" for i in range(5)]


def test_follow_yields_the_stored_events_then_new_ones(objects: ObjectStore) -> None:
    put(objects, [event_row("e1", "acme"), event_row("e2", "globex", "rejected")])
    seen: list[str] = []
    stream = follow(objects, interval=0.01, stop=lambda: len(seen) >= 3)
    for event in stream:
        seen.append(event.id)
        if len(seen) == 2:
            put(objects, [event_row("e3", "acme")])
    assert seen == ["e1", "e2", "e3"]


def test_events_command_prints_the_logs_events_as_json_lines(
    folder_settings: Settings,
    objects: ObjectStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put(objects, [event_row("e1", "acme"), event_row("e2", "acme", "duplicate")])
    monkeypatch.setenv("IMGPIPE_STORAGE_URL", folder_settings.storage_url)
    get_settings.cache_clear()
    try:
        assert main(["events"]) == 0
        assert main(["events", "--publish"]) == 2  # no sink configured: says so
    finally:
        get_settings.cache_clear()
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(doc["id"], doc["type"]) for doc in lines] == [
        ("e1", "com.imgpipe.image.processed"),
        ("e2", "com.imgpipe.image.duplicate"),
    ]
    for doc in lines:
        jsonschema.validate(doc, json_schema())
    assert "no event sink" in err
