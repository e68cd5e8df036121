"""The storage layout: every object key imgpipe writes, and the prefixes lifecycle rules name."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Final

RENDITIONS: Final = "renditions/"  # processed images; DEEP_ARCHIVE after archive_after_days
MANIFESTS: Final = "manifests/"  # per-image metadata; decides processed vs duplicate
CONTENT_INDEX: Final = "content-index/"  # first image of a picture: metadata-blind duplicates
UPLOADS: Final = "uploads/"  # direct uploads awaiting completion, and their records
IDEMPOTENCY: Final = "idempotency/"  # answers kept for Idempotency-Key retries
DEAD_LETTERS: Final = "dead-letter/"  # refused stream records, when no DLQ topic is set
FACTS: Final = "facts/"  # the fact log: rows waiting for (and kept after) loading
FACTS_REJECTED: Final = "facts-rejected/"  # fact objects the loader could not parse
LOADS: Final = "loads/"  # COPY manifests of warehouse loads
EVENTS: Final = "events/"  # the event publisher's cursors, one per sink
EVENT_CURSORS: Final = f"{EVENTS}cursors/"
ERASING: Final = "erasing/"  # markers of erasures under way: no new manifest meanwhile
# Erasure facts not yet sealed: each the last stored thing naming its image, until sealed.
ERASURE_FACTS: Final = f"{ERASING}facts/"

# Renditions never change once written (their key holds the image id); a manifest may be
# rewritten (erasure, repair), so caches revalidate it; records answer one caller only.
IMMUTABLE_CACHE_CONTROL: Final = "public, max-age=31536000, immutable"
MANIFEST_CACHE_CONTROL: Final = "no-cache"
RECORD_CACHE_CONTROL: Final = "no-store"


def rendition_key(name: str, image_id: uuid.UUID | str, extension: str) -> str:
    return f"{RENDITIONS}{name}/{image_id}.{extension}"


def manifest_key(image_id: uuid.UUID | str) -> str:
    return f"{MANIFESTS}{image_id}.json"


def content_index_key(customer_id: str, content_sha256: str, generation: int = 0) -> str:
    """Which image of the customer first had this picture (see core.duplicates). Digests, as
    in idempotency_key; a generation after the first replaces one naming an image gone."""
    customer = hashlib.sha256(customer_id.encode()).hexdigest()[:32]
    content = hashlib.sha256(content_sha256.encode()).hexdigest()
    suffix = f".{generation}" if generation else ""
    return f"{CONTENT_INDEX}{customer}/{content}{suffix}.json"


def upload_key(upload_id: str) -> str:
    return f"{UPLOADS}{upload_id}"


def upload_record_key(upload_id: str) -> str:
    # Beside the upload, under uploads/: the same lifecycle rule expires both.
    return f"{UPLOADS}{upload_id}.json"


def idempotency_key(customer_id: str, key: str) -> str:
    """Digests, not the values: a customer id such as `..` or one of 128 multibyte characters
    must neither escape the prefix nor make a key longer than storage takes."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{idempotency_prefix(customer_id)}{digest}.json"


def idempotency_prefix(customer_id: str) -> str:
    """Where all of a customer's idempotency records are (see idempotency_key)."""
    customer = hashlib.sha256(customer_id.encode()).hexdigest()[:32]
    return f"{IDEMPOTENCY}{customer}/"


def erasing_key(image_id: uuid.UUID | str) -> str:
    """The marker of an erasure under way. A digest: the marker must not name the image."""
    return f"{ERASING}{hashlib.sha256(str(image_id).encode()).hexdigest()}.json"


def erasure_fact_record_key(fact_key: str) -> str:
    """The record of an erasure fact that still names its image (see core.erasure_seal); by
    the fact's ULID, as an erasure finished on a retry may have appended two."""
    return f"{ERASURE_FACTS}{fact_key.rsplit('/', 1)[-1].split('.', 1)[0]}.json"


def dead_letter_key(topic: str, partition: int, offset: int) -> str:
    # From the record's coordinates: a retried batch overwrites its letter, never adds one.
    return f"{DEAD_LETTERS}{topic}/{partition}/{offset}.json"


def fact_key(fact_id: str, at: datetime | None = None) -> str:
    """`facts/YYYY/MM/DD/HH/{ulid}.ndjson.gz`: listed in key order, facts come oldest first."""
    at = (at or ulid_time(fact_id)).astimezone(UTC)
    return f"{FACTS}{at:%Y/%m/%d/%H}/{fact_id}.ndjson.gz"


def fact_written_at(key: str) -> datetime:
    """When a fact object was written, by its ULID (ValueError for a key ingest did not name)."""
    return ulid_time(key.rsplit("/", 1)[-1].split(".", 1)[0])


def fact_prefix_at(at: datetime) -> str:
    """The key prefix of the facts of `at`'s hour: where a listing of later facts starts."""
    return f"{FACTS}{at.astimezone(UTC):%Y/%m/%d/%H}/"


def rejected_fact_key(key: str) -> str:
    return FACTS_REJECTED + key.removeprefix(FACTS)


def load_manifest_key(load_id: str) -> str:
    return f"{LOADS}{load_id}.manifest.json"


def event_cursor_key(sink: str) -> str:
    """Where a sink's cursor is kept; the name is hashed, as it may hold a customer id."""
    digest = hashlib.sha256(sink.encode()).hexdigest()[:32]
    return f"{EVENT_CURSORS}{digest}.json"


def default_cache_control(key: str) -> str | None:
    """The Cache-Control a key gets when its writer names none."""
    if key.startswith(RENDITIONS):
        return IMMUTABLE_CACHE_CONTROL
    if key.startswith(MANIFESTS):
        return MANIFEST_CACHE_CONTROL
    if key.startswith((UPLOADS, IDEMPOTENCY, CONTENT_INDEX, ERASING)):
        return RECORD_CACHE_CONTROL
    return None


# --- ULIDs: 48 bits of milliseconds, 80 random bits, Crockford base32; sortable as text ---

_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ulid_lock = threading.Lock()
_ulid_last = (0, 0)  # (milliseconds, random part) of the last id made in this process


def new_ulid(now: datetime | None = None) -> str:
    """A ULID of `now` (default: the clock); ids made in one process within one millisecond
    are strictly increasing. Its time is always the moment given: a clock set back makes
    older-looking ids, which the loader's settle window is there for."""
    global _ulid_last  # noqa: PLW0603 - monotonic within the process is the point
    ms = int((now.timestamp() if now else time.time()) * 1000)
    with _ulid_lock:
        last_ms, last_random = _ulid_last
        if ms == last_ms:
            random_part = last_random + 1
        else:
            random_part = int.from_bytes(os.urandom(10), "big") >> 1  # room to count up
        _ulid_last = (ms, random_part)
    return _encode((ms << 80) | (random_part & ((1 << 80) - 1)))


def ulid_floor(at: datetime) -> str:
    """The smallest ULID of `at`'s millisecond: every id made from then on sorts after it."""
    return _encode(int(at.timestamp() * 1000) << 80)


def _encode(value: int) -> str:
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def ulid_time(ulid: str) -> datetime:
    """The moment a ULID was made. Raises ValueError for text that is not a ULID."""
    if len(ulid) != 26:
        raise ValueError(f"{ulid!r} is not a ULID")
    try:
        value = 0
        for char in ulid.upper():
            value = value * 32 + _CROCKFORD.index(char)
    except ValueError:
        raise ValueError(f"{ulid!r} is not a ULID") from None
    return datetime.fromtimestamp((value >> 80) / 1000, UTC)
