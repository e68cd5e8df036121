"""/local-objects/{key}: the folder store's presigned URLs, served when storage is a folder."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from core import signed_urls, uploads
from core.bootstrap import Context
from core.errors import ErrorCode
from services.upload_api.deps import ContextDep
from services.upload_api.problems import ApiCode, ApiError

router = APIRouter(prefix="/local-objects", include_in_schema=False)


Signature = Annotated[str, Query(max_length=128)]
Expires = Annotated[str, Query(max_length=20)]


def _verify(
    ctx: Context,
    key: str,
    *,
    method: str,
    expires: str,
    signature: str,
    max_bytes: str | None = None,
) -> None:
    valid = signed_urls.signature_valid(
        key, ctx, method=method, expires=expires, signature=signature, max_bytes=max_bytes
    )
    if not valid:
        raise ApiError(
            403,
            ApiCode.INVALID_SIGNATURE,
            "the URL's signature is wrong or has expired; ask for a new one",
        )


@router.get("/{key:path}")
async def get_object(
    *,
    ctx: ContextDep,
    key: str,
    expires: Expires,
    signature: Signature,
    method: Annotated[str, Query(pattern="^GET$")] = "GET",
) -> Response:
    _verify(ctx, key, method="GET", expires=expires, signature=signature)
    info, data = await run_in_threadpool(signed_urls.read, key, ctx)
    return Response(
        data,
        media_type=info.content_type or "application/octet-stream",
        headers={"ETag": f'"{info.etag}"', "Cache-Control": "private, no-cache"},
    )


@router.put("/{key:path}")
async def put_object(
    request: Request,
    *,
    ctx: ContextDep,
    key: str,
    expires: Expires,
    signature: Signature,
    max_bytes: Annotated[str, Query(max_length=20)],
    method: Annotated[str, Query(pattern="^PUT$")] = "PUT",
) -> Response:
    _verify(ctx, key, method="PUT", expires=expires, signature=signature, max_bytes=max_bytes)
    await run_in_threadpool(uploads.check_open, key, ctx)  # before reading a body for nothing
    limit = int(max_bytes)
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > limit:
            raise ApiError(413, ErrorCode.TOO_LARGE, f"the upload is over {limit} bytes")
    content_type = request.headers.get("content-type", "application/octet-stream")
    info = await run_in_threadpool(signed_urls.write, key, bytes(data), content_type, ctx)
    return Response(status_code=200, headers={"ETag": f'"{info.etag}"'})
