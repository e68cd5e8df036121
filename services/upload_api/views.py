"""Turning ingest results and manifests into response bodies: the one place URLs are made."""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from core.bootstrap import Context
from core.images import ImageView, StoredRendition
from core.models import ImageRecord, IngestRequest, Manifest, Match, RenditionRecord
from core.uploads import Accepted, accept
from services.upload_api.schemas import (
    ImageOut,
    ImageSummary,
    RenditionOut,
    RestoreOut,
    StorageOut,
)


def image_url(request: Request, image_id: uuid.UUID | str) -> str:
    return str(request.url_for("get_image", image_id=str(image_id)))


def rendition_url(request: Request, image_id: uuid.UUID | str, name: str) -> str:
    return str(request.url_for("get_rendition", image_id=str(image_id), name=name))


def image_out(
    request: Request,
    manifest: Manifest,
    stored: tuple[StoredRendition, ...] | None = None,
    *,
    duplicate: bool = False,
    match: Match | None = None,
) -> ImageOut:
    meta = manifest.metadata
    states = {state.record.name: state for state in stored or ()}
    renditions = [
        rendition_out(request, manifest.image_id, record, states.get(record.name))
        for record in manifest.renditions
    ]
    return ImageOut(
        id=manifest.image_id,
        sha256=meta.sha256,
        phash=meta.phash,
        format=meta.format,
        width=meta.width,
        height=meta.height,
        bytes=meta.bytes_in,
        frames=meta.frames,
        has_alpha=meta.has_alpha,
        camera_make=meta.camera_make,
        camera_model=meta.camera_model,
        taken_at=meta.taken_at,
        has_gps=meta.has_gps,
        content_sha256=meta.content_sha256,
        thumbhash=meta.thumbhash,
        dominant_color=meta.dominant_color,
        metadata_removed=list(meta.metadata_removed) if meta.metadata_removed is not None else None,
        source=manifest.source,
        created_at=manifest.created_at,
        duplicate=duplicate,
        match=(match or "exact") if duplicate else None,
        duplicate_of=manifest.image_id if duplicate else None,
        renditions=renditions,
    )


def rendition_out(
    request: Request,
    image_id: uuid.UUID | str,
    record: RenditionRecord,
    state: StoredRendition | None = None,
) -> RenditionOut:
    """One rendition as answered, with its storage state when it was looked up."""
    return RenditionOut(
        name=record.name,
        width=record.width,
        height=record.height,
        bytes=record.bytes,
        content_type=record.content_type,
        url=rendition_url(request, image_id, record.name),
        storage=_storage(state) if state is not None else None,
    )


def summary_out(request: Request, row: ImageRecord) -> ImageSummary:
    """A listed image, from its warehouse row (a listing does not look up storage)."""
    return ImageSummary(
        id=uuid.UUID(row.image_id),
        sha256=row.sha256,
        format=row.format,
        width=row.width,
        height=row.height,
        bytes=row.bytes_in,
        thumbhash=row.thumbhash,
        dominant_color=row.dominant_color,
        created_at=row.first_seen_at,
        url=image_url(request, row.image_id),
        renditions=[rendition_out(request, row.image_id, r) for r in row.renditions],
    )


def view_out(request: Request, view: ImageView, *, duplicate: bool = False) -> ImageOut:
    return image_out(request, view.manifest, view.renditions, duplicate=duplicate)


def _storage(state: StoredRendition) -> StorageOut:
    restore = state.restore
    return StorageOut(
        storage_class=state.storage_class,
        archived=state.archived,
        readable=state.readable,
        restore=RestoreOut(ongoing=restore.ongoing, expiry=restore.expiry) if restore else None,
    )


def accepted_answer(request: Request, accepted: Accepted) -> JSONResponse:
    """201 with the image when new, 200 with `duplicate: true` (and `match`, `duplicate_of`)
    when this customer had sent the same bytes, or the same picture, before."""
    body = image_out(
        request,
        accepted.manifest,
        accepted.stored,
        duplicate=accepted.duplicate,
        match=accepted.match,
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=200 if accepted.duplicate else 201,
        headers={"Location": image_url(request, accepted.manifest.image_id)},
    )


async def ingest_response(request: Request, ctx: Context, job: IngestRequest) -> JSONResponse:
    """Ingest one image and answer it (see accepted_answer); a refusal is raised."""
    return accepted_answer(request, await run_in_threadpool(accept, job, ctx))
