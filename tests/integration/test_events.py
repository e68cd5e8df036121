"""Completion events end to end: uploads and stream records stored on moto S3, announced from
the fact log to EventBridge (moto: a rule targeting an SQS queue) and a results topic (the
broker), at least once, schema-valid, and none lost when a publisher fails mid-batch."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from confluent_kafka import Producer
from fastapi.testclient import TestClient

from core import facts, layout
from core.bootstrap import Context, build_context
from core.config import Settings
from core.events.cloudevents import Event, json_schema
from core.events.publisher import Publisher
from core.events.sinks import EventBridgeSink, KafkaSink
from core.repository.objects import ObjectStore
from services.stream_worker.batch import handle_event
from services.stream_worker.deadletter import BucketDeadLetters
from services.stream_worker.records import KafkaRecord, msk_event
from services.upload_api.app import create_app
from tests import images
from tests.harness.app import headers_for, key_pairs
from tests.harness.kafka import NewTopicFactory, Outgoing, produce, read_topic
from tests.harness.s3 import REGION, MakeSettings

SCHEMA = json_schema()


@pytest.fixture
def ctx(make_settings: MakeSettings, tmp_path: Path, kafka_bootstrap: str) -> Iterator[Context]:
    settings = make_settings(
        database_url=f"sqlite:///{tmp_path}/warehouse.db",
        api_keys=key_pairs(),
        renditions="thumb:64:jpeg:80",
        kafka_bootstrap_servers=kafka_bootstrap,
        load_interval_seconds=0,
    )
    context = build_context(settings)
    yield context
    context.close()


class Bus:
    """An EventBridge bus on moto with a rule that sends every imgpipe event to an SQS queue."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.events = boto3.client("events", endpoint_url=endpoint, region_name=REGION)
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        self.name = f"imgpipe-{uuid.uuid4().hex[:8]}"
        self.events.create_event_bus(Name=self.name)
        queue = self.sqs.create_queue(QueueName=f"{self.name}-q")
        self.queue_url = queue["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.events.put_rule(
            Name="all-images",
            EventBusName=self.name,
            EventPattern=json.dumps({"detail-type": [{"prefix": "com.imgpipe.image."}]}),
        )
        self.events.put_targets(
            Rule="all-images",
            EventBusName=self.name,
            Targets=[{"Id": "queue", "Arn": arn["Attributes"]["QueueArn"]}],
        )
        self.received: list[dict[str, Any]] = []

    def drain(self, wait: float = 1.0) -> list[dict[str, Any]]:
        """Everything the rule delivered so far: the EventBridge envelopes."""
        deadline = time.monotonic() + wait
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = answer.get("Messages", [])
            for message in messages:
                self.received.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            if not messages and time.monotonic() > deadline:
                return self.received

    def sink(self) -> EventBridgeSink:
        return EventBridgeSink(self.name, self.events)


@pytest.fixture
def bus(s3_endpoint: str) -> Bus:
    return Bus(s3_endpoint)


def ingest_events(objects: ObjectStore) -> dict[str, str]:
    """event id -> status of every ingest event in the fact log."""
    found = {}
    for key, _size in objects.scan(layout.FACTS):
        for row in facts.decode(objects.get(key)):
            if row["kind"] == "event":
                found[row["event_id"]] = row["status"]
    return found


def upload_some(ctx: Context, first: int = 0) -> None:
    """Three new images, one of them sent twice (a duplicate), and two refusals."""
    with TestClient(create_app(ctx=ctx), raise_server_exceptions=False) as client:
        for seed in range(first, first + 3):
            answer = client.post(
                "/v1/images",
                content=images.mosaic_jpeg(64, 64, seed=seed),
                headers={**headers_for("acme"), "Content-Type": "image/jpeg"},
            )
            assert answer.status_code == 201, answer.text
        again = client.post(
            "/v1/images",
            content=images.mosaic_jpeg(64, 64, seed=first),
            headers={**headers_for("acme"), "Content-Type": "image/jpeg"},
        )
        assert again.status_code == 200
        for body in (images.TEXT, images.SVG):
            refused = client.post(
                "/v1/images",
                content=body,
                headers={**headers_for("globex"), "Content-Type": "image/jpeg"},
            )
            assert refused.status_code in (415, 422), refused.text


def stream_some(ctx: Context, bootstrap: str, topic: str) -> None:
    """Four records of customer acme: two new images, the bytes of an upload (a duplicate:
    the same customer's image, whichever path it came by), and text (refused)."""
    jpeg = [("content-type", b"image/jpeg"), ("customer-id", b"acme")]
    records = [
        Outgoing(images.mosaic_jpeg(64, 64, seed=10), b"a", jpeg),
        Outgoing(images.mosaic_jpeg(64, 64, seed=11), b"b", jpeg),
        Outgoing(images.mosaic_jpeg(64, 64, seed=1), b"c", jpeg),  # uploaded before: duplicate
        Outgoing(images.TEXT, b"d", [("customer-id", b"acme")]),
    ]
    produce(bootstrap, topic, records)
    read = [KafkaRecord.from_message(m) for m in read_topic(bootstrap, topic, len(records))]
    answer = handle_event(msk_event(read), ctx, BucketDeadLetters(ctx.objects))
    assert answer == {"batchItemFailures": []}


def kafka_event(message: Any) -> dict[str, Any]:
    """A binary-mode record back to a structured CloudEvent."""
    headers = {name: value.decode() for name, value in message.headers() or []}
    doc: dict[str, Any] = {
        name.removeprefix("ce_"): value for name, value in headers.items() if name.startswith("ce_")
    }
    doc["datacontenttype"] = headers["content-type"]
    doc["data"] = json.loads(message.value())
    return doc


def valid(doc: dict[str, Any]) -> Event:
    jsonschema.validate(doc, SCHEMA)
    return Event.model_validate(doc)


def test_every_ingest_event_of_both_paths_arrives_on_eventbridge_and_the_results_topic(
    ctx: Context, bus: Bus, kafka_bootstrap: str, new_topic: NewTopicFactory
) -> None:
    upload_some(ctx)
    stream_some(ctx, kafka_bootstrap, new_topic(partitions=2))
    stored = ingest_events(ctx.objects)
    assert sorted(stored.values()).count("rejected") == 3
    assert "duplicate" in stored.values() and len(stored) == 10
    results = new_topic(partitions=3)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all"})
    publisher = Publisher(ctx.objects, [bus.sink(), KafkaSink(results, producer)])

    report = publisher.publish_once()
    assert report.events == {"eventbridge": 10, "kafka": 10} and not report.failed
    assert publisher.publish_once().events == {"eventbridge": 0, "kafka": 0}  # cursor moved

    envelopes = bus.drain()
    from_bus = [valid(envelope["detail"]) for envelope in envelopes]
    assert sorted(e.id for e in from_bus) == sorted(stored)
    assert {e.id: e.data.status for e in from_bus} == stored
    assert all(env["detail-type"] == env["detail"]["type"] for env in envelopes)
    from_topic = [valid(kafka_event(m)) for m in read_topic(kafka_bootstrap, results, 10)]
    assert sorted(e.id for e in from_topic) == sorted(stored)
    by_id = {e.id: e for e in from_topic}
    for event in from_bus:
        assert by_id[event.id] == event  # the same event in both sinks
        assert (event.subject is None) == (event.data.status == "rejected")
        expected_source = "imgpipe/api" if event.id.startswith("upload:") else "imgpipe/stream"
        assert event.source == expected_source


class FailsAfter:
    """A sink that passes the first `limit` events to the real one, then fails: a publisher that
    dies in the middle of a batch, after announcing part of it."""

    def __init__(self, sink: EventBridgeSink, limit: int) -> None:
        self.inner, self.limit = sink, limit
        self.name = sink.name

    def wants(self, event: Event) -> bool:
        return True

    def send(self, events: Sequence[Event]) -> None:
        self.inner.send(events[: self.limit])
        raise ConnectionError("the publisher died here")


def test_a_publisher_failing_after_a_partial_batch_loses_no_event(ctx: Context, bus: Bus) -> None:
    upload_some(ctx)
    stored = ingest_events(ctx.objects)
    broken = Publisher(ctx.objects, [FailsAfter(bus.sink(), limit=3)])
    report = broken.publish_once()
    assert report.failed == ("eventbridge",)
    assert len(bus.drain()) == 3
    assert not ctx.objects.exists(layout.event_cursor_key("eventbridge"))  # nothing passed

    upload_some(ctx, first=100)  # more stored while no publisher ran
    stored = ingest_events(ctx.objects)
    assert Publisher(ctx.objects, [bus.sink()]).publish_once().events == {"eventbridge": 12}
    ids = [e["detail"]["id"] for e in bus.drain()]
    assert set(ids) == set(stored)  # every one at least once; the first three twice
    assert len(ids) == len(stored) + 3


def test_refused_entries_are_sent_again_and_a_bus_that_is_gone_keeps_the_cursor(
    ctx: Context, bus: Bus
) -> None:
    upload_some(ctx)
    missing = EventBridgeSink("no-such-bus", bus.events, backoff=0.01)
    report = Publisher(ctx.objects, [missing]).publish_once()
    assert report.failed == ("eventbridge",)
    assert not ctx.objects.exists(layout.event_cursor_key("eventbridge"))
    assert Publisher(ctx.objects, [bus.sink()]).publish_once().events == {"eventbridge": 6}


def test_settings_name_the_sinks_and_a_served_app_publishes_beside_its_loader(
    ctx: Context, bus: Bus, s3_endpoint: str, kafka_bootstrap: str, new_topic: NewTopicFactory
) -> None:
    results = new_topic(partitions=1)
    settings: Settings = ctx.settings.model_copy(
        update={
            "events_bus_name": bus.name,
            "events_endpoint_url": s3_endpoint,
            "events_kafka_topic": results,
            "events_interval_seconds": 0.2,
        }
    )
    served = build_context(settings)
    try:
        app = create_app(ctx=served, background_loader=True)
        with TestClient(app, raise_server_exceptions=False) as client:
            answer = client.post(
                "/v1/images",
                content=images.mosaic_jpeg(64, 64, seed=42),
                headers={**headers_for("acme"), "Content-Type": "image/jpeg"},
            )
            assert answer.status_code == 201
        # Leaving the app stopped the publisher after one last run: the event is out.
        envelopes = bus.drain()
        assert [valid(e["detail"]).subject for e in envelopes] == [answer.json()["id"]]
        assert [m.key() for m in read_topic(kafka_bootstrap, results, 1)] == [
            answer.json()["id"].encode()
        ]
    finally:
        served.close()


def run_loader_lambda(
    ctx: Context, bus: Bus, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, **env: str
) -> dict[str, Any]:
    """The scheduled loader's handler, imported afresh in this process with `ctx`'s stores,
    `bus` and `env` as its settings, as Lambda would start it; its summary."""
    import importlib
    import sys

    import core.bootstrap
    from core.config import get_settings

    settings = ctx.settings
    for name, value in {
        "AWS_LAMBDA_FUNCTION_NAME": "imgpipe-loader",
        "IMGPIPE_DATABASE_URL": settings.database_url,
        "IMGPIPE_STORAGE_URL": settings.storage_url,
        "IMGPIPE_S3_ENDPOINT_URL": s3_endpoint,
        "IMGPIPE_AWS_REGION": REGION,
        "IMGPIPE_EVENTS_BUS_NAME": bus.name,
        "IMGPIPE_EVENTS_ENDPOINT_URL": s3_endpoint,
        **env,
    }.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("services.loader.lambda_handler", None)
    get_settings.cache_clear()
    monkeypatch.setattr(core.bootstrap, "_default", None)
    try:
        loader = importlib.import_module("services.loader.lambda_handler")
        summary: dict[str, Any] = loader.handler({}, None)
    finally:
        sys.modules.pop("services.loader.lambda_handler", None)
        get_settings.cache_clear()
    return summary


def test_the_scheduled_loader_lambda_announces_to_the_bus_before_it_loads(
    ctx: Context, bus: Bus, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_some(ctx)
    summary = run_loader_lambda(ctx, bus, s3_endpoint, monkeypatch)
    assert summary["events"] == {"events": {"eventbridge": 6}, "failed": [], "pending": False}
    assert summary["files"] == 6
    assert sorted(e["detail"]["id"] for e in bus.drain()) == sorted(ingest_events(ctx.objects))


def test_the_scheduled_loader_lambda_announces_on_a_results_topic_too(
    ctx: Context,
    bus: Bus,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    new_topic: NewTopicFactory,
) -> None:
    upload_some(ctx)
    stream_some(ctx, kafka_bootstrap, new_topic(partitions=1))
    stored = ingest_events(ctx.objects)
    results = new_topic(partitions=2)
    summary = run_loader_lambda(
        ctx,
        bus,
        s3_endpoint,
        monkeypatch,
        IMGPIPE_EVENTS_KAFKA_TOPIC=results,
        IMGPIPE_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
    )
    counts = {"eventbridge": len(stored), "kafka": len(stored)}
    assert summary["events"] == {"events": counts, "failed": [], "pending": False}
    from_topic = [
        valid(kafka_event(m)) for m in results_until(kafka_bootstrap, results, set(stored))
    ]
    assert sorted(e.id for e in from_topic) == sorted(stored)
    assert {e.id: e.data.status for e in from_topic} == stored


def results_until(bootstrap: str, topic: str, expected: set[str], timeout: float = 90) -> list[Any]:
    """Records of the results topic, read from the start until every expected id is among them."""
    from confluent_kafka import Consumer, TopicPartition

    from tests.harness.kafka import partitions_of

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"r-{uuid.uuid4().hex[:8]}"}
        | {"enable.auto.commit": False, "fetch.wait.max.ms": 20}
    )
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions_of(bootstrap, topic)])
        messages: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages += [m for m in consumer.consume(50, timeout=0.5) if m.error() is None]
            if expected <= {kafka_event(m)["id"] for m in messages}:
                break
        return messages
    finally:
        consumer.close()


@pytest.mark.slow
def test_imgpipe_consume_announces_each_record_on_the_results_topic_even_when_killed(
    ctx: Context, kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.harness.kafka import TEST_CONSUMER_CONFIG

    topic, results = new_topic(partitions=2), new_topic(partitions=2)
    jpeg = [("content-type", b"image/jpeg")]
    records = [Outgoing(images.mosaic_jpeg(64, 64, seed=i % 8), None, jpeg) for i in range(12)]
    records += [Outgoing(images.TEXT, None), Outgoing(images.SVG, None)]
    produce(kafka_bootstrap, topic, records)
    sent = read_topic(kafka_bootstrap, topic, len(records))
    expected = {f"{topic}:{m.partition()}:{m.offset()}" for m in sent}
    settings = ctx.settings
    env = {
        **os.environ,
        "IMGPIPE_DATABASE_URL": settings.database_url,
        "IMGPIPE_STORAGE_URL": settings.storage_url,
        "IMGPIPE_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
        "IMGPIPE_AWS_REGION": REGION,
        "IMGPIPE_RENDITIONS": "thumb:64:jpeg:80",
        "IMGPIPE_KAFKA_CONSUMER_CONFIG": json.dumps(TEST_CONSUMER_CONFIG),
        "IMGPIPE_KAFKA_BATCH_WINDOW_MS": "100",
        # Nothing listens here: the results producer must use --bootstrap-servers, as the
        # consumer and the dead letters do.
        "IMGPIPE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "IMGPIPE_EVENTS_KAFKA_TOPIC": results,
        "IMGPIPE_EVENTS_INTERVAL_SECONDS": "0.2",
    }
    command = [sys.executable, "-m", "services.cli", "consume", "--bootstrap-servers"]
    command += [kafka_bootstrap, "--topic", topic, "--group-id", "announcer", "--batch-size", "3"]
    log = tmp_path / "consume.log"

    def start() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    first = start()
    try:
        deadline = time.monotonic() + 90
        while not ctx.objects.scan(layout.FACTS) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ctx.objects.scan(layout.FACTS), log.read_text()
    finally:
        first.send_signal(signal.SIGKILL)  # stored some, announced some or none
        first.wait(timeout=30)
    second = start()
    try:
        messages = results_until(kafka_bootstrap, results, expected)
    finally:
        second.send_signal(signal.SIGKILL)
        second.wait(timeout=30)
    events = [valid(kafka_event(m)) for m in messages]
    assert {e.id for e in events} == expected
    statuses = {e.id: e.data.status for e in events}
    assert sorted(statuses.values()).count("rejected") == 2
    assert sorted(statuses.values()).count("processed") == 8
    assert sorted(statuses.values()).count("duplicate") == 4
    assert all(e.source == "imgpipe/stream" for e in events)
