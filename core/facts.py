"""The fact log: the rows an ingest call produced, as one gzip NDJSON object under facts/.

Each line is one row with its `kind`: `event` (one per attempt), `image` and `rendition` (of
every accepted attempt's image, so that a lost write of the first one is made good by any later
one), and `erasure`. Facts are at-least-once; the loader makes rows exactly once (keys:
event_id, image_id, image_id + name). Values are JSON: timestamps ISO 8601 in UTC.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from core.layout import fact_key, new_ulid
from core.models import IngestResult, Manifest, utcnow

FACT_KINDS: Final = ("event", "image", "rendition", "erasure")
CONTENT_TYPE: Final = "application/x-ndjson"
# Camera fields are free text from EXIF; the warehouse keeps 128 bytes of them.
MAX_CAMERA_BYTES: Final = 128
# A fact object is a request's or a batch's rows: megabytes at most. Larger is not ours.
MAX_FACT_BYTES: Final = 256 * 1024 * 1024

Row = dict[str, Any]


class FactError(ValueError):
    """A fact object that is not a fact log object: moved aside, never loaded."""


def rows_of(results: Sequence[IngestResult], recorded_at: datetime | None = None) -> list[Row]:
    """The rows of a call's results: every event, and each accepted image once."""
    recorded_at = recorded_at or utcnow()
    rows: list[Row] = []
    described: set[str] = set()
    for result in results:
        rows.append(event_row(result, recorded_at))
        manifest = result.manifest
        if manifest is not None and str(manifest.image_id) not in described:
            described.add(str(manifest.image_id))
            rows.append(image_row(manifest))
            rows.extend(rendition_rows(manifest))
    return rows


def event_row(result: IngestResult, recorded_at: datetime) -> Row:
    manifest = result.manifest
    return {
        "kind": "event",
        "event_id": result.event_id,
        "image_id": str(manifest.image_id) if manifest else None,
        "customer_id": result.customer_id,
        "source": result.source,
        "status": result.status,
        "reason": str(result.error_code) if result.error_code else None,
        "format": manifest.metadata.format if manifest else None,
        "bytes_in": result.bytes_in,
        "bytes_out": result.bytes_out,
        "processing_ms": float(result.processing_ms),
        "received_at": _time(result.received_at),
        "recorded_at": _time(recorded_at),
        "match": result.match,
        "duplicate_of": str(result.duplicate_of) if result.duplicate_of else None,
    }


def image_row(manifest: Manifest) -> Row:
    meta = manifest.metadata
    return {
        "kind": "image",
        "image_id": str(manifest.image_id),
        "customer_id": manifest.customer_id,
        "sha256": meta.sha256,
        "phash": meta.phash,
        "format": meta.format,
        "mode": meta.mode,
        "width": meta.width,
        "height": meta.height,
        "frames": meta.frames,
        "bytes_in": meta.bytes_in,
        "has_alpha": meta.has_alpha,
        "camera_make": _fit(meta.camera_make, MAX_CAMERA_BYTES),
        "camera_model": _fit(meta.camera_model, MAX_CAMERA_BYTES),
        "taken_at": _time(meta.taken_at),
        "has_gps": meta.has_gps,
        "first_seen_at": _time(manifest.seen_at),
        "first_event_id": manifest.first_event_id,
        "content_sha256": meta.content_sha256,
        "thumbhash": meta.thumbhash,
        "dominant_color": meta.dominant_color,
    }


def rendition_rows(manifest: Manifest) -> list[Row]:
    return [
        {
            "kind": "rendition",
            "image_id": str(manifest.image_id),
            "name": r.name,
            "width": r.width,
            "height": r.height,
            "bytes": r.bytes,
            "content_type": r.content_type,
            "object_key": r.key,
        }
        for r in manifest.renditions
    ]


def encode(rows: Iterable[Row]) -> bytes:
    """gzip NDJSON, byte-identical for the same rows (no timestamp in the gzip header)."""
    text = "".join(
        json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n" for row in rows
    )
    return gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)


def decode(data: bytes) -> list[Row]:
    """The rows of a fact object. Raises FactError for anything the writer could not have made:
    not gzip, not UTF-8 JSON lines, a line that is no object or of an unknown kind."""
    try:
        text = _gunzip(data).decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise FactError(f"not gzip UTF-8 text: {exc}") from None
    rows: list[Row] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise FactError(f"line {number} is not JSON: {exc}") from None
        if not isinstance(row, dict) or row.get("kind") not in FACT_KINDS:
            raise FactError(f"line {number} is not a fact row of a known kind")
        rows.append(row)
    return rows


def _gunzip(data: bytes) -> bytes:
    """Decompress with a bound: a fact object is never larger than MAX_FACT_BYTES unpacked."""
    inflater = zlib.decompressobj(wbits=31)
    out = inflater.decompress(data, MAX_FACT_BYTES + 1)
    if len(out) > MAX_FACT_BYTES or inflater.unconsumed_tail:
        raise OSError(f"unpacks to more than {MAX_FACT_BYTES} bytes")
    if not inflater.eof:
        raise EOFError("gzip stream cut short")
    return out


def new_fact_key(now: datetime | None = None) -> str:
    """Where the next fact object goes: its ULID orders it among the others."""
    fact_id = new_ulid(now)
    return fact_key(fact_id)


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _fit(text: str | None, limit: int) -> str | None:
    """Cut text to at most `limit` UTF-8 bytes (Redshift counts VARCHAR lengths in bytes)."""
    if text is None:
        return None
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")
