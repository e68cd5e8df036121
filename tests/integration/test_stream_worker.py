"""The stream worker end to end: a real Kafka-protocol broker, PostgreSQL and S3 on moto."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from core.bootstrap import Context, build_context
from core.config import Settings, load_settings
from core.errors import ErrorCode, TransientError
from core.loader import load_once
from core.repository.migrations import upgrade
from services.stream_worker.batch import handle_event
from services.stream_worker.consumer import StreamConsumer
from services.stream_worker.deadletter import (
    ERROR_CODE,
    ERROR_DETAIL,
    SOURCE_OFFSET,
    SOURCE_PARTITION,
    SOURCE_TOPIC,
    BucketDeadLetters,
    TopicDeadLetters,
)
from services.stream_worker.kafka_config import produce_blocking, producer_config
from services.stream_worker.records import KafkaRecord, msk_event
from tests import images
from tests.harness.kafka import (
    TEST_CONSUMER_CONFIG,
    Kcat,
    NewTopicFactory,
    Outgoing,
    TansuBroker,
    committed,
    create_topic,
    produce,
    read_topic,
)
from tests.harness.process import python_child
from tests.harness.proxy import FaultProxy, free_port
from tests.harness.s3 import MakeSettings

ROOT = Path(__file__).resolve().parents[2]


# -- set-up ----------------------------------------------------------------------------------


@dataclass
class Stream:
    """What a stream test works with: settings on PostgreSQL + moto + the broker, and the
    warehouse's rows once the loader has loaded what the stream stored."""

    settings: Settings
    database_url: str
    bucket: str
    source_bucket: str

    def context(self) -> Context:
        return build_context(self.settings)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        settings = self.settings.model_copy(update={"database_url": self.database_url})
        load_once(_loading_context(settings))
        url = make_url(self.database_url).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
            return list(conn.execute(sql).fetchall())

    def count(self, sql: str) -> int:
        return int(self.rows(sql)[0][0])

    def events(self) -> int:
        return self.count("select count(*) from ingest_events")

    def statuses(self) -> dict[str, int]:
        return dict(self.rows("select status, count(*) from ingest_events group by status"))

    def assert_each_event_once(self) -> None:
        total, distinct = self.rows("select count(*), count(distinct event_id) from ingest_events")[
            0
        ]
        assert total == distinct, f"{total - distinct} events recorded twice"
        images_, distinct_images = self.rows(
            "select count(*), count(distinct image_id) from images"
        )[0]
        assert images_ == distinct_images, "an image recorded twice"


_contexts: dict[str, Context] = {}


def _loading_context(settings: Settings) -> Context:
    """One Context per test set-up for the loader (a loader process of its own)."""
    key = settings.model_dump_json()
    if key not in _contexts:
        _contexts.clear()
        _contexts[key] = build_context(settings)
    return _contexts[key]


@pytest.fixture
def stream(
    make_settings: MakeSettings,
    s3_client: Any,
    s3_bucket: str,
    postgres_url: str,
    kafka_bootstrap: str,
) -> Stream:
    source_bucket = f"{s3_bucket}-src"
    s3_client.create_bucket(Bucket=source_bucket)
    upgrade(postgres_url)
    settings = make_settings(
        database_url=postgres_url,
        renditions="thumb:64:jpeg:80",
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_consumer_config=TEST_CONSUMER_CONFIG,
        kafka_batch_window_ms=200,
        kafka_retry_backoff_max_seconds=2,
        stream_allowed_buckets=[source_bucket],
        ingest_workers=2,
    )
    return Stream(settings, postgres_url, s3_bucket, source_bucket)


def with_database(stream: Stream, database_url: str) -> Stream:
    settings = stream.settings.model_copy(update={"database_url": database_url})
    return Stream(settings, stream.database_url, stream.bucket, stream.source_bucket)


def storage_via(stream: Stream, proxy: FaultProxy) -> Settings:
    """The stream's settings with object storage reached through `proxy`."""
    return stream.settings.model_copy(update={"s3_endpoint_url": f"http://{proxy.address}"})


def wait_until(condition: Callable[[], bool], timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not reached within {timeout} s: {what}")


def good_image(seed: int) -> bytes:
    return images.mosaic_jpeg(64, 64, seed=seed, quality=80)


def poison(kind: int, seed: int, forbidden_bucket: str) -> Outgoing:
    """A record no worker can store, each of a different kind."""
    json_type = [("content-type", b"application/json")]
    kinds = [
        Outgoing(images.TEXT + str(seed).encode(), b"text"),
        Outgoing(images.truncated(good_image(10_000 + seed)), b"truncated"),
        Outgoing(b'{"image_base64": ', b"bad-json", json_type),
        Outgoing(
            json.dumps({"image_s3_uri": f"s3://{forbidden_bucket}/x-{seed}.jpg"}).encode(),
            b"forbidden",
            json_type,
        ),
        Outgoing(json.dumps({"image_base64": "*not base64*"}).encode(), b"bad-b64", json_type),
    ]
    return kinds[kind % len(kinds)]


def mixed_records(
    count: int, poison_every: int, *, forbidden_bucket: str = "elsewhere"
) -> list[Outgoing]:
    records = []
    for i in range(count):
        if i % poison_every == poison_every - 1:
            records.append(poison(i // poison_every, i, forbidden_bucket))
        else:
            records.append(
                Outgoing(
                    good_image(i),
                    f"img-{i}".encode(),
                    [("content-type", b"image/jpeg"), ("customer-id", "kunde-ü".encode())],
                )
            )
    return records


class Running:
    """A StreamConsumer on a thread of its own."""

    def __init__(self, consumer: StreamConsumer) -> None:
        self.consumer = consumer
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.consumer.run()
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self) -> None:
        self.consumer.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the consumer did not stop"
        if self.error is not None:
            raise self.error


@pytest.fixture
def run_consumer(stream: Stream) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(
        topic: str,
        group: str,
        *,
        dlq_topic: str | None = None,
        settings: Settings | None = None,
        **options: Any,
    ) -> Running:
        settings = settings or stream.settings
        ctx = build_context(settings)
        dead_letters = (
            TopicDeadLetters(settings, dlq_topic, ctx.objects)
            if dlq_topic
            else BucketDeadLetters(ctx.objects)
        )
        consumer = StreamConsumer(
            ctx, dead_letters, topics=[topic], group_id=group, log_interval=2.0, **options
        )
        running = Running(consumer)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.consumer.stop()
            running.thread.join(timeout=30)


def produced_then_read(bootstrap: str, topic: str, records: list[Outgoing]) -> list[KafkaRecord]:
    """The records as the broker hands them out, in the neutral form."""
    produce(bootstrap, topic, records)
    return [KafkaRecord.from_message(m) for m in read_topic(bootstrap, topic, len(records))]


# -- the Lambda handler ----------------------------------------------------------------------


def reported_failures(response: dict[str, Any]) -> list[tuple[str, int]]:
    """(topic-partition, offset) of each batchItemFailures entry, in Kafka's object form."""
    return sorted(
        (f["itemIdentifier"]["partition"], f["itemIdentifier"]["offset"])
        for f in response["batchItemFailures"]
    )


def first_offsets(records: list[KafkaRecord]) -> list[tuple[str, int]]:
    """Each partition's first offset in the records, as Lambda must be told to resume."""
    firsts: dict[str, int] = {}
    for record in records:
        key = record.topic_partition
        firsts[key] = min(record.offset, firsts.get(key, record.offset))
    return sorted(firsts.items())


def test_lambda_handler_stores_broker_records_and_dead_letters_the_bad_in_the_bucket(
    stream: Stream, new_topic: NewTopicFactory, s3_client: Any
) -> None:
    topic = new_topic(partitions=2)
    records = produced_then_read(
        stream.settings.kafka_bootstrap_servers, topic, mixed_records(20, 5)
    )
    ctx = stream.context()

    response = handle_event(msk_event(records), ctx, BucketDeadLetters(ctx.objects))

    assert response == {"batchItemFailures": []}
    assert stream.statuses() == {"processed": 16, "rejected": 4}
    assert stream.rows("select distinct customer_id from images") == [("kunde-ü",)]
    bad = [r for r in records if r.key in {b"text", b"truncated", b"bad-json", b"forbidden"}]
    for record in bad:
        key = f"dead-letter/{record.topic}/{record.partition}/{record.offset}.json"
        letter = json.loads(s3_client.get_object(Bucket=stream.bucket, Key=key)["Body"].read())
        assert base64.b64decode(letter["value"]) == record.value
        assert base64.b64decode(letter["key"]) == record.key
        assert letter["event_id"] == record.coordinates
        assert letter["error"]["code"] in {c.value for c in ErrorCode}
    reasons = dict(
        stream.rows("select event_id, reason from ingest_events where status = 'rejected'")
    )
    by_key = {r.key: reasons[r.coordinates] for r in bad}
    assert by_key == {
        b"text": "unsupported_format",
        b"truncated": "undecodable",
        b"bad-json": "malformed_record",
        b"forbidden": "forbidden_source",
    }


def test_lambda_handler_retried_batch_makes_no_second_row(
    stream: Stream, new_topic: NewTopicFactory
) -> None:
    topic = new_topic(partitions=2)
    records = produced_then_read(
        stream.settings.kafka_bootstrap_servers, topic, mixed_records(10, 5)
    )
    ctx = stream.context()
    event = msk_event(records)

    handle_event(event, ctx, BucketDeadLetters(ctx.objects))
    handle_event(event, ctx, BucketDeadLetters(ctx.objects))

    assert stream.statuses() == {"processed": 8, "rejected": 2}
    stream.assert_each_event_once()


def test_lambda_handler_names_each_partitions_first_offset_when_storage_is_down(
    stream: Stream, new_topic: NewTopicFactory, s3_proxy: FaultProxy
) -> None:
    topic = new_topic(partitions=3)
    records = produced_then_read(
        stream.settings.kafka_bootstrap_servers,
        topic,
        [Outgoing(good_image(i), partition=i % 3) for i in range(9)],
    )
    ctx = build_context(storage_via(stream, s3_proxy))
    event = msk_event(records)

    with s3_proxy.down():
        response = handle_event(event, ctx, BucketDeadLetters(ctx.objects))
    assert reported_failures(response) == first_offsets(records)
    assert stream.events() == 0

    assert handle_event(event, ctx, BucketDeadLetters(ctx.objects)) == {"batchItemFailures": []}
    assert stream.statuses() == {"processed": 9}


def test_a_warehouse_outage_stops_no_batch_and_its_rows_arrive_once_it_is_back(
    stream: Stream,
    new_topic: NewTopicFactory,
    postgres_url_via_proxy: str,
    postgres_proxy: FaultProxy,
) -> None:
    topic = new_topic(partitions=2)
    records = produced_then_read(
        stream.settings.kafka_bootstrap_servers, topic, mixed_records(12, 4)
    )
    ctx = with_database(stream, postgres_url_via_proxy).context()
    with postgres_proxy.down():
        response = handle_event(msk_event(records), ctx, BucketDeadLetters(ctx.objects))
        assert response == {"batchItemFailures": []}
        with pytest.raises(TransientError):
            load_once(ctx)
    assert stream.statuses() == {"processed": 9, "rejected": 3}
    stream.assert_each_event_once()


def test_lambda_handler_retries_the_batch_until_the_dead_letter_topic_takes_its_letters(
    stream: Stream, new_topic: NewTopicFactory
) -> None:
    bootstrap = stream.settings.kafka_bootstrap_servers
    topic, dlq = new_topic(partitions=2), new_topic(partitions=1)
    records = produced_then_read(bootstrap, topic, mixed_records(10, 5))
    event = msk_event(records)
    ctx = stream.context()
    nowhere = stream.settings.model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"}
    )

    down = TopicDeadLetters(nowhere, dlq, ctx.objects)
    try:
        response = handle_event(event, ctx, down)
    finally:
        down.close()
    assert reported_failures(response) == first_offsets(records)

    up = TopicDeadLetters(stream.settings, dlq, ctx.objects)
    try:
        assert handle_event(event, ctx, up) == {"batchItemFailures": []}
    finally:
        up.close()
    letters = read_topic(bootstrap, dlq, 2)
    assert sorted(m.key() for m in letters) == [b"text", b"truncated"]
    assert {dict(m.headers())[ERROR_CODE] for m in letters} == {
        b"unsupported_format",
        b"undecodable",
    }
    assert stream.statuses() == {"processed": 8, "rejected": 2}
    stream.assert_each_event_once()


def test_lambda_handler_raises_for_lambda_to_retry_when_partial_responses_are_off(
    stream: Stream, s3_proxy: FaultProxy
) -> None:
    settings = storage_via(stream, s3_proxy).model_copy(
        update={"stream_report_batch_item_failures": False}
    )
    ctx = build_context(settings)
    event = msk_event([KafkaRecord("t", 0, 0, None, None, good_image(1))])
    with s3_proxy.down(), pytest.raises(TransientError):
        handle_event(event, ctx, BucketDeadLetters(ctx.objects))


def test_lambda_handler_reads_allowed_s3_sources_and_refuses_missing_or_oversized(
    stream: Stream, s3_client: Any
) -> None:
    s3_client.put_object(Bucket=stream.source_bucket, Key="in/a.jpg", Body=good_image(7))
    s3_client.put_object(Bucket=stream.source_bucket, Key="in/huge.jpg", Body=b"\xff" * 200_000)
    gone = f"{stream.source_bucket}-gone"  # allowed, but no such bucket
    settings = stream.settings.model_copy(
        update={
            "max_bytes": 100_000,
            "stream_allowed_buckets": [stream.source_bucket, gone],
        }
    )
    ctx = build_context(settings)

    def envelope(offset: int, uri: str) -> KafkaRecord:
        value = json.dumps({"image_s3_uri": uri, "customer_id": "acme", "metadata": {"n": offset}})
        return KafkaRecord("src", 0, offset, None, None, value.encode())

    records = [
        envelope(0, f"s3://{stream.source_bucket}/in/a.jpg"),
        envelope(1, f"s3://{stream.source_bucket}/in/missing.jpg"),
        envelope(2, f"s3://{stream.source_bucket}/in/huge.jpg"),
        envelope(3, f"s3://{gone}/in/a.jpg"),
        envelope(4, f"s3://{stream.bucket}/in/a.jpg"),  # a real bucket, not on the list
    ]
    response = handle_event(msk_event(records), ctx, BucketDeadLetters(ctx.objects))

    assert response == {"batchItemFailures": []}  # refusals, not faults: nothing to retry
    assert dict(stream.rows("select event_id, coalesce(reason, status) from ingest_events")) == {
        "src:0:0": "processed",
        "src:0:1": "source_not_found",
        "src:0:2": "too_large",
        "src:0:3": "source_not_found",
        "src:0:4": "forbidden_source",
    }


def test_lambda_module_imports_no_web_framework_and_runs_a_saved_event(
    tmp_path: Path, new_topic: NewTopicFactory, kafka_bootstrap: str
) -> None:
    topic = new_topic(partitions=1)
    records = produced_then_read(
        kafka_bootstrap, topic, [Outgoing(good_image(3)), Outgoing(b"nope")]
    )
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(msk_event(records)))
    env = {
        **os.environ,
        "IMGPIPE_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "IMGPIPE_STORAGE_URL": f"file://{tmp_path / 'objects'}",
        "IMGPIPE_RENDITIONS": "thumb:64",
    }
    script = (
        "import json, sys\n"
        "import services.stream_worker.lambda_handler as h\n"
        "web = {'fastapi', 'mangum', 'starlette'}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in web)\n"
        "response = h.handler(json.load(open(sys.argv[1])), None)\n"
        "print(json.dumps({'web': loaded, 'response': response}))\n"
    )
    answer, _log = python_child(["-c", script, str(event_file)], env=env, cwd=ROOT)
    assert answer == {"web": [], "response": {"batchItemFailures": []}}
    letter = tmp_path / "objects" / "dead-letter" / topic / "0" / f"{records[1].offset}.json"
    assert json.loads(letter.read_text())["error"]["code"] == "unsupported_format"

    cli = subprocess.run(
        [sys.executable, "-m", "services.cli", "invoke-stream", str(event_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == {"batchItemFailures": []}


# -- the standalone consumer -----------------------------------------------------------------


def test_consumer_stores_good_records_once_dead_letters_poison_and_commits(
    stream: Stream, new_topic: NewTopicFactory, run_consumer: Callable[..., Running]
) -> None:
    bootstrap = stream.settings.kafka_bootstrap_servers
    topic, dlq = new_topic(partitions=3), new_topic(partitions=1)
    records = mixed_records(200, 10, forbidden_bucket="not-allowed")
    produce(bootstrap, topic, records)
    sent = [KafkaRecord.from_message(m) for m in read_topic(bootstrap, topic, 200)]

    running = run_consumer(topic, "e2e", dlq_topic=dlq, batch_size=25)
    wait_until(lambda: stream.events() >= 200, what="200 events")
    wait_until(lambda: sum(committed(bootstrap, "e2e", topic).values()) >= 200, what="commits")
    running.stop()

    assert stream.statuses() == {"processed": 180, "rejected": 20}
    stream.assert_each_event_once()
    assert stream.count("select count(*) from images") == 180
    assert stream.count("select count(*) from renditions") == 180
    ends: dict[int, int] = {}
    for record in sent:
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    assert committed(bootstrap, "e2e", topic) == ends

    letters = read_topic(bootstrap, dlq, 20)
    originals = {(r.partition, r.offset): r for r in sent}
    poison_keys = {b"text", b"truncated", b"bad-json", b"forbidden", b"bad-b64"}
    assert {r.coordinates for r in sent if r.key in poison_keys} == {
        f"{topic}:{dict(m.headers())[SOURCE_PARTITION].decode()}:"
        f"{dict(m.headers())[SOURCE_OFFSET].decode()}"
        for m in letters
    }
    for message in letters:
        headers = dict(message.headers())
        original = originals[(int(headers[SOURCE_PARTITION]), int(headers[SOURCE_OFFSET]))]
        assert headers[SOURCE_TOPIC] == topic.encode()
        assert message.key() == original.key
        assert message.value() == original.value
        assert headers[ERROR_CODE].decode() in {c.value for c in ErrorCode}
        assert headers[ERROR_DETAIL]
        for name, value in original.headers:
            assert headers[name] == value


def test_images_produced_with_kcat_are_consumed_and_stored(
    stream: Stream,
    new_topic: NewTopicFactory,
    run_consumer: Callable[..., Running],
    kcat: Kcat,
    tmp_path: Path,
) -> None:
    topic = new_topic(partitions=1)
    for i in range(3):
        path = tmp_path / f"{i}.jpg"
        path.write_bytes(good_image(500 + i))
        kcat.run(
            "-P",
            "-b",
            stream.settings.kafka_bootstrap_servers,
            "-t",
            topic,
            "-p",
            "0",
            "-H",
            "content-type=image/jpeg",
            "-H",
            "customer-id=kcat-user",
            "-H",
            f"event-id=kcat-{i}",
            "-k",
            f"k{i}",
            str(path),
        )
    running = run_consumer(topic, "kcat")
    wait_until(lambda: stream.events() >= 3, what="3 kcat records")
    running.stop()
    assert sorted(stream.rows("select event_id, customer_id, status from ingest_events")) == [
        (f"kcat-{i}", "kcat-user", "processed") for i in range(3)
    ]


def test_produce_command_sends_images_and_refuses_files_over_the_record_limit(
    stream: Stream, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(good_image(1))
    (folder / "b.jpg").write_bytes(good_image(2))
    (folder / "big.jpg").write_bytes(images.mosaic_jpeg(640, 480, seed=3, quality=95))
    limit = 8 * 1024
    assert (folder / "big.jpg").stat().st_size > limit > (folder / "a.jpg").stat().st_size
    env = {**os.environ, "IMGPIPE_KAFKA_MAX_MESSAGE_BYTES": str(limit)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "produce",
            str(folder),
            "--topic",
            topic,
            "--bootstrap-servers",
            stream.settings.kafka_bootstrap_servers,
            "--customer-id",
            "acme",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "big.jpg" in done.stderr and "over the 8192-byte record limit" in done.stderr
    got = read_topic(stream.settings.kafka_bootstrap_servers, topic, 2)
    assert sorted(m.key() for m in got) == [b"a.jpg", b"b.jpg"]
    assert all(dict(m.headers())["customer-id"] == b"acme" for m in got)
    assert all(dict(m.headers())["content-type"] == b"image/jpeg" for m in got)


class _CountsFullQueues:
    """A producer that counts the sends librdkafka refused because its local queue was full."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer
        self.full = 0

    def produce(self, *args: Any, **kwargs: Any) -> None:
        try:
            self.producer.produce(*args, **kwargs)
        except BufferError:
            self.full += 1
            raise

    def poll(self, timeout: float) -> int:
        return int(self.producer.poll(timeout))


def test_a_send_to_a_full_local_queue_waits_for_deliveries_instead_of_failing(
    kafka_bootstrap: str, new_topic: NewTopicFactory
) -> None:
    """What `imgpipe produce` and the dead-letter topic both rely on under load."""
    from confluent_kafka import Producer

    topic = new_topic(partitions=1)
    config = producer_config(load_settings(kafka_bootstrap_servers=kafka_bootstrap))
    producer = _CountsFullQueues(Producer({**config, "queue.buffering.max.messages": 1}))
    reports: list[Any] = []
    for n in range(4):
        produce_blocking(
            producer, topic, value=b"v%d" % n, on_delivery=lambda error, _m: reports.append(error)
        )
    assert producer.producer.flush(30) == 0

    assert producer.full > 0, "the queue never filled: the test proves nothing"
    assert reports == [None] * 4
    assert [m.value() for m in read_topic(kafka_bootstrap, topic, 4)] == [
        b"v0",
        b"v1",
        b"v2",
        b"v3",
    ]


def test_record_too_large_for_the_dead_letter_topic_goes_to_the_bucket_and_the_partition_goes_on(
    stream: Stream,
    new_topic: NewTopicFactory,
    run_consumer: Callable[..., Running],
    s3_client: Any,
) -> None:
    bootstrap = stream.settings.kafka_bootstrap_servers
    topic, dlq = new_topic(partitions=1), new_topic(partitions=1)
    huge = b"\xff\xd8\xff" + bytes(2 * 1024 * 1024)  # over max_bytes and the record limit
    produce(
        bootstrap,
        topic,
        [Outgoing(huge, b"huge"), Outgoing(good_image(1), b"after")],
        max_record_bytes=4 * 1024 * 1024,
    )
    settings = stream.settings.model_copy(update={"max_bytes": 1024 * 1024})
    running = run_consumer(topic, "huge", dlq_topic=dlq, settings=settings)
    wait_until(lambda: committed(bootstrap, "huge", topic) == {0: 2}, what="both committed")
    running.stop()

    assert dict(stream.rows("select event_id, coalesce(reason, status) from ingest_events")) == {
        f"{topic}:0:0": "too_large",
        f"{topic}:0:1": "processed",
    }
    letter = json.loads(
        s3_client.get_object(Bucket=stream.bucket, Key=f"dead-letter/{topic}/0/0.json")[
            "Body"
        ].read()
    )
    assert base64.b64decode(letter["value"]) == huge
    assert letter["error"]["code"] == "too_large"


# -- fault drills ----------------------------------------------------------------------------


def partition_ends(records: list[KafkaRecord]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for record in records:
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    return ends


def consume_command(stream: Stream, topic: str, group: str, log: Path) -> subprocess.Popen[bytes]:
    settings = stream.settings
    env = {
        **os.environ,
        "IMGPIPE_DATABASE_URL": settings.database_url,
        "IMGPIPE_STORAGE_URL": settings.storage_url,
        "IMGPIPE_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
        "IMGPIPE_AWS_REGION": settings.aws_region or "",
        "IMGPIPE_RENDITIONS": "thumb:64:jpeg:80",
        "IMGPIPE_KAFKA_CONSUMER_CONFIG": json.dumps(TEST_CONSUMER_CONFIG),
        "IMGPIPE_KAFKA_BATCH_WINDOW_MS": "100",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.cli",
                "consume",
                "--bootstrap-servers",
                settings.kafka_bootstrap_servers,
                "--topic",
                topic,
                "--group-id",
                group,
                "--batch-size",
                "5",
                "--workers",
                "2",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
def test_consumer_killed_mid_batch_and_restarted_loses_nothing_and_duplicates_nothing(
    stream: Stream, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    bootstrap = stream.settings.kafka_bootstrap_servers
    topic = new_topic(partitions=2)
    produce(bootstrap, topic, mixed_records(120, 10))
    sent = [KafkaRecord.from_message(m) for m in read_topic(bootstrap, topic, 120)]
    log = tmp_path / "consume.log"

    first = consume_command(stream, topic, "killed", log)
    try:
        wait_until(lambda: stream.events() >= 15, what="the first batches")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert stream.events() < 120, "the consumer finished before it could be killed"

    second = consume_command(stream, topic, "killed", log)
    try:
        wait_until(lambda: stream.events() >= 120, what="every record after the restart")
        wait_until(
            lambda: committed(bootstrap, "killed", topic) == partition_ends(sent), what="commits"
        )
    finally:
        second.send_signal(signal.SIGTERM)
        returncode = second.wait(timeout=10)  # SIGTERM: finish, commit, leave within 10 s
    assert returncode == 0, log.read_text()
    assert stream.statuses() == {"processed": 108, "rejected": 12}
    stream.assert_each_event_once()


@pytest.mark.slow
def test_consumer_pauses_while_storage_is_down_and_resumes_without_loss(
    stream: Stream,
    new_topic: NewTopicFactory,
    run_consumer: Callable[..., Running],
    s3_proxy: FaultProxy,
) -> None:
    bootstrap = stream.settings.kafka_bootstrap_servers
    topic = new_topic(partitions=2)
    running = run_consumer(topic, "db-down", settings=storage_via(stream, s3_proxy), batch_size=10)
    produce(bootstrap, topic, mixed_records(30, 10))
    wait_until(lambda: stream.events() >= 30, what="the first 30 records")

    s3_proxy.cut()
    try:
        produce(bootstrap, topic, mixed_records(60, 10)[30:])
        time.sleep(10)  # the outage
        assert stream.events() == 30
        assert running.consumer.totals.retries >= 1
    finally:
        s3_proxy.restore()
    wait_until(lambda: stream.events() >= 60, what="the records held back by the outage")
    sent = [KafkaRecord.from_message(m) for m in read_topic(bootstrap, topic, 60)]
    wait_until(
        lambda: committed(bootstrap, "db-down", topic) == partition_ends(sent), what="commits"
    )
    running.stop()
    assert stream.statuses() == {"processed": 54, "rejected": 6}
    stream.assert_each_event_once()


@pytest.mark.slow
def test_consumer_reconnects_after_a_broker_restart_and_finishes(
    stream: Stream, s3_kafka: TansuBroker, run_consumer: Callable[..., Running]
) -> None:
    bootstrap = s3_kafka.bootstrap
    settings = stream.settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
    topic = create_topic(bootstrap, partitions=2)
    produce(bootstrap, topic, mixed_records(60, 10))
    running = run_consumer(topic, "restarted", settings=settings, batch_size=5)
    wait_until(lambda: stream.events() >= 10, what="the first batches")

    s3_kafka.restart(down_for=3)

    wait_until(lambda: stream.events() >= 60, what="every record after the restart")
    sent = [KafkaRecord.from_message(m) for m in read_topic(bootstrap, topic, 60)]
    wait_until(
        lambda: committed(bootstrap, "restarted", topic) == partition_ends(sent), what="commits"
    )
    running.stop()
    assert stream.statuses() == {"processed": 54, "rejected": 6}
    stream.assert_each_event_once()


@pytest.mark.slow
def test_two_consumers_in_one_group_split_the_partitions_and_store_each_record_once(
    stream: Stream, new_topic: NewTopicFactory, run_consumer: Callable[..., Running]
) -> None:
    bootstrap = stream.settings.kafka_bootstrap_servers
    topic = new_topic(partitions=4)
    first = run_consumer(topic, "pair", batch_size=5)
    second = run_consumer(topic, "pair", batch_size=5)
    wait_until(
        lambda: (
            bool(first.consumer.assigned)
            and bool(second.consumer.assigned)
            and len(first.consumer.assigned | second.consumer.assigned) == 4
        ),
        what="both members holding partitions",
    )
    assert not first.consumer.assigned & second.consumer.assigned

    produce(
        bootstrap,
        topic,
        [Outgoing(good_image(i), f"k{i}".encode(), partition=i % 4) for i in range(80)],
    )
    wait_until(lambda: stream.events() >= 80, what="80 events")
    first.stop()
    second.stop()

    assert first.consumer.totals.records > 0
    assert second.consumer.totals.records > 0
    assert stream.statuses() == {"processed": 80}
    stream.assert_each_event_once()


@pytest.mark.slow
def test_consumer_commits_nothing_past_an_undelivered_dead_letter_and_stops_in_time(
    stream: Stream, new_topic: NewTopicFactory, run_consumer: Callable[..., Running]
) -> None:
    bootstrap = stream.settings.kafka_bootstrap_servers
    topic, dlq = new_topic(partitions=1), new_topic(partitions=1)
    produce(
        bootstrap,
        topic,
        [Outgoing(good_image(1)), Outgoing(b"not an image", b"poison"), Outgoing(good_image(2))],
    )
    # A dead-letter producer whose broker never answers: every letter stays undelivered.
    nowhere = stream.settings.model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"}
    )
    ctx = build_context(nowhere)
    stalled = StreamConsumer(
        ctx,
        TopicDeadLetters(nowhere, dlq, ctx.objects),
        topics=[topic],
        group_id="dlq-down",
        bootstrap_servers=bootstrap,
    )
    running = Running(stalled)
    wait_until(lambda: stalled.totals.retries >= 1, what="a retry of the batch")
    time.sleep(2)  # past the first backoff (at most 0.5 s): sending the letter again

    assert committed(bootstrap, "dlq-down", topic) == {}
    assert stream.statuses() == {"processed": 2, "rejected": 1}  # rows first, idempotently
    stalled.stop()
    running.thread.join(timeout=10)
    assert not running.thread.is_alive(), "the consumer did not leave within 10 s"
    assert committed(bootstrap, "dlq-down", topic) == {}

    healthy = run_consumer(topic, "dlq-down", dlq_topic=dlq)
    wait_until(lambda: committed(bootstrap, "dlq-down", topic) == {0: 3}, what="the commit")
    healthy.stop()
    (letter,) = read_topic(bootstrap, dlq, 1)
    assert letter.key() == b"poison"
    assert stream.statuses() == {"processed": 2, "rejected": 1}
    stream.assert_each_event_once()


@pytest.mark.slow
def test_rebalance_while_a_consumer_backs_off_loses_nothing_and_duplicates_nothing(
    stream: Stream,
    new_topic: NewTopicFactory,
    run_consumer: Callable[..., Running],
    s3_proxy: FaultProxy,
) -> None:
    bootstrap = stream.settings.kafka_bootstrap_servers
    topic = new_topic(partitions=2)
    produce(
        bootstrap,
        topic,
        [Outgoing(good_image(i), f"k{i}".encode(), partition=i % 2) for i in range(20)],
    )
    sent = [KafkaRecord.from_message(m) for m in read_topic(bootstrap, topic, 20)]
    s3_proxy.cut()
    try:
        through_proxy = storage_via(stream, s3_proxy)
        backing_off = run_consumer(topic, "rebalanced", settings=through_proxy, batch_size=5)
        wait_until(lambda: backing_off.consumer.totals.retries >= 1, what="a failed batch")
        assert len(backing_off.consumer.assigned) == 2

        joining = run_consumer(topic, "rebalanced", batch_size=5)  # the group rebalances
        wait_until(
            lambda: len(backing_off.consumer.assigned) == 1 and len(joining.consumer.assigned) == 1,
            what="one partition each",
        )
        wait_until(lambda: stream.events() >= 10, what="the joining member's partition")
        assert committed(bootstrap, "rebalanced", topic).keys() == {
            p for _, p in joining.consumer.assigned
        }
    finally:
        s3_proxy.restore()
    wait_until(
        lambda: committed(bootstrap, "rebalanced", topic) == partition_ends(sent), what="commits"
    )
    backing_off.stop()
    joining.stop()
    assert stream.statuses() == {"processed": 20}
    stream.assert_each_event_once()
