"""The domain's plain values: what the pipeline makes and what an ingest request and result are."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

from core.errors import ErrorCode, PermanentError

Source = Literal["upload", "stream"]
Status = Literal["processed", "duplicate", "rejected"]
# How a duplicate was found: the same bytes, or the same picture with other metadata.
Match = Literal["exact", "content"]

# Namespace of image ids; fixed forever: changing it would give every stored image a new id.
IMAGE_NAMESPACE = uuid.UUID("5b0b8d8e-6f4a-5c1e-9a57-1d2f6f0c8a11")


# Lengths of the warehouse's customer_id and event_id columns, in UTF-8 bytes: Redshift counts
# VARCHAR lengths in bytes, so a longer id would fail (or be cut in) the write of its rows.
MAX_CUSTOMER_ID_BYTES = 128
MAX_EVENT_ID_BYTES = 512
# Control characters (C0, DEL, C1) and Unicode's line and paragraph separators would break or
# forge the log lines, and corrupt the object keys, an id appears in; a lone surrogate has no
# UTF-8 form, so no database could store it. All other text is kept, printable or not (a zero
# width joiner, a no-break space): ids come from other systems, an authoriser's subject or a
# producer's header, and Python's isprintable() also changes with its Unicode version.
_UNUSABLE_IN_ID = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]|(?P<surrogate>[\ud800-\udfff])")


def customer_id_problem(text: str) -> str | None:
    """Why `text` cannot be a customer id, or None when it can."""
    return _id_problem(text, MAX_CUSTOMER_ID_BYTES)


def event_id_problem(text: str) -> str | None:
    """Why `text` cannot be an event id, or None when it can."""
    return _id_problem(text, MAX_EVENT_ID_BYTES)


def _id_problem(text: str, max_bytes: int) -> str | None:
    if not text:
        return "it is empty"
    if (found := _UNUSABLE_IN_ID.search(text)) is not None:
        return (
            "it holds a lone surrogate"
            if found["surrogate"]
            else "it holds control or line-break characters"
        )
    if len(text.encode("utf-8")) > max_bytes:
        return f"it is longer than {max_bytes} bytes of UTF-8"
    return None


def image_id_for(customer_id: str, sha256: str) -> uuid.UUID:
    """The same bytes from the same customer are the same image, whichever path they came by."""
    return uuid.uuid5(IMAGE_NAMESPACE, f"{customer_id}\x00{sha256}")


def moment(text: Any) -> datetime | None:
    """An ISO 8601 time as a stored record gives it; None when it is missing or not one."""
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Rendition:
    """One encoded output image."""

    name: str
    width: int
    height: int
    format: str  # a name of core.processing.OUTPUT_FORMATS: "jpeg", "webp", "avif"
    content_type: str
    extension: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class ImageMetadata:
    """What the pipeline learnt of the source image."""

    sha256: str  # hex of the original bytes
    phash: str  # 64-bit perceptual hash (dHash), 16 hex digits
    format: str  # "jpeg", "png", "webp", "gif", "tiff", "bmp", "avif", "heif"
    mode: str  # Pillow mode of the decoded source, before conversion
    width: int  # after EXIF orientation
    height: int
    frames: int
    has_alpha: bool
    bytes_in: int
    camera_make: str | None = None
    camera_model: str | None = None
    taken_at: datetime | None = None  # naive EXIF time read as UTC; EXIF carries no zone
    has_gps: bool = False
    icc_profile: str | None = None  # description of the embedded profile, if any
    # "kind:sha256hex" of the picture, blind to metadata (core.processing.hashes.content_hash)
    content_sha256: str | None = None
    thumbhash: str | None = None  # base64 ThumbHash placeholder
    dominant_color: str | None = None  # "#rrggbb"
    # What of the source's metadata no rendition carries ("gps", "exif:MakerNote", "xmp" ...);
    # None in manifests written before it was recorded.
    metadata_removed: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values, in declaration order (taken_at as ISO 8601)."""
        doc = {f.name: getattr(self, f.name) for f in fields(self)}
        doc["taken_at"] = self.taken_at.isoformat() if self.taken_at else None
        if self.metadata_removed is not None:
            doc["metadata_removed"] = list(self.metadata_removed)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ImageMetadata:
        """Back from to_json's shape; fields with a default may be missing (older documents)."""
        values = {
            f.name: doc[f.name] if f.default is MISSING else doc.get(f.name, f.default)
            for f in fields(cls)
        }
        taken_at = values["taken_at"]
        values["taken_at"] = datetime.fromisoformat(taken_at) if taken_at else None
        if values["metadata_removed"] is not None:
            values["metadata_removed"] = tuple(values["metadata_removed"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """The pipeline's output: renditions in settings order, metadata, and what it cost."""

    metadata: ImageMetadata
    renditions: tuple[Rendition, ...]
    processing_ms: float

    @property
    def bytes_out(self) -> int:
        return sum(r.size for r in self.renditions)


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """One image to ingest: its bytes, or the key of an object already in storage (uploads/...)."""

    customer_id: str
    source: Source
    event_id: str
    data: bytes | None = field(default=None, repr=False)
    object_key: str | None = None
    # The bytes read when ingest comes to the request (a stream record's image_s3_uri): a
    # batch holds no more sources in memory than it processes at once.
    fetch: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)
    received_at: datetime = field(default_factory=utcnow)
    declared_type: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # caller's metadata, kept in manifest
    # Set when the caller already knows the request is bad (an undecodable Kafka record):
    # ingest records it as `rejected` with this error and reads nothing.
    refusal: PermanentError | None = None


@dataclass(frozen=True, slots=True)
class RenditionRecord:
    """A stored rendition, as the manifest and the warehouse describe it."""

    name: str
    width: int
    height: int
    bytes: int
    content_type: str
    key: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """Per-image metadata kept beside the renditions (manifests/{image_id}.json)."""

    image_id: uuid.UUID
    customer_id: str
    metadata: ImageMetadata
    renditions: tuple[RenditionRecord, ...]
    created_at: datetime
    source: Source
    attributes: dict[str, Any] = field(default_factory=dict)
    # The event that created the manifest (its status is `processed`; any other, `duplicate`)
    # and when that event was received. Manifests from before the fields read as "".
    first_event_id: str = ""
    first_seen_at: datetime | None = None

    @property
    def seen_at(self) -> datetime:
        return self.first_seen_at or self.created_at

    def to_json(self) -> dict[str, Any]:
        return {
            "image_id": str(self.image_id),
            "customer_id": self.customer_id,
            **self.metadata.to_json(),
            "renditions": [
                {
                    "name": r.name,
                    "width": r.width,
                    "height": r.height,
                    "bytes": r.bytes,
                    "content_type": r.content_type,
                    "key": r.key,
                }
                for r in self.renditions
            ],
            "created_at": self.created_at.isoformat(),
            "source": self.source,
            "attributes": self.attributes,
            "first_event_id": self.first_event_id,
            "first_seen_at": self.seen_at.isoformat(),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Manifest:
        return cls(
            image_id=uuid.UUID(doc["image_id"]),
            customer_id=doc["customer_id"],
            metadata=ImageMetadata.from_json(doc),
            renditions=tuple(RenditionRecord(**r) for r in doc["renditions"]),
            created_at=datetime.fromisoformat(doc["created_at"]),
            source=doc["source"],
            attributes=doc.get("attributes") or {},
            first_event_id=doc.get("first_event_id") or "",
            first_seen_at=datetime.fromisoformat(seen)
            if (seen := doc.get("first_seen_at"))
            else None,
        )

    @property
    def bytes_out(self) -> int:
        return sum(r.bytes for r in self.renditions)


def _time_or_none(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of one request. `manifest` is None exactly when the status is `rejected`."""

    event_id: str
    customer_id: str
    source: Source
    status: Status
    received_at: datetime
    bytes_in: int
    processing_ms: float
    manifest: Manifest | None = None
    error_code: ErrorCode | None = None
    error_detail: str | None = None
    # Set exactly when the status is `duplicate`: the image found, and how. A `content` match
    # answers with the first image's manifest, so duplicate_of is its id.
    match: Match | None = None
    duplicate_of: uuid.UUID | None = None

    @property
    def image_id(self) -> uuid.UUID | None:
        return self.manifest.image_id if self.manifest else None

    @property
    def bytes_out(self) -> int:
        # A duplicate wrote nothing new; only a processed event produced output bytes.
        return self.manifest.bytes_out if self.manifest and self.status == "processed" else 0


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One `images` row with its renditions."""

    image_id: str
    customer_id: str
    sha256: str
    phash: str
    format: str
    mode: str
    width: int
    height: int
    frames: int
    bytes_in: int
    has_alpha: bool
    camera_make: str | None
    camera_model: str | None
    taken_at: datetime | None
    has_gps: bool
    first_seen_at: datetime
    first_event_id: str
    content_sha256: str | None = None
    thumbhash: str | None = None
    dominant_color: str | None = None
    renditions: tuple[RenditionRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One `ingest_events` row."""

    event_id: str
    image_id: str | None
    customer_id: str
    source: Source
    status: Status
    reason: str | None
    format: str | None
    bytes_in: int
    bytes_out: int
    processing_ms: float
    received_at: datetime
    recorded_at: datetime
    match: Match | None = None
    duplicate_of: str | None = None
