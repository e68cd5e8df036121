"""Duplicates from the stream, on the real broker, moto S3 and PostgreSQL: the same picture with
other metadata is a `content` duplicate of the first image, whichever path sent it first; a
retried batch stays idempotent; another customer's same picture is their own image."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from core.layout import RENDITIONS
from services.stream_worker.batch import handle_event
from services.stream_worker.deadletter import BucketDeadLetters
from services.stream_worker.records import KafkaRecord, msk_event
from tests.harness.kafka import NewTopicFactory, Outgoing
from tests.integration.test_stream_worker import (  # noqa: F401 - the fixture, shared
    Stream,
    produced_then_read,
    stream,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "images"
CAMERA = (DATA / "camera-metadata.jpg").read_bytes()
CAMERA_EDITED = (DATA / "camera-metadata-edited.jpg").read_bytes()
PLAIN_PNG = (DATA / "plain.png").read_bytes()
PLAIN_PNG_WITH_TEXT = (DATA / "plain-with-text.png").read_bytes()


def raw(data: bytes, customer: str) -> Outgoing:
    return Outgoing(data, key=customer.encode(), headers=[("customer-id", customer)], partition=0)


def envelope(data: bytes, customer: str) -> Outgoing:
    value = json.dumps({"customer_id": customer, "image_base64": base64.b64encode(data).decode()})
    return Outgoing(value.encode(), headers=[("content-type", "application/json")], partition=0)


def rendition_keys(s3_client: Any, bucket: str) -> list[str]:
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix=RENDITIONS)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_stream_records_of_one_picture_are_content_and_exact_duplicates_of_the_first(
    stream: Stream,  # noqa: F811 - the fixture imported above
    new_topic: NewTopicFactory,
    s3_client: Any,
) -> None:
    topic = new_topic(partitions=1)
    sent = [
        raw(CAMERA, "acme"),
        raw(CAMERA_EDITED, "acme"),  # same picture, other metadata
        envelope(CAMERA, "acme"),  # same bytes
        raw(CAMERA_EDITED, "globex"),  # another customer
        envelope(PLAIN_PNG_WITH_TEXT, "acme"),
        raw(PLAIN_PNG, "acme"),  # PNG without its text chunks
    ]
    records = produced_then_read(stream.settings.kafka_bootstrap_servers, topic, sent)
    ctx = stream.context()

    def handle(record: KafkaRecord) -> None:  # one at a time: the order decides who is first
        response = handle_event(msk_event([record]), ctx, BucketDeadLetters(ctx.objects))
        assert response == {"batchItemFailures": []}

    for record in records:
        handle(record)
    renditions = rendition_keys(s3_client, stream.bucket)
    handle(records[1])  # a retried record: the same outcome, nothing new
    assert rendition_keys(s3_client, stream.bucket) == renditions
    assert len(renditions) == 3  # the acme photo, the globex photo, the acme PNG

    found = {
        row[0]: row[1:]
        for row in stream.rows(
            "select event_id, status, match, duplicate_of, image_id from ingest_events"
        )
    }
    assert len(found) == len(records)
    outcome = [found[r.coordinates] for r in records]
    photo, theirs, png = outcome[0][3], outcome[3][3], outcome[4][3]
    assert outcome == [
        ("processed", None, None, photo),
        ("duplicate", "content", photo, photo),
        ("duplicate", "exact", photo, photo),
        ("processed", None, None, theirs),
        ("processed", None, None, png),
        ("duplicate", "content", png, png),
    ]
    assert len({photo, theirs, png}) == 3
    images = stream.rows("select image_id, thumbhash, dominant_color, content_sha256 from images")
    assert len(images) == 3
    assert all(t and c and h for _, t, c, h in images)
    by_id = {row[0]: row[3] for row in images}
    assert by_id[photo] == by_id[theirs]  # the same picture, for two customers
