"""`imgpipe replay` end to end: dead letters on a real Kafka-protocol broker and in S3 on moto,
replayed through the stream's batch step into PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from sqlalchemy.engine import make_url

from core.bootstrap import Context, build_context
from core.config import Settings, get_settings
from core.errors import TransientError
from core.loader import load_once
from core.repository.migrations import upgrade
from services.cli import main
from services.stream_worker.batch import process_records
from services.stream_worker.deadletter import BucketDeadLetters, DeadLetters, TopicDeadLetters
from services.stream_worker.letters import BucketLetters, LetterSource, TopicLetters
from services.stream_worker.records import REPLAY_COUNT, KafkaRecord
from services.stream_worker.replayer import Selection, Summary, replay
from tests import images
from tests.harness.kafka import TEST_CONSUMER_CONFIG, NewTopicFactory, partitions_of
from tests.harness.proxy import free_port
from tests.harness.s3 import REGION, MakeSettings


@dataclass
class Replaying:
    """Settings on PostgreSQL, moto and the broker, a dead-letter topic, a source bucket."""

    settings: Settings
    dlq: str
    source_bucket: str
    ctx: Context

    def dead_letters(self, to_bucket: bool = False) -> DeadLetters:
        if to_bucket:
            return BucketDeadLetters(self.ctx.objects)
        return TopicDeadLetters(self.settings, self.dlq, self.ctx.objects)

    def stream(self, records: Sequence[KafkaRecord], to_bucket: bool = False) -> None:
        """The records through the stream worker's batch step, as a consumer would."""
        letters = self.dead_letters(to_bucket)
        try:
            process_records(records, self.ctx, letters)
        finally:
            letters.close()

    def replay(
        self,
        *,
        to_bucket: bool = False,
        dry_run: bool = False,
        selection: Selection | None = None,
        max_replays: int = 3,
    ) -> Summary:
        sources: list[LetterSource] = [BucketLetters(self.ctx.objects, self.settings)]
        if not to_bucket:
            sources.insert(0, TopicLetters(self.settings, self.dlq))
        letters = None if dry_run else self.dead_letters(to_bucket)
        try:
            return replay(
                self.ctx,
                sources,
                letters,
                selection=selection or Selection(),
                max_replays=max_replays,
                dry_run=dry_run,
            )
        finally:
            if letters is not None:
                letters.close()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        load_once(self.ctx)
        url = make_url(self.settings.database_url).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
            return list(conn.execute(sql).fetchall())

    def events(self) -> dict[str, str]:
        """event_id -> reason, or status when processed."""
        return dict(self.rows("select event_id, coalesce(reason, status) from ingest_events"))

    def dlq_records(self) -> list[KafkaRecord]:
        return topic_records(self.settings.kafka_bootstrap_servers, self.dlq)


def topic_records(bootstrap: str, topic: str) -> list[KafkaRecord]:
    """Every record of the topic, read up to each partition's end."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 20,
        }
    )
    partitions = set(partitions_of(bootstrap, topic))
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    found: list[KafkaRecord] = []
    try:
        for _ in range(120):
            for message in consumer.consume(100, timeout=0.5):
                error = message.error()
                if error is None:
                    found.append(KafkaRecord.from_message(message))
                elif error.code() == KafkaError._PARTITION_EOF:
                    partitions.discard(message.partition() or 0)
            if not partitions:
                return found
        raise AssertionError(f"{topic}: partitions {partitions} never reached their end")
    finally:
        consumer.close()


@pytest.fixture
def replaying(
    make_settings: MakeSettings,
    s3_client: Any,
    s3_bucket: str,
    postgres_url: str,
    kafka_bootstrap: str,
    new_topic: NewTopicFactory,
) -> Iterator[Replaying]:
    source = f"{s3_bucket}-src"
    s3_client.create_bucket(Bucket=source)
    upgrade(postgres_url)
    dlq = new_topic(partitions=2)
    settings = make_settings(
        database_url=postgres_url,
        renditions="thumb:64:jpeg:80",
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_consumer_config=TEST_CONSUMER_CONFIG,
        kafka_dlq_topic=dlq,
        stream_allowed_buckets=[source],
    )
    ctx = build_context(settings)
    try:
        yield Replaying(settings, dlq, source, ctx)
    finally:
        ctx.close()


NOW = datetime.now(UTC)


def claim(offset: int, bucket: str, customer: str = "acme") -> KafkaRecord:
    """A record naming s3://bucket/in/{offset}.jpg, which does not exist yet."""
    value = json.dumps({"image_s3_uri": f"s3://{bucket}/in/{offset}.jpg", "customer_id": customer})
    stamp = int(NOW.timestamp() * 1000)
    return KafkaRecord("images", 0, offset, stamp, b"k%d" % offset, value.encode())


def text_record(offset: int, customer: str = "acme") -> KafkaRecord:
    headers = (("customer-id", customer.encode()),)
    stamp = int(NOW.timestamp() * 1000)
    return KafkaRecord("images", 1, offset, stamp, None, images.TEXT, headers)


def photo(seed: int) -> bytes:
    return images.mosaic_jpeg(64, 64, seed=seed, quality=80)


def test_a_dry_run_lists_what_it_would_replay_and_writes_nothing(
    replaying: Replaying, s3_client: Any
) -> None:
    replaying.stream([claim(0, replaying.source_bucket), text_record(1)])
    s3_client.put_object(Bucket=replaying.source_bucket, Key="in/0.jpg", Body=photo(1))
    before = replaying.events()
    listed: list[dict[str, Any]] = []

    summary = replay(
        replaying.ctx,
        [TopicLetters(replaying.settings, replaying.dlq)],
        None,
        selection=Selection(),
        max_replays=3,
        dry_run=True,
        listed=lambda letter: listed.append(letter.describe()),
    )

    assert (summary.would_replay, summary.replayed, summary.still_dead) == (2, 0, 0)
    assert sorted((e["source"], e["code"], e["customer_id"]) for e in listed) == [
        ("images:0:0", "source_not_found", "acme"),
        ("images:1:1", "unsupported_format", "acme"),
    ]
    assert before == {"images:0:0": "source_not_found", "images:1:1": "unsupported_format"}
    assert replaying.events() == before
    assert len(replaying.dlq_records()) == 2
    assert not s3_client.list_objects_v2(Bucket=s3_client_bucket(replaying), Prefix="manifests/")[
        "KeyCount"
    ]


def s3_client_bucket(replaying: Replaying) -> str:
    return replaying.settings.storage_url.removeprefix("s3://").split("/", 1)[0]


def test_a_letter_whose_cause_is_fixed_is_ingested_and_replaying_twice_writes_nothing_new(
    replaying: Replaying, s3_client: Any
) -> None:
    replaying.stream([claim(0, replaying.source_bucket), claim(1, replaying.source_bucket)])
    s3_client.put_object(Bucket=replaying.source_bucket, Key="in/0.jpg", Body=photo(2))

    first = replaying.replay()
    events = replaying.events()
    images_ = replaying.rows("select image_id, sha256 from images")
    letters = replaying.dlq_records()
    manifests = s3_client.list_objects_v2(Bucket=s3_client_bucket(replaying), Prefix="manifests/")

    assert (first.replayed, first.still_dead, first.superseded) == (1, 1, 0)
    assert events == {
        "images:0:0": "source_not_found",
        "images:0:0#replay-1": "processed",
        "images:0:1": "source_not_found",
        "images:0:1#replay-1": "source_not_found",
    }
    assert len(images_) == 1
    assert len(letters) == 3  # the one still dead was dead-lettered again, one replay more
    assert sorted(r.header(REPLAY_COUNT) or b"0" for r in letters) == [b"0", b"0", b"1"]

    second = replaying.replay()

    assert (second.replayed, second.still_dead, second.superseded) == (1, 1, 1)
    assert replaying.events() == {**events, "images:0:1#replay-2": "source_not_found"}
    assert replaying.rows("select image_id, sha256 from images") == images_
    again = s3_client.list_objects_v2(Bucket=s3_client_bucket(replaying), Prefix="manifests/")
    assert [o["Key"] for o in again["Contents"]] == [o["Key"] for o in manifests["Contents"]]


def test_a_fixed_letter_replayed_twice_makes_no_second_row_or_letter(
    replaying: Replaying, s3_client: Any
) -> None:
    replaying.stream([claim(0, replaying.source_bucket)])
    s3_client.put_object(Bucket=replaying.source_bucket, Key="in/0.jpg", Body=photo(3))

    assert replaying.replay().replayed == 1
    events, images_ = replaying.events(), replaying.rows("select * from images")
    assert replaying.replay().replayed == 1

    assert replaying.events() == events
    assert events["images:0:0#replay-1"] == "processed"
    assert replaying.rows("select * from images") == images_
    assert len(replaying.dlq_records()) == 1


def test_the_loop_guard_keeps_a_letter_dead_after_its_last_replay(
    replaying: Replaying,
) -> None:
    replaying.stream([claim(0, replaying.source_bucket)])  # its object never arrives

    runs = [replaying.replay(max_replays=2) for _ in range(3)]

    assert [(r.still_dead, r.superseded, r.loop_guarded) for r in runs] == [
        (1, 0, 0),
        (1, 1, 0),
        (0, 2, 1),
    ]
    assert replaying.events() == {
        "images:0:0": "source_not_found",
        "images:0:0#replay-1": "source_not_found",
        "images:0:0#replay-2": "source_not_found",
    }
    counts = sorted(r.header(REPLAY_COUNT) or b"0" for r in replaying.dlq_records())
    assert counts == [b"0", b"1", b"2"]


def test_filters_pick_letters_by_code_customer_and_time(replaying: Replaying) -> None:
    bucket = replaying.source_bucket
    replaying.stream([claim(0, bucket), claim(1, bucket, "bravo"), text_record(2)])

    def picked(selection: Selection) -> tuple[int, int]:
        summary = replaying.replay(dry_run=True, selection=selection)
        return summary.would_replay, summary.skipped_by_filter

    hour = timedelta(hours=1)
    assert picked(Selection(codes=frozenset({"source_not_found"}))) == (2, 1)
    assert picked(Selection(customers=frozenset({"acme"}))) == (2, 1)
    assert picked(Selection(frozenset({"source_not_found"}), frozenset({"acme"}))) == (1, 2)
    assert picked(Selection(since=datetime.now(UTC) + hour)) == (0, 3)
    assert picked(Selection(since=NOW - hour, until=datetime.now(UTC) + hour)) == (3, 0)
    assert picked(Selection(until=NOW - hour)) == (0, 3)


def test_bucket_letters_are_replayed_and_one_still_dead_is_overwritten_one_replay_more(
    replaying: Replaying, s3_client: Any
) -> None:
    bucket = s3_client_bucket(replaying)
    replaying.stream([claim(0, replaying.source_bucket), text_record(1)], to_bucket=True)
    s3_client.put_object(Bucket=bucket, Key="dead-letter/junk.json", Body=b"{not a letter")
    s3_client.put_object(Bucket=replaying.source_bucket, Key="in/0.jpg", Body=photo(4))

    summary = replaying.replay(to_bucket=True)

    assert (summary.replayed, summary.still_dead, summary.unreadable) == (1, 1, 1)
    letter = json.loads(
        s3_client.get_object(Bucket=bucket, Key="dead-letter/images/1/1.json")["Body"].read()
    )
    headers = {h["name"]: h["value"] for h in letter["headers"]}
    assert headers[REPLAY_COUNT] == "MQ=="  # base64 of "1"
    assert letter["event_id"] == "images:1:1#replay-1"
    assert replaying.events()["images:0:0#replay-1"] == "processed"


def test_the_replay_command_prints_the_dry_run_and_a_json_summary(
    replaying: Replaying,
    s3_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replaying.stream([claim(0, replaying.source_bucket), text_record(1)])
    s3_client.put_object(Bucket=replaying.source_bucket, Key="in/0.jpg", Body=photo(5))
    settings = replaying.settings
    for name, value in {
        "IMGPIPE_STORAGE_URL": settings.storage_url,
        "IMGPIPE_S3_ENDPOINT_URL": str(settings.s3_endpoint_url),
        "IMGPIPE_AWS_REGION": REGION,
        "IMGPIPE_DATABASE_URL": settings.database_url,
        "IMGPIPE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "IMGPIPE_KAFKA_CONSUMER_CONFIG": json.dumps(TEST_CONSUMER_CONFIG),
        "IMGPIPE_KAFKA_DLQ_TOPIC": replaying.dlq,
        "IMGPIPE_STREAM_ALLOWED_BUCKETS": replaying.source_bucket,
        "IMGPIPE_RENDITIONS": "thumb:64:jpeg:80",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()

    assert main(["replay", "--dry-run", "--code", "source_not_found", "--since", "1h"]) == 0
    # Log records may share stdout (as on Lambda, when an earlier test set logging up so).
    documents = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    *letters, last = [d for d in documents if "level" not in d]
    assert [letter["source"] for letter in letters] == ["images:0:0"]
    assert last["would_replay"] == 1
    assert last["skipped_by_filter"] == 1

    assert main(["replay", "--customer", "acme"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    (summary,) = [d for d in map(json.loads, lines) if "level" not in d]
    assert {k: summary[k] for k in ("replayed", "still_dead", "loop_guarded")} == {
        "replayed": 1,
        "still_dead": 1,
        "loop_guarded": 0,
    }
    assert replaying.events()["images:0:0#replay-1"] == "processed"


def test_a_replay_whose_broker_is_unreachable_stops_as_transient_and_writes_nothing(
    replaying: Replaying,
) -> None:
    replaying.stream([claim(0, replaying.source_bucket)])
    nowhere = replaying.settings.model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"}
    )
    events = replaying.events()

    with pytest.raises(TransientError):
        replay(
            replaying.ctx,
            [TopicLetters(nowhere, replaying.dlq)],
            None,
            selection=Selection(),
            max_replays=3,
            dry_run=True,
        )
    assert replaying.events() == events
