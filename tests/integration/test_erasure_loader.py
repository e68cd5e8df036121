"""Erasure and the fact log on real stores and databases (folder + SQLite, moto S3 +
PostgreSQL): facts rewritten without the image, the loader applying the erasure whenever rows
of the image arrive (before it, in the same load, late, in a replay), a re-upload loading as a
new image, and image.deleted announced from the erasure fact."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from core import facts, layout
from core.erasure import erase_image
from core.erasure_seal import seal_erasures
from core.events.publisher import Publisher
from core.ingest import ingest, ingest_batch
from core.loader import load_once
from core.models import IngestResult, utcnow
from tests.integration.test_event_log import Collecting
from tests.integration.test_loader import Stack, _photos, _request
from tests.integration.test_loader import stack as stack  # noqa: PLC0414 - the fixture, shared


def rows_of_image(stack: Stack, table: str, image_id: str) -> int:
    with stack.ctx.warehouse.engine.connect() as conn:  # type: ignore[attr-defined]
        query = sa.text(f"select count(*) from {table} where image_id = :i")
        return int(conn.execute(query, {"i": image_id}).scalar_one())


def linked_events(stack: Stack, image_id: str) -> int:
    with stack.ctx.warehouse.engine.connect() as conn:  # type: ignore[attr-defined]
        query = sa.text(
            "select count(*) from ingest_events where image_id = :i or duplicate_of = :i"
        )
        return int(conn.execute(query, {"i": image_id}).scalar_one())


def all_fact_rows(stack: Stack) -> list[facts.Row]:
    return [row for key in stack.facts() for row in facts.decode(stack.ctx.objects.get(key))]


def test_an_erasure_rewrites_the_facts_and_the_next_load_removes_the_images_rows(
    stack: Stack,
) -> None:
    erased, kept = _photos(2, seed=40)
    first = ingest(_request(erased), stack.ctx)
    ingest_batch([_request(kept), _request(erased)], stack.ctx)  # a duplicate beside another
    load_once(stack.ctx)
    image_id = str(first.image_id)
    assert rows_of_image(stack, "images", image_id) == 1
    assert stack.count("ingest_events") == 3

    receipt = erase_image(first.image_id, "acme", stack.ctx)  # type: ignore[arg-type]

    assert (receipt.facts.rows_removed, receipt.facts.events_unlinked) == (4, 2)
    rows = all_fact_rows(stack)
    named = [row for row in rows if image_id in str(row)]
    assert [row["kind"] for row in named] == ["erasure"]
    events = [row for row in rows if row["kind"] == "event"]
    assert len(events) == 3 and sum(row["image_id"] is None for row in events) == 2
    ingest(_request(kept), stack.ctx)  # the other image is in the same load: it must stay
    report = load_once(stack.ctx)
    assert report.rows["erased_images"] == 1 and report.rows["unlinked_events"] == 2
    assert rows_of_image(stack, "images", image_id) == 0
    assert rows_of_image(stack, "renditions", image_id) == 0
    assert linked_events(stack, image_id) == 0
    assert stack.count("ingest_events") == 4  # the statistics stay
    assert stack.count("images") == 1 and stack.count("renditions") == 1


def test_an_image_erased_before_any_load_never_shows_and_a_late_fact_of_it_is_erased_too(
    stack: Stack,
) -> None:
    photo = _photos(1, seed=50)[0]
    results = ingest_batch([_request(photo)], stack.ctx)
    image_id = str(results[0].image_id)
    erase_image(results[0].image_id, None, stack.ctx)  # type: ignore[arg-type]
    load_once(stack.ctx)
    assert rows_of_image(stack, "images", image_id) == 0
    # The facts of an attempt that found the image just before the erasure, landing after it
    # was loaded: the image row is not inserted, its rendition goes in the same load (its
    # event is the one loaded before, unlinked already).
    late_at = utcnow() + timedelta(seconds=1)
    late = layout.fact_key(layout.new_ulid(late_at))
    stack.ctx.objects.put(late, facts.encode(facts.rows_of(results)), facts.CONTENT_TYPE)
    report = load_once(stack.ctx)
    assert report.files == 1 and report.rows["images"] == 0
    assert report.rows["erased_renditions"] == 1 and "unlinked_events" not in report.rows
    assert rows_of_image(stack, "images", image_id) == 0
    assert rows_of_image(stack, "renditions", image_id) == 0
    assert linked_events(stack, image_id) == 0


def test_the_same_bytes_after_an_erasure_load_as_a_new_image_even_in_a_replay(
    stack: Stack,
) -> None:
    photo = _photos(1, seed=60)[0]
    first: IngestResult = ingest(_request(photo), stack.ctx)
    load_once(stack.ctx)
    erase_image(first.image_id, "acme", stack.ctx)  # type: ignore[arg-type]
    again = ingest(_request(photo), stack.ctx)
    assert again.status == "processed" and again.image_id == first.image_id
    load_once(stack.ctx)
    image_id = str(first.image_id)
    assert rows_of_image(stack, "images", image_id) == 1
    assert linked_events(stack, image_id) == 1  # the new upload's event, not the erased one's

    report = load_once(stack.ctx, replay_after="")  # the whole log again
    assert report.files == 0  # nothing new; rows already present stay single
    assert rows_of_image(stack, "images", image_id) == 1
    assert rows_of_image(stack, "renditions", image_id) == 1
    assert stack.count("ingest_events") == 2


def test_the_publisher_announces_an_erasure_as_image_deleted_and_no_event_of_the_erased_image(
    stack: Stack,
) -> None:
    photo = _photos(1, seed=70)[0]
    result = ingest(_request(photo), stack.ctx)
    receipt = erase_image(result.image_id, "acme", stack.ctx)  # type: ignore[arg-type]
    sink = Collecting()
    Publisher(stack.ctx.objects, [sink]).publish_once()
    (deleted,) = sink.events  # the processed event lost its image: nothing to announce of it
    assert deleted.type == "com.imgpipe.image.deleted"
    assert (deleted.id, deleted.subject) == (receipt.erasure_id, str(result.image_id))
    assert deleted.data.customer_id == "acme"


def test_sealing_rewrites_a_late_fact_of_the_image_and_deletes_the_erasure_fact(
    stack: Stack,
) -> None:
    photo, other = _photos(2, seed=80)
    results = ingest_batch([_request(photo), _request(other)], stack.ctx)
    image_id = str(results[0].image_id)
    receipt = erase_image(results[0].image_id, "acme", stack.ctx)  # type: ignore[arg-type]
    # A writer stalled across the whole erasure lands the image's facts after it.
    late = layout.fact_key(layout.new_ulid(utcnow() + timedelta(seconds=1)))
    stack.ctx.objects.put(late, facts.encode(facts.rows_of(results[:1])), facts.CONTENT_TYPE)
    load_once(stack.ctx)
    load_once(stack.ctx)  # the late fact, if listed after the erasure's
    assert image_id in str(facts.decode(stack.ctx.objects.get(late)))
    assert rows_of_image(stack, "images", image_id) == 0  # the warehouse's erasures hold it off

    settled = utcnow() + timedelta(seconds=stack.ctx.settings.load_settle_seconds + 2)
    sealed = seal_erasures(stack.ctx, now=settled)  # no event sink has a cursor here

    assert sealed.sealed == 1
    assert not stack.ctx.objects.exists(receipt.erasure_fact)
    assert not any(image_id in str(row) for row in all_fact_rows(stack))
    assert [row["kind"] for row in facts.decode(stack.ctx.objects.get(late))] == ["event"]
    report = load_once(stack.ctx, replay_after="")  # the whole log again: it stays erased
    assert report.rows.get("images", 0) == 0
    assert rows_of_image(stack, "images", image_id) == 0
    assert rows_of_image(stack, "images", str(results[1].image_id)) == 1
