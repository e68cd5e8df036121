"""/v1/uploads: images too large for the request go straight to storage, then are completed."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from core import uploads
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
from services.upload_api.views import accepted_answer

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])

UploadId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{32}$", description="The upload id POST /v1/uploads gave.")
]


@router.post(
    "",
    status_code=201,
    summary="Start a direct upload",
    response_model=UploadOut,
    responses={
        201: ok_response(example(UploadOut), "Where and how to send the image", UPLOAD_LINKS),
        **documented(400, 401, 408, 409, 413, 422, 503),
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

    async def create() -> Response:
        started = await run_in_threadpool(
            uploads.start_upload, customer, wanted.content_type, wanted.bytes, ctx
        )
        presigned = started.presigned
        url = presigned.url
        if url.startswith("/"):  # the folder store signs paths that this app serves
            url = str(request.base_url).rstrip("/") + url
        out = UploadOut(
            upload_id=started.upload_id,
            method=presigned.method,
            url=url,
            headers=presigned.headers,
            fields=presigned.fields,
            expires_in=presigned.expires_in,
            max_bytes=started.max_bytes,
            complete_url=str(request.url_for("complete_upload", upload_id=started.upload_id)),
        )
        return JSONResponse(out.model_dump(mode="json"), status_code=201)

    canonical = json.dumps(wanted.model_dump(mode="json"), sort_keys=True)
    return await idempotent(
        request,
        ctx,
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
    """Processes the uploaded object from storage and answers like POST /v1/images: 201 with
    the image, or 200 with `duplicate: true` when this customer had sent the same bytes before.
    Completing an upload again, or several times at once, answers 201 once and 200 with
    `duplicate: true` (the same image) to every other call; calls reaching different server
    instances at the same moment may each answer 201, with the same image. Called before the
    image was sent: 404 `source_not_found`, and nothing is recorded, so completing it once the
    image is sent succeeds. A completed upload's URL takes no new object (S3 cannot withdraw
    its POST policy before it expires: an object sent there after completion is never read,
    and expires with the upload)."""

    async def complete() -> Response:
        accepted = await run_in_threadpool(uploads.complete_upload, upload_id, customer, ctx)
        return accepted_answer(request, accepted)

    return await idempotent(
        request,
        ctx,
        customer_id=customer,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint(request, upload_id),
        produce=complete,
    )
