"""The one decoder of Kafka records into ingest requests, for the MSK handler and the consumer.

A record arrives either in Lambda's MSK event shape or as a confluent-kafka Message; both become
a neutral `KafkaRecord` first, and `decode()` turns that into an `IngestRequest`.

Rules a producer can rely on:
- The value is raw image bytes, or a JSON envelope (header `content-type: application/json`, or
  a value whose first non-blank byte is `{`): `{"event_id"?, "customer_id"?, "image_base64" |
  "image_s3_uri", "sha256"?, "version_id"?, "metadata"?}`. Unknown envelope fields are ignored
  (producers may add some).
- Header names are matched case-insensitively; values are UTF-8. When a header repeats, the
  last one wins, as with Kafka's own `Headers.lastHeader()`.
- The customer is the envelope's `customer_id`, else the `customer-id` header, else
  `IMGPIPE_STREAM_DEFAULT_CUSTOMER`. The event id is the envelope's `event_id`, else the
  `event-id` header, else `{topic}:{partition}:{offset}`.
- `image_s3_uri` is read only from buckets in `IMGPIPE_STREAM_ALLOWED_BUCKETS`, by the S3 API;
  no other URL is ever fetched. `version_id` reads that version of the object; `sha256` (hex of
  the image bytes) must match what is read, else `checksum_mismatch` (claim_check.py).
Anything else is a PermanentError with a precise code; S3 being unreachable is a TransientError.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.errors import ErrorCode, PermanentError
from core.models import (
    MAX_EVENT_ID_BYTES,
    IngestRequest,
    customer_id_problem,
    event_id_problem,
    utcnow,
)
from services.stream_worker.claim_check import ClaimCheck, parse_s3_uri, read_s3_object

if TYPE_CHECKING:
    from confluent_kafka import Message

    from core.config import Settings

Header = tuple[str, bytes]

# How often `imgpipe replay` has sent the record through ingest again (services/stream_worker/
# replayer.py): its loop guard, and what keeps a replay's event apart from the refused one.
REPLAY_COUNT = "imgpipe-replay-count"

JSON_TYPE = "application/json"
MAX_METADATA_BYTES = 64 * 1024
ENVELOPE_IMAGE_FIELDS = ("image_base64", "image_s3_uri")


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """A Kafka record, whichever way it arrived. `timestamp` is in epoch milliseconds."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None = None
    key: bytes | None = field(default=None, repr=False)
    value: bytes | None = field(default=None, repr=False)
    headers: tuple[Header, ...] = ()

    @property
    def coordinates(self) -> str:
        """topic:partition:offset, the record's default event id."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def topic_partition(self) -> str:
        """topic-partition, as the MSK event keys its records."""
        return f"{self.topic}-{self.partition}"

    def header(self, name: str) -> bytes | None:
        """The last header of that name (case-insensitive), or None."""
        wanted = name.lower()
        found = None
        for key, value in self.headers:
            if key.lower() == wanted:
                found = value
        return found

    def text_header(self, name: str) -> str | None:
        raw = self.header(name)
        if raw is None:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PermanentError(
                ErrorCode.MALFORMED_RECORD, f"header {name!r} is not UTF-8"
            ) from None

    @classmethod
    def from_msk(cls, item: Mapping[str, Any]) -> KafkaRecord:
        """One record of Lambda's MSK event (base64 key and value, headers as byte lists)."""
        try:
            topic = item["topic"]
            partition = item["partition"]
            offset = item["offset"]
        except (KeyError, TypeError):
            raise PermanentError(
                ErrorCode.MALFORMED_RECORD, "event record lacks topic, partition or offset"
            ) from None
        if not isinstance(topic, str) or not _is_int(partition) or not _is_int(offset):
            raise PermanentError(
                ErrorCode.MALFORMED_RECORD, "event record has a bad topic, partition or offset"
            )
        timestamp = item.get("timestamp")
        return cls(
            topic=topic,
            partition=partition,
            offset=offset,
            timestamp=timestamp if _is_int(timestamp) else None,
            key=_b64_field(item.get("key"), "key"),
            value=_b64_field(item.get("value"), "value"),
            headers=tuple(_msk_headers(item.get("headers"))),
        )

    @classmethod
    def from_message(cls, message: Message) -> KafkaRecord:
        """A confluent-kafka Message. A header without a value reads as empty bytes."""
        kind, stamp = message.timestamp()
        raw_headers = message.headers() or ()
        pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
        return cls(
            topic=message.topic() or "",
            partition=message.partition() or 0,
            offset=message.offset() or 0,
            timestamp=stamp if kind != 0 and stamp >= 0 else None,  # 0: TIMESTAMP_NOT_AVAILABLE
            key=message.key(),
            value=message.value(),
            headers=tuple((name, _header_bytes(value)) for name, value in pairs),
        )

    def to_msk(self) -> dict[str, Any]:
        """The record in Lambda's MSK event shape (used to replay records through the handler)."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp or 0,
            "timestampType": "CREATE_TIME",
            "key": None if self.key is None else base64.b64encode(self.key).decode(),
            "value": None if self.value is None else base64.b64encode(self.value).decode(),
            # Java's signed bytes, as Lambda sends them.
            "headers": [{name: [b - 256 if b > 127 else b for b in v]} for name, v in self.headers],
        }


def _header_bytes(value: str | bytes | None) -> bytes:
    if value is None:
        return b""
    return value.encode() if isinstance(value, str) else bytes(value)


def msk_records(event: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The raw records of an MSK event, partition by partition, in offset order."""
    groups = event.get("records")
    if not isinstance(groups, Mapping):
        return
    for items in groups.values():
        if isinstance(items, Sequence):
            yield from (item for item in items if isinstance(item, Mapping))


def msk_event(records: Sequence[KafkaRecord], source_arn: str = "") -> dict[str, Any]:
    """An MSK event carrying the records, grouped by topic-partition as Lambda does."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(record.topic_partition, []).append(record.to_msk())
    return {"eventSource": "aws:kafka", "eventSourceArn": source_arn, "records": grouped}


def decode(record: KafkaRecord, settings: Settings) -> IngestRequest:
    """The ingest request a record asks for. Raises PermanentError (bad record) or
    TransientError (an allowed S3 source is unreachable)."""
    if record.value is None:
        raise PermanentError(ErrorCode.MALFORMED_RECORD, "the record has no value (tombstone)")
    content_type = record.text_header("content-type")
    header_customer = _customer(record.text_header("customer-id"), "customer-id header")
    header_event = _event(record.text_header("event-id"), "event-id header")
    received_at = _received_at(record)
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == JSON_TYPE or (not media_type and record.value.lstrip()[:1] == b"{"):
        envelope = _envelope(record.value)
        customer = _customer(envelope.get("customer_id"), "customer_id") or header_customer
        event_id = _event(envelope.get("event_id"), "event_id") or header_event
        data, fetch = _envelope_image(envelope, settings)
        return IngestRequest(
            customer_id=customer or settings.stream_default_customer,
            source="stream",
            event_id=replay_event_id(event_id or record.coordinates, replay_count(record)),
            data=data,
            fetch=fetch,
            received_at=received_at,
            attributes=_metadata(envelope.get("metadata")),
        )
    if len(record.value) > settings.max_bytes:
        raise PermanentError(
            ErrorCode.TOO_LARGE,
            f"{len(record.value)} bytes is over the limit of {settings.max_bytes}",
        )
    return IngestRequest(
        customer_id=header_customer or settings.stream_default_customer,
        source="stream",
        event_id=replay_event_id(header_event or record.coordinates, replay_count(record)),
        data=record.value,
        received_at=received_at,
        declared_type=media_type or None,
    )


def refused(record: KafkaRecord, settings: Settings, error: PermanentError) -> IngestRequest:
    """The request of a record that could not be decoded: it carries the refusal, so that the
    warehouse records a `rejected` event for it under the best ids the record offers."""
    customer = _lenient(record, "customer-id") or settings.stream_default_customer
    event_id = replay_event_id(
        _lenient(record, "event-id") or record.coordinates, replay_count(record)
    )
    return IngestRequest(
        customer_id=customer,
        source="stream",
        event_id=event_id,
        data=b"",
        received_at=_received_at(record),
        refusal=error,
    )


def replay_count(record: KafkaRecord) -> int:
    """The record's `imgpipe-replay-count` header: 0 when absent or not a count."""
    raw = record.header(REPLAY_COUNT)
    try:
        count = int(raw or b"0")
    except ValueError:
        return 0
    return max(count, 0)


def replay_event_id(event_id: str, replays: int) -> str:
    """The event id of the `replays`-th replay of an event: its own, since the refused event is
    recorded already (and the loader writes an event id once), and the same for every replay
    of the same letter, so that replaying a letter twice makes no second row."""
    if replays <= 0:
        return event_id
    suffix = f"#replay-{replays}"
    if len((event_id + suffix).encode()) > MAX_EVENT_ID_BYTES:
        event_id = "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
    return event_id + suffix


def _lenient(record: KafkaRecord, name: str) -> str | None:
    try:
        value = record.text_header(name)
        return _customer(value, name) if name == "customer-id" else _event(value, name)
    except PermanentError:
        return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _b64_field(value: object, name: str) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PermanentError(ErrorCode.MALFORMED_RECORD, f"event record {name} is not a string")
    return _b64decode(value, f"event record {name}")


def _b64decode(text: str, what: str) -> bytes:
    # Line breaks (MIME-style base64) are tolerated; anything else outside the alphabet is not.
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise PermanentError(ErrorCode.MALFORMED_RECORD, f"{what} is not valid base64") from None


def _msk_headers(raw: object) -> Iterator[Header]:
    """MSK headers: a list of one-entry objects {name: [byte, ...]}, bytes as Java's signed
    values (-128..127); unsigned values (0..255) are accepted too."""
    if raw is None:
        return
    if not isinstance(raw, list):
        raise PermanentError(ErrorCode.MALFORMED_RECORD, "event record headers are not a list")
    for entry in raw:
        if not isinstance(entry, Mapping):
            raise PermanentError(ErrorCode.MALFORMED_RECORD, "an event record header is no object")
        for name, values in entry.items():
            if not isinstance(values, list) or not all(
                _is_int(b) and -128 <= b <= 255 for b in values
            ):
                raise PermanentError(
                    ErrorCode.MALFORMED_RECORD, f"header {name!r} is not a list of byte values"
                )
            yield str(name), bytes(b & 0xFF for b in values)


def _customer(value: object, what: str) -> str | None:
    return _identifier(value, what, customer_id_problem)


def _event(value: object, what: str) -> str | None:
    return _identifier(value, what, event_id_problem)


def _identifier(value: object, what: str, problem_of: Callable[[str], str | None]) -> str | None:
    """A customer or event id, trimmed, by the rule the upload API applies too; None when
    absent or blank (the default applies)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise PermanentError(ErrorCode.MALFORMED_RECORD, f"{what} is not a string")
    text = value.strip()
    if not text:
        return None
    if (problem := problem_of(text)) is not None:
        raise PermanentError(ErrorCode.MALFORMED_RECORD, f"{what} cannot be used: {problem}")
    return text


def _received_at(record: KafkaRecord) -> datetime:
    """When the record entered Kafka (its timestamp), else now."""
    if record.timestamp is not None and record.timestamp > 0:
        try:
            return datetime.fromtimestamp(record.timestamp / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return utcnow()


def _envelope(value: bytes) -> dict[str, Any]:
    try:
        document = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise PermanentError(ErrorCode.MALFORMED_RECORD, "the value is not valid JSON") from None
    if not isinstance(document, dict):
        raise PermanentError(ErrorCode.MALFORMED_RECORD, "the JSON value is not an object")
    return document


def _envelope_image(
    envelope: Mapping[str, Any], settings: Settings
) -> tuple[bytes | None, Callable[[], bytes] | None]:
    """The envelope's image: its bytes (image_base64), or how to read them (image_s3_uri,
    checked against the allow-list now, read when ingest comes to the record)."""
    present = [name for name in ENVELOPE_IMAGE_FIELDS if envelope.get(name) is not None]
    if not present:
        raise PermanentError(
            ErrorCode.MALFORMED_RECORD, "the envelope has neither image_base64 nor image_s3_uri"
        )
    if len(present) > 1:
        raise PermanentError(
            ErrorCode.MALFORMED_RECORD, "the envelope has both image_base64 and image_s3_uri"
        )
    check = ClaimCheck.of_envelope(envelope)
    if present[0] == "image_base64":
        encoded = envelope["image_base64"]
        if check.version_id is not None:
            raise PermanentError(
                ErrorCode.MALFORMED_RECORD, "version_id names an S3 version: not for image_base64"
            )
        if not isinstance(encoded, str):
            raise PermanentError(ErrorCode.MALFORMED_RECORD, "image_base64 is not a string")
        # Checked before decoding: base64 grows 4/3, so this bounds the decoded size from below.
        if len(encoded) * 3 // 4 > settings.max_bytes + 2:
            raise PermanentError(
                ErrorCode.TOO_LARGE, f"image_base64 decodes to over {settings.max_bytes} bytes"
            )
        data = _b64decode(encoded, "image_base64")
        if len(data) > settings.max_bytes:
            raise PermanentError(
                ErrorCode.TOO_LARGE,
                f"{len(data)} bytes is over the limit of {settings.max_bytes}",
            )
        return check.verify(data, "image_base64"), None
    uri = envelope["image_s3_uri"]
    if not isinstance(uri, str):
        raise PermanentError(ErrorCode.MALFORMED_RECORD, "image_s3_uri is not a string")
    bucket, key = parse_s3_uri(uri, settings.stream_allowed_buckets)
    return None, functools.partial(read_s3_object, bucket, key, settings, check)


def _metadata(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PermanentError(ErrorCode.MALFORMED_RECORD, "metadata is not a JSON object")
    if len(json.dumps(value, separators=(",", ":"))) > MAX_METADATA_BYTES:
        raise PermanentError(
            ErrorCode.MALFORMED_RECORD, f"metadata is over {MAX_METADATA_BYTES} bytes of JSON"
        )
    return value
