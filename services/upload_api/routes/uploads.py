"""/v1/uploads: images too large for the request go straight to storage, then are completed."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from core import images
from core.bootstrap import Context
from core.errors import ErrorCode, NotFound, PermanentError
from core.ingest import discard_upload
from core.models import IngestRequest
from services.upload_api.deps import ContextDep, CustomerDep, IdempotencyKeyDep
from services.upload_api.idempotency import fingerprint, idempotent
from services.upload_api.problems import documented
from services.upload_api.schemas import (
    UPLOAD_LINKS,
    ImageOut,
    UploadIn,
    UploadOut,
    example,
    ok_response,
    stored_image_responses,
)
from services.upload_api.views import image_url, ingest_answer, ingested, view_out

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])

UploadId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{32}$", description="The upload id POST /v1/uploads gave.")
]


def upload_key(upload_id: str) -> str:
    return f"uploads/{upload_id}"


def _record_key(upload_id: str) -> str:
    # Beside the upload, under uploads/: the same lifecycle rule expires both.
    return f"uploads/{upload_id}.json"


@router.post(
    "",
    status_code=201,
    summary="Start a direct upload",
    response_model=UploadOut,
    responses={
        201: ok_response(example(UploadOut), "Where and how to send the image", UPLOAD_LINKS),
        **documented(400, 401, 409, 413, 422, 503),
    },
)
async def create_upload(
    request: Request,
    *,
    ctx: ContextDep,
    customer: CustomerDep,
    body: Annotated[UploadIn | None, Body()] = None,
    idempotency_key: IdempotencyKeyDep = None,
) -> Response:
    """For images larger than a request may carry (API Gateway takes 10 MB, Lambda 6 MB):
    answers a presigned URL to send the image straight to storage (S3: a POST policy that
    bounds the size; the local folder store: a signed PUT), valid for at most 15 minutes.
    Then POST the `complete_url`. Uploads never completed expire by the bucket's lifecycle."""
    wanted = body or UploadIn()
    limit = ctx.settings.max_bytes
    if wanted.bytes is not None and wanted.bytes > limit:
        raise PermanentError(
            ErrorCode.TOO_LARGE, f"{wanted.bytes} bytes is over the limit of {limit}"
        )

    async def create() -> Response:
        upload_id = uuid.uuid4().hex
        presigned = await run_in_threadpool(
            ctx.objects.presign_upload, upload_key(upload_id), wanted.content_type, limit
        )
        record = {
            "customer_id": customer,
            "content_type": wanted.content_type,
            "created_at": datetime.now(UTC).isoformat(),
        }
        await run_in_threadpool(
            ctx.objects.put,
            _record_key(upload_id),
            json.dumps(record).encode(),
            "application/json",
            "no-store",
        )
        url = presigned.url
        if url.startswith("/"):  # the folder store signs paths that this app serves
            url = str(request.base_url).rstrip("/") + url
        out = UploadOut(
            upload_id=upload_id,
            method=presigned.method,
            url=url,
            headers=presigned.headers,
            fields=presigned.fields,
            expires_in=presigned.expires_in,
            max_bytes=limit,
            complete_url=str(request.url_for("complete_upload", upload_id=upload_id)),
        )
        return JSONResponse(out.model_dump(mode="json"), status_code=201)

    canonical = json.dumps(wanted.model_dump(mode="json"), sort_keys=True)
    return await idempotent(
        request,
        ctx.objects,
        customer_id=customer,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint(request, canonical),
        produce=create,
    )


@router.post(
    "/{upload_id}/complete",
    status_code=201,
    summary="Complete a direct upload",
    response_model=ImageOut,
    responses={
        **stored_image_responses("Already stored for this customer (or this upload was completed)"),
        **documented(401, 404, 409, 413, 415, 422, 503),
    },
)
async def complete_upload(
    request: Request,
    *,
    ctx: ContextDep,
    customer: CustomerDep,
    upload_id: UploadId,
    idempotency_key: IdempotencyKeyDep = None,
) -> Response:
    """Processes the uploaded object from storage and answers like POST /v1/images. Completing
    the same upload again answers the image it became."""

    async def complete() -> Response:
        record = await run_in_threadpool(_load_record, ctx, upload_id, customer)
        if "image_id" in record:
            view = await run_in_threadpool(
                images.get_image, uuid.UUID(record["image_id"]), customer, ctx
            )
            return JSONResponse(
                view_out(request, view, duplicate=True).model_dump(mode="json"),
                headers={"Location": image_url(request, view.manifest.image_id)},
            )
        job = IngestRequest(
            customer_id=customer,
            source="upload",
            event_id=f"upload:{upload_id}",
            object_key=upload_key(upload_id),
            declared_type=record.get("content_type"),
        )
        manifest, duplicate = await ingested(ctx, job)
        # The record learns the image before the upload goes: a retry that finds no upload
        # then answers the image instead of a 404.
        await run_in_threadpool(
            ctx.objects.put,
            _record_key(upload_id),
            json.dumps({**record, "image_id": str(manifest.image_id)}).encode(),
            "application/json",
            "no-store",
        )
        await run_in_threadpool(discard_upload, ctx.objects, upload_key(upload_id))
        return ingest_answer(request, manifest, duplicate=duplicate)

    return await idempotent(
        request,
        ctx.objects,
        customer_id=customer,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint(request, upload_id),
        produce=complete,
    )


def _load_record(ctx: Context, upload_id: str, customer: str) -> dict[str, Any]:
    try:
        record: dict[str, Any] = json.loads(ctx.objects.get(_record_key(upload_id)))
    except NotFound:
        raise NotFound(f"upload {upload_id} (never started, or expired)") from None
    if record.get("customer_id") != customer:
        raise NotFound(f"upload {upload_id} (never started, or expired)")
    return record
