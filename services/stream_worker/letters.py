"""Dead letters read back: from the dead-letter topic and from dead-letter/ in the bucket, each
as the refused record it was (coordinates, key, value, the producer's headers), why it was
refused, and how often it was replayed already. What `imgpipe replay` picks from."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import ErrorCode, NotFound, PermanentError, TransientError
from core.layout import DEAD_LETTERS
from services.stream_worker.deadletter import (
    CUSTOMER_ID,
    DEAD_LETTERED_AT,
    ERROR_CODE,
    EVENT_ID,
    LETTER_HEADERS,
    SOURCE_OFFSET,
    SOURCE_PARTITION,
    SOURCE_TOPIC,
)
from services.stream_worker.records import (
    REPLAY_COUNT,
    KafkaRecord,
    decode,
    refused,
    replay_count,
)

if TYPE_CHECKING:
    from core.config import Settings
    from core.repository.objects import ObjectStore

log = logging.getLogger("imgpipe.replay")

Origin = tuple[str, int, int]  # the refused record's topic, partition, offset
# With neither a record nor the end of a partition for this long, the broker is taken as
# unreachable: the replay stops (TransientError) rather than take the silence for the end.
IDLE_SECONDS = 10.0
_STRIPPED = LETTER_HEADERS | {REPLAY_COUNT}


@dataclass(frozen=True, slots=True)
class Letter:
    """A dead letter: the refused record as it was sent, why, and how often it was replayed."""

    where: str  # the letter's place: topic:partition:offset of the letter, or its bucket key
    record: KafkaRecord  # the original coordinates, key, value and headers
    code: str
    event_id: str
    customer_id: str
    dead_lettered_at: datetime | None
    replays: int

    @property
    def origin(self) -> Origin:
        return (self.record.topic, self.record.partition, self.record.offset)

    def resent(self) -> KafkaRecord:
        """The record as a replay sends it through ingest: one replay more."""
        return replace(
            self.record, headers=(*self.record.headers, (REPLAY_COUNT, b"%d" % (self.replays + 1)))
        )

    def describe(self) -> dict[str, Any]:
        """What `--dry-run` prints of a letter it would replay."""
        topic, partition, offset = self.origin
        return {
            "letter": self.where,
            "source": f"{topic}:{partition}:{offset}",
            "code": self.code,
            "event_id": self.event_id,
            "customer_id": self.customer_id,
            "dead_lettered_at": self.dead_lettered_at.isoformat()
            if self.dead_lettered_at
            else None,
            "replays": self.replays,
        }


def letter_of(
    where: str,
    original: KafkaRecord,
    settings: Settings,
    *,
    code: str | None,
    event_id: str | None,
    customer_id: str | None,
    dead_lettered_at: datetime | None,
) -> Letter:
    """A Letter of the original record; ids the letter does not carry (letters written before
    they were) are read from the record by the stream's own decoder."""
    record = replace(original, headers=_own_headers(original))
    if event_id is None or customer_id is None:
        try:
            request = decode(record, settings)
        except PermanentError as error:
            request = refused(record, settings, error)
        event_id = event_id or request.event_id
        customer_id = customer_id or request.customer_id
    return Letter(
        where=where,
        record=record,
        code=code or "",
        event_id=event_id,
        customer_id=customer_id,
        dead_lettered_at=dead_lettered_at,
        replays=replay_count(original),
    )


def _own_headers(record: KafkaRecord) -> tuple[tuple[str, bytes], ...]:
    """The record's headers without those its letters and replays added."""
    return tuple((k, v) for k, v in record.headers if k.lower() not in _STRIPPED)


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(record: KafkaRecord, name: str) -> str | None:
    raw = record.header(name)
    return raw.decode("utf-8", "replace") if raw else None


def letter_of_message(message: KafkaRecord, settings: Settings) -> Letter:
    """A letter of the dead-letter topic: the source headers say where the record was."""
    topic = _text(message, SOURCE_TOPIC)
    partition, offset = _text(message, SOURCE_PARTITION), _text(message, SOURCE_OFFSET)
    original = message
    if topic and partition and offset and partition.isdigit() and offset.isdigit():
        original = replace(message, topic=topic, partition=int(partition), offset=int(offset))
    stamp = message.timestamp
    return letter_of(
        message.coordinates,
        original,
        settings,
        code=_text(message, ERROR_CODE),
        event_id=_text(message, EVENT_ID),
        customer_id=_text(message, CUSTOMER_ID),
        # Letters are sent with the record's own timestamp: when it entered Kafka.
        dead_lettered_at=_moment(_text(message, DEAD_LETTERED_AT))
        or (datetime.fromtimestamp(stamp / 1000, UTC) if stamp else None),
    )


def letter_of_document(key: str, body: bytes, settings: Settings) -> Letter:
    """A letter of the bucket (BucketDeadLetters' JSON). Raises ValueError when it is not one."""
    try:
        doc = json.loads(body)
        record = KafkaRecord(
            topic=str(doc["topic"]),
            partition=int(doc["partition"]),
            offset=int(doc["offset"]),
            timestamp=doc.get("timestamp"),
            key=_unb64(doc.get("key")),
            value=_unb64(doc.get("value")),
            headers=tuple((str(h["name"]), _unb64(h["value"]) or b"") for h in doc["headers"]),
        )
        error = doc.get("error") or {}
        return letter_of(
            key,
            record,
            settings,
            code=error.get("code"),
            event_id=doc.get("event_id"),
            customer_id=doc.get("customer_id"),
            dead_lettered_at=_moment(doc.get("dead_lettered_at")),
        )
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{key} is not a dead letter: {exc!r}") from exc


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


class LetterSource(Protocol):
    """Where letters are kept. Every `letters()` after the first yields the same letters: what
    a replay dead-letters meanwhile is left for the next run."""

    def letters(self) -> Iterator[Letter | ValueError]: ...

    def close(self) -> None: ...


class BucketLetters:
    """The letters under dead-letter/ in the bucket, one object per refused record."""

    def __init__(self, objects: ObjectStore, settings: Settings) -> None:
        self.objects = objects
        self.settings = settings
        self._keys: list[str] | None = None

    def letters(self) -> Iterator[Letter | ValueError]:
        if self._keys is None:
            self._keys = [k for k in self.objects.keys(DEAD_LETTERS) if k.endswith(".json")]
        for key in self._keys:
            try:
                body = self.objects.get(key)
            except NotFound:
                continue  # deleted since it was listed
            try:
                yield letter_of_document(key, body, self.settings)
            except ValueError as error:
                yield error

    def close(self) -> None:
        return None


class TopicLetters:
    """The dead-letter topic, read from its first offsets to its end without a consumer group
    (partitions assigned, nothing committed). The end is where each partition reported its
    end (librdkafka's partition EOF) on the first read; the broker's end offsets are not
    trusted, some Kafka-protocol brokers report them wrong."""

    def __init__(
        self, settings: Settings, topic: str, bootstrap_servers: str | None = None
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self._ends: dict[int, int] | None = None

    def letters(self) -> Iterator[Letter | ValueError]:
        for message in self._messages():
            yield letter_of_message(message, self.settings)

    def _messages(self) -> Iterator[KafkaRecord]:
        from confluent_kafka import (
            OFFSET_BEGINNING,
            Consumer,
            KafkaError,
            KafkaException,
            TopicPartition,
        )

        from services.stream_worker.kafka_config import consumer_config

        config = consumer_config(
            self.settings, f"imgpipe-replay-{uuid.uuid4().hex[:8]}", self.bootstrap_servers
        )
        config["enable.partition.eof"] = True
        consumer = Consumer(config)
        try:
            try:
                metadata = consumer.list_topics(self.topic, timeout=IDLE_SECONDS)
            except KafkaException as exc:
                raise TransientError(f"dead-letter topic {self.topic}: {exc}") from exc
            found = metadata.topics.get(self.topic)
            if found is None or found.error is not None:
                raise PermanentError(
                    ErrorCode.INVALID_REQUEST, f"no dead-letter topic {self.topic!r}"
                )
            first = self._ends is None
            ends: dict[int, int] = {} if first else dict(self._ends or {})
            open_ = {p for p in found.partitions if first or ends.get(p, 0) > 0}
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in open_])
            heard_at = time.monotonic()  # of the last record or end of partition
            while open_:
                if time.monotonic() - heard_at > IDLE_SECONDS:
                    # Without its end, a partition's letters cannot be told from none at all.
                    raise TransientError(
                        f"dead-letter topic {self.topic}: partitions {sorted(open_)} "
                        f"silent for {IDLE_SECONDS:.0f} s"
                    )
                for message in consumer.consume(100, timeout=0.5):
                    error = message.error()
                    partition = message.partition() or 0
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            heard_at = time.monotonic()
                            ends.setdefault(partition, message.offset() or 0)
                            open_.discard(partition)
                        elif error.fatal():
                            raise TransientError(f"dead-letter topic {self.topic}: {error}")
                        continue
                    heard_at = time.monotonic()
                    offset = message.offset() or 0
                    end = ends.get(partition, 0)
                    if not first and offset >= end:
                        open_.discard(partition)  # what this replay wrote: the next run's
                        continue
                    yield KafkaRecord.from_message(message)
                    if not first and offset + 1 >= end:
                        open_.discard(partition)
            if first:
                self._ends = ends
        finally:
            consumer.close()

    def close(self) -> None:
        return None
