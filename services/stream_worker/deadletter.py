"""Where refused records go: a dead-letter topic when one is configured, else the bucket."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import ErrorCode, TransientError
from core.layout import dead_letter_key
from core.models import utcnow

if TYPE_CHECKING:
    from core.config import Settings
    from core.repository.objects import ObjectStore
    from services.stream_worker.records import KafkaRecord

log = logging.getLogger("imgpipe.stream")

ERROR_CODE = "imgpipe-error-code"
ERROR_DETAIL = "imgpipe-error-detail"
SOURCE_TOPIC = "imgpipe-source-topic"
SOURCE_PARTITION = "imgpipe-source-partition"
SOURCE_OFFSET = "imgpipe-source-offset"
EVENT_ID = "imgpipe-event-id"
CUSTOMER_ID = "imgpipe-customer-id"
DEAD_LETTERED_AT = "imgpipe-dead-lettered-at"
# What a letter adds to the record's own headers: a replay takes them off again.
LETTER_HEADERS = frozenset(
    {ERROR_CODE, ERROR_DETAIL, SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET}
    | {EVENT_ID, CUSTOMER_ID, DEAD_LETTERED_AT}
)
MAX_DETAIL_BYTES = 1024
# A healthy broker acknowledges within milliseconds; waiting longer for a down one only delays
# the batch's backoff and, on SIGTERM, the consumer's exit (due within 10 s). The batch is not
# committed either way, so its letters are sent again on the retry.
SEND_TIMEOUT_SECONDS = 5.0
# Letters still undelivered at close belong to a batch that was not committed: it is redone.
CLOSE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A refused record and why it was refused."""

    record: KafkaRecord
    code: ErrorCode
    detail: str
    event_id: str
    customer_id: str

    def headers(self) -> list[tuple[str, str | bytes | None]]:
        """The original headers, then the error, where the record came from, its ids and when
        it was dead-lettered (what `imgpipe replay` filters on)."""
        detail = self.detail.encode()[:MAX_DETAIL_BYTES]
        return [
            *self.record.headers,
            (ERROR_CODE, str(self.code).encode()),
            (ERROR_DETAIL, detail.decode("utf-8", "ignore").encode()),
            (SOURCE_TOPIC, self.record.topic.encode()),
            (SOURCE_PARTITION, str(self.record.partition).encode()),
            (SOURCE_OFFSET, str(self.record.offset).encode()),
            (EVENT_ID, self.event_id.encode()),
            (CUSTOMER_ID, self.customer_id.encode()),
            (DEAD_LETTERED_AT, utcnow().isoformat().encode()),
        ]

    def document(self) -> dict[str, Any]:
        """The JSON kept in the bucket: the whole record (bytes as base64) and the error."""
        record = self.record
        return {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "timestamp": record.timestamp,
            "key": _b64(record.key),
            "value": _b64(record.value),
            "headers": [{"name": name, "value": _b64(value)} for name, value in record.headers],
            "error": {"code": str(self.code), "detail": self.detail},
            "event_id": self.event_id,
            "customer_id": self.customer_id,
            "dead_lettered_at": utcnow().isoformat(),
        }

    @property
    def object_key(self) -> str:
        return dead_letter_key(self.record.topic, self.record.partition, self.record.offset)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


class DeadLetters(Protocol):
    """A dead-letter destination. `send` returns once every letter is durably stored."""

    def send(self, letters: Sequence[DeadLetter]) -> None:
        """Raises TransientError when the destination cannot take them now."""
        ...

    def close(self) -> None: ...


class BucketDeadLetters:
    """One JSON object per record under dead-letter/ (keys from the coordinates: a retry
    overwrites the same object)."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def send(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            body = json.dumps(letter.document(), separators=(",", ":")).encode()
            self.objects.put(letter.object_key, body, "application/json")

    def close(self) -> None:
        return None


class TopicDeadLetters:
    """Records to a dead-letter topic with their original key, value and headers, plus the
    error and source coordinates as headers. A letter the broker refuses as too large goes to
    the bucket instead, so that one oversized record cannot stall its partition."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        objects: ObjectStore,
        bootstrap_servers: str | None = None,
        flush_timeout: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        from confluent_kafka import Producer

        from services.stream_worker.kafka_config import producer_config

        self.topic = topic
        self.fallback = BucketDeadLetters(objects)
        self.flush_timeout = flush_timeout
        self._producer = Producer(producer_config(settings, bootstrap_servers))

    def send(self, letters: Sequence[DeadLetter]) -> None:
        from confluent_kafka import KafkaError

        failures: list[tuple[DeadLetter, Any]] = []

        def delivered(letter: DeadLetter) -> Any:
            def report(error: Any, _message: Any) -> None:
                if error is not None:
                    failures.append((letter, error))

            return report

        too_large = [letter for letter in letters if not self._produce(letter, delivered(letter))]
        remaining = self._producer.flush(self.flush_timeout)
        if remaining:
            # Left queued, they would go out beside the retry's own copies, one per attempt.
            self._producer.purge(in_queue=True, in_flight=False)
            self._producer.poll(0)
            raise TransientError(f"{remaining} dead letters not acknowledged by the broker")
        too_large += [
            letter for letter, error in failures if error.code() == KafkaError.MSG_SIZE_TOO_LARGE
        ]
        others = [error for _, error in failures if error.code() != KafkaError.MSG_SIZE_TOO_LARGE]
        if others:
            raise TransientError(f"dead-letter topic {self.topic}: {others[0]}")
        if too_large:
            log.warning(
                "%d dead letters too large for %s: kept in the bucket", len(too_large), self.topic
            )
            self.fallback.send(too_large)

    def _produce(self, letter: DeadLetter, on_delivery: Any) -> bool:
        """Queue the letter; False when it is over the client's message size limit."""
        from confluent_kafka import KafkaError, KafkaException

        from services.stream_worker.kafka_config import produce_blocking

        record = letter.record
        try:
            produce_blocking(
                self._producer,
                self.topic,
                key=record.key,
                value=record.value,
                headers=letter.headers(),
                timestamp=record.timestamp or 0,
                on_delivery=on_delivery,
            )
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE:
                return False
            raise TransientError(f"dead-letter topic {self.topic}: {exc}") from exc
        return True

    def close(self) -> None:
        self._producer.flush(min(self.flush_timeout, CLOSE_TIMEOUT_SECONDS))


def open_dead_letters(
    settings: Settings,
    objects: ObjectStore,
    topic: str | None = None,
    bootstrap_servers: str | None = None,
) -> DeadLetters:
    """The topic when one is named (argument, else IMGPIPE_KAFKA_DLQ_TOPIC), else the bucket."""
    topic = topic or settings.kafka_dlq_topic
    if topic:
        return TopicDeadLetters(settings, topic, objects, bootstrap_servers)
    return BucketDeadLetters(objects)
