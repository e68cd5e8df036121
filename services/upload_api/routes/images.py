"""/v1/images: upload an image, read it back, list them, fetch renditions, restore archives,
erase one."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import AfterValidator
from starlette.concurrency import run_in_threadpool

from core import erasure, images
from core.errors import Archived
from core.models import IngestRequest
from services.upload_api.body import FILE_FIELD, read_posted_image
from services.upload_api.deps import ContextDep, CustomerDep, IdempotencyKeyDep, is_admin
from services.upload_api.idempotency import fingerprint, idempotent
from services.upload_api.problems import ApiCode, ApiError, documented, restore_state
from services.upload_api.receipts import ErasureOut, receipt_out
from services.upload_api.schemas import (
    IMAGE_LINKS,
    ImageOut,
    ImagePageOut,
    RestoreIn,
    example,
    ok_response,
    stored_image_responses,
)
from services.upload_api.views import ingest_response, summary_out, view_out

router = APIRouter(prefix="/v1/images", tags=["images"])

ImageId = Annotated[uuid.UUID, Path(description="The image id, as POST answered it.")]
RenditionName = Annotated[
    str,
    Path(pattern=r"^[a-z][a-z0-9_-]{0,31}$", description="A rendition name, e.g. display, thumb."),
]

RAW_IMAGE_TYPES = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/tiff",
    "image/bmp",
    "image/avif",
    "image/heic",
    "application/octet-stream",
)
PRIVATE_IMMUTABLE = "private, max-age=31536000, immutable"
_BINARY = {"type": "string", "format": "binary"}
IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The image: a multipart form with a part named `file`, or the bytes "
        "themselves with an image/* Content-Type. The format is read from the bytes; names "
        "and declared types are not trusted.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {FILE_FIELD: _BINARY},
                }
            },
            **{media_type: {"schema": _BINARY} for media_type in RAW_IMAGE_TYPES},
        },
    }
}


def _in_utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is UTC. One whose UTC equivalent falls outside the years 1 to
    9999 (0001-01-01T00:00+14:00) is refused here, as a parameter error: the database layer
    would fail converting it, and that would be our 500 for the client's typo."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


Since = Annotated[
    datetime | None,
    AfterValidator(_in_utc),
    Query(description="Only images first seen at or after this time (no zone: UTC)."),
]


@router.post(
    "",
    status_code=201,
    summary="Upload an image",
    response_model=ImageOut,
    responses={
        **stored_image_responses("Already stored for this customer"),
        **documented(400, 401, 408, 409, 413, 415, 422, 503),
    },
    openapi_extra=IMAGE_BODY,
)
async def post_image(
    request: Request,
    *,
    ctx: ContextDep,
    customer: CustomerDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Response:
    """Ingests one image sent in the request (up to ~6 MB on Lambda, whose payload limit
    binds first; use POST /v1/uploads above that). The format is sniffed from the bytes;
    renditions are made, stored, and described in the answer. The same bytes from the same
    customer are the same image: 200 with `duplicate: true` instead of 201."""
    posted = await read_posted_image(request)
    attributes = {"filename": posted.filename} if posted.filename else {}
    job = IngestRequest(
        customer_id=customer,
        source="upload",
        event_id=_event_id(customer, idempotency_key),
        data=posted.data,
        declared_type=posted.declared_type,
        attributes=attributes,
    )
    return await idempotent(
        request,
        ctx,
        customer_id=customer,
        idempotency_key=idempotency_key,
        # The image's digest, not the raw body's: multipart boundaries differ between retries.
        request_fingerprint=(
            fingerprint(request, hashlib.sha256(posted.data).hexdigest()) if idempotency_key else ""
        ),
        produce=lambda: ingest_response(request, ctx, job),
    )


def _event_id(customer: str, idempotency_key: str | None) -> str:
    """A retried request with the same Idempotency-Key is the same event: one row, not two."""
    if idempotency_key is None:
        return f"upload:{uuid.uuid4()}"
    return "upload:" + hashlib.sha256(f"{customer}\0{idempotency_key}".encode()).hexdigest()[:32]


@router.get(
    "",
    summary="List your images",
    response_model=ImagePageOut,
    responses={
        200: ok_response(example(ImagePageOut), "A page of images"),
        **documented(400, 401, 422, 503),
    },
)
async def list_images(
    request: Request,
    *,
    ctx: ContextDep,
    customer: CustomerDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="Images per page.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the page before.")
    ] = None,
    since: Since = None,
) -> ImagePageOut:
    """Your images, oldest first, a page at a time: pass `next_cursor` as `cursor` for the
    next page (pages neither skip nor repeat while images are added). Only the caller's images
    are listed. The list is read from the warehouse, which the loader fills from the fact log:
    an image shows here within one load interval of its upload (a minute on AWS, seconds
    locally; GET /v1/images/{image_id} has it at once). See `warehouse_lag_seconds` in
    /readyz."""
    page = await run_in_threadpool(
        images.list_images, customer, ctx, limit=limit, cursor=cursor, since=since
    )
    items = [summary_out(request, row) for row in page.items]
    return ImagePageOut(items=items, next_cursor=page.next_cursor)


@router.get(
    "/{image_id}",
    summary="Get an image",
    response_model=ImageOut,
    responses={
        200: ok_response(example(ImageOut), "The image"),
        **documented(401, 404, 422, 503),
    },
)
async def get_image(
    request: Request, *, ctx: ContextDep, customer: CustomerDep, image_id: ImageId
) -> ImageOut:
    """The image's metadata and renditions, read from its manifest in object storage, with
    each rendition's storage class and restore state."""
    view = await run_in_threadpool(images.get_image, image_id, customer, ctx)
    return view_out(request, view)


@router.delete(
    "/{image_id}",
    summary="Erase an image",
    response_model=ErasureOut,
    responses={
        200: ok_response(example(ErasureOut), "Erased: the receipt"),
        **documented(401, 404, 422, 503),
    },
)
async def delete_image(
    request: Request, *, ctx: ContextDep, customer: CustomerDep, image_id: ImageId
) -> ErasureOut:
    """Erases the image and every stored trace of it: the manifest, every rendition
    (archived ones too: deleting from Glacier Deep Archive is allowed, and S3 bills such an
    object as if kept its 180-day minimum), the content index, idempotency records that would
    replay it, dead letters and direct uploads naming it, and its rows in the fact log (its
    ingest events stay for the statistics, without the image id). The warehouse rows go at the
    loader's next load and `image.deleted` is announced; the receipt says so under
    `scheduled`. Only the image's owner may erase it (customers in IMGPIPE_ADMIN_CUSTOMERS:
    any); another customer's image is 404, as is an image erased already. An upload of the
    same image during the erasure is answered 503 and, retried after it, stored as a new
    image (201). A 503 leaves the erasure unfinished: DELETE again to finish it."""
    owner = None if is_admin(customer, request) else customer
    receipt = await run_in_threadpool(erasure.erase_image, image_id, owner, ctx)
    return receipt_out(receipt)


@router.get(
    "/{image_id}/renditions/{name}",
    summary="Fetch a rendition",
    response_class=Response,
    responses={
        200: {
            "description": "The rendition's bytes (local folder storage)",
            "content": {"image/jpeg": {"schema": _BINARY}, "image/webp": {"schema": _BINARY}},
        },
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        307: {
            "description": "Redirect to a presigned storage URL valid for at most 15 minutes",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **documented(401, 404, 409, 422, 503),
    },
)
async def get_rendition(
    request: Request,
    *,
    ctx: ContextDep,
    customer: CustomerDep,
    image_id: ImageId,
    name: RenditionName,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """On S3, a 307 to a presigned URL (at most 15 minutes); on the local folder store, the
    bytes with their type and ETag. An archived rendition that is not restored answers 409 with
    its restore state: POST /v1/images/{image_id}/restore, then retry once it is readable."""
    try:
        record, info = await run_in_threadpool(images.open_rendition, image_id, name, customer, ctx)
    except Archived as archived:
        raise ApiError(
            409,
            ApiCode.ARCHIVED,
            f"rendition {name!r} is in {archived.state.storage_class} and not restored; "
            "request a restore, which takes hours, then retry",
            restore=restore_state(archived),
            how_to_restore={
                "method": "POST",
                "url": str(request.url_for("restore_image", image_id=str(image_id))),
                "body": {"tier": "Bulk", "days": ctx.settings.restore_days},
            },
        ) from None
    url = await run_in_threadpool(images.presigned_rendition_url, record, ctx)
    if url is not None:
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    etag = f'"{info.etag}"'
    # Never the object's own (public) Cache-Control: this answer needed a key, and a shared
    # cache that kept it would hand one customer's image to anyone asking for the URL. The
    # bytes of a rendition never change, so the caller's own cache may keep them for good.
    headers = {"ETag": etag, "Cache-Control": PRIVATE_IMMUTABLE}
    if if_none_match and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    data = await run_in_threadpool(images.read_rendition, record, ctx)
    return Response(data, media_type=record.content_type, headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


@router.post(
    "/{image_id}/restore",
    status_code=202,
    summary="Restore archived renditions",
    response_model=ImageOut,
    responses={
        202: ok_response(
            example(ImageOut), "Restore requested; GET the image to follow it", IMAGE_LINKS
        ),
        **documented(400, 401, 404, 408, 409, 422, 503),
    },
)
async def restore_image(
    request: Request,
    *,
    ctx: ContextDep,
    customer: CustomerDep,
    image_id: ImageId,
    body: Annotated[RestoreIn | None, Body()] = None,
    idempotency_key: IdempotencyKeyDep = None,
) -> Response:
    """Asks storage for readable copies of the image's archived renditions (Deep Archive: Bulk
    within 48 hours, Standard within 12). Renditions already readable or being restored are
    left alone. The state shows in each rendition's `storage.restore`."""
    wanted = body or RestoreIn()
    days = wanted.days or ctx.settings.restore_days
    canonical = json.dumps(wanted.model_dump(mode="json"), sort_keys=True)

    async def restore() -> Response:
        view = await run_in_threadpool(
            images.request_restore,
            image_id,
            customer,
            ctx,
            days=days,
            tier=wanted.tier,
            names=wanted.renditions,
        )
        return JSONResponse(view_out(request, view).model_dump(mode="json"), status_code=202)

    return await idempotent(
        request,
        ctx,
        customer_id=customer,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint(request, str(image_id), canonical),
        produce=restore,
    )
