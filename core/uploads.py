"""Uploads: one image ingested and answered, and direct uploads (start, complete, their records).

A direct upload is two objects under `uploads/`, expired together by the bucket's lifecycle:
the object the client sends (`uploads/{id}`) and a record beside it (`uploads/{id}.json`) that
says whose upload it is and, once completed, which image it became. Completing writes in this
order: the image (ingest), then the record naming it, then the sent object is deleted; a retry
after a fault between any two steps finds the record or the object and finishes the job.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core import images
from core.errors import (
    ErrorCode,
    NotFound,
    PermanentError,
    UploadClosed,
    UploadNotReceived,
)
from core.ingest import discard_upload, ingest
from core.layout import RECORD_CACHE_CONTROL, UPLOADS, upload_key, upload_record_key
from core.models import IngestRequest, Manifest, Match

if TYPE_CHECKING:
    from core.bootstrap import Context
    from core.images import StoredRendition
    from core.repository.objects import PresignedUpload


@dataclass(frozen=True, slots=True)
class Accepted:
    """An image stored for a customer: new (`duplicate` False) or sent before. `stored` is
    each rendition's storage state when it was looked up (an upload completed before)."""

    manifest: Manifest
    duplicate: bool
    stored: tuple[StoredRendition, ...] | None = None
    match: Match | None = None  # a duplicate's: same bytes ("exact") or same picture

    @property
    def duplicate_of(self) -> uuid.UUID | None:
        return self.manifest.image_id if self.duplicate else None


def accept(job: IngestRequest, ctx: Context) -> Accepted:
    """Ingest one image sent by a customer. A refusal is raised as the PermanentError it was
    recorded as; TransientError propagates."""
    result = ingest(job, ctx)
    if result.status == "rejected" or result.manifest is None:
        raise PermanentError(
            result.error_code or ErrorCode.INVALID_REQUEST, result.error_detail or "refused"
        )
    return Accepted(result.manifest, result.status == "duplicate", match=result.match)


@dataclass(frozen=True, slots=True)
class StartedUpload:
    upload_id: str
    presigned: PresignedUpload
    max_bytes: int


def start_upload(
    customer_id: str, content_type: str, declared_bytes: int | None, ctx: Context
) -> StartedUpload:
    """A new upload: where to send the image (a presigned URL bounding its size) and its
    record. A declared size over the limit is refused before anything is written."""
    limit = ctx.settings.max_bytes
    if declared_bytes is not None and declared_bytes > limit:
        raise PermanentError(
            ErrorCode.TOO_LARGE, f"{declared_bytes} bytes is over the limit of {limit}"
        )
    upload_id = uuid.uuid4().hex
    presigned = ctx.objects.presign_upload(upload_key(upload_id), content_type, limit)
    record = {
        "customer_id": customer_id,
        "content_type": content_type,
        "created_at": datetime.now(UTC).isoformat(),
    }
    _write_record(ctx, upload_id, record)
    return StartedUpload(upload_id, presigned, limit)


def complete_upload(upload_id: str, customer_id: str, ctx: Context) -> Accepted:
    """Ingest what was sent to the upload, once: completing it again answers the image it
    became, as a duplicate. Raises NotFound for an upload this customer did not start (or that
    expired) and UploadNotReceived, recording nothing, while its object has not arrived."""
    with _turn_of(upload_id):  # concurrent completes in this process: one ingests, the rest see it
        record = _load_record(ctx, upload_id, customer_id)
        if "image_id" in record:
            view = images.get_image(uuid.UUID(record["image_id"]), customer_id, ctx)
            return Accepted(view.manifest, duplicate=True, stored=view.renditions, match="exact")
        key = upload_key(upload_id)
        if not ctx.objects.exists(key):
            raise UploadNotReceived(upload_id)
        job = IngestRequest(
            customer_id=customer_id,
            source="upload",
            event_id=f"upload:{upload_id}",
            object_key=key,
            declared_type=record.get("content_type"),
        )
        accepted = accept(job, ctx)
        # The record learns the image before the upload goes: a retry that finds no upload
        # then answers the image instead of a 404.
        _write_record(ctx, upload_id, {**record, "image_id": str(accepted.manifest.image_id)})
        discard_upload(ctx.objects, key)
        return accepted


def check_open(key: str, ctx: Context) -> None:
    """Raises UploadClosed when `key` is the object of a direct upload completed already: its
    signed URL takes no new object (S3's POST policy cannot be withdrawn; there, an object sent
    after completion is never read and expires with the upload)."""
    upload_id = _upload_id_of(key)
    if upload_id is None:
        return
    try:
        record = json.loads(ctx.objects.get(upload_record_key(upload_id)))
    except NotFound:
        return
    if "image_id" in record:
        raise UploadClosed(upload_id)


def _upload_id_of(key: str) -> str | None:
    name = key.removeprefix(UPLOADS)
    if name == key or "/" in name or key == upload_record_key(name.removesuffix(".json")):
        return None
    return name


def _load_record(ctx: Context, upload_id: str, customer_id: str) -> dict[str, Any]:
    """The upload's record; another customer's upload is NotFound, as if it did not exist."""
    try:
        record: dict[str, Any] = json.loads(ctx.objects.get(upload_record_key(upload_id)))
    except NotFound:
        raise NotFound(f"upload {upload_id} (never started, or expired)") from None
    if record.get("customer_id") != customer_id:
        raise NotFound(f"upload {upload_id} (never started, or expired)")
    return record


def _write_record(ctx: Context, upload_id: str, record: dict[str, Any]) -> None:
    data = json.dumps(record).encode()
    ctx.objects.put(upload_record_key(upload_id), data, "application/json", RECORD_CACHE_CONTROL)


# A few locks shared by every upload id: two uploads that fall on the same lock merely take
# turns, and nothing needs to forget an id once its upload is done.
_TURNS = tuple(threading.Lock() for _ in range(64))


def _turn_of(upload_id: str) -> threading.Lock:
    return _TURNS[hash(upload_id) % len(_TURNS)]
