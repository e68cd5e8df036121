"""Idempotency-Key on POSTs: records kept in object storage, so every Lambda container sees them.

A record lives at `idempotency/{sha256(customer)[:32]}/{sha256(key)}.json` (core.layout) and
holds the fingerprint of the request (method, route and a digest of what was sent: the image's
sha256, or the JSON body) and the response that was given (status, body, a few headers). The
same key with the same fingerprint replays that response; with another fingerprint it is
refused with 409. Responses that a retry could change (401, 409, 5xx, a direct upload completed
before its image arrived) are not kept. Within one process, requests with the same key take
turns; across containers two first attempts may both run, which ingest's own idempotency makes
harmless. Records are small; the bucket's lifecycle rule expires `idempotency/` after
IMGPIPE_IDEMPOTENCY_EXPIRE_DAYS.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from core import layout
from core.bootstrap import Context
from core.errors import NotFound, TransientError
from core.repository.objects import ObjectStore
from services.upload_api.problems import (
    HANDLED,
    ApiCode,
    ApiError,
    as_api_error,
    problem_response,
)

log = logging.getLogger("imgpipe.api")

KEPT_HEADERS = ("content-type", "location")
REPLAY_HEADER = "Idempotent-Replayed"
_UNKEPT_STATUSES = {401, 403, 409, 429}


@dataclass(frozen=True, slots=True)
class StoredResponse:
    fingerprint: str
    status: int
    headers: dict[str, str]
    body: bytes

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "fingerprint": self.fingerprint,
                "status": self.status,
                "headers": self.headers,
                "body": base64.b64encode(self.body).decode(),
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> StoredResponse:
        doc = json.loads(data)
        return cls(doc["fingerprint"], doc["status"], doc["headers"], base64.b64decode(doc["body"]))

    def response(self) -> Response:
        return Response(
            self.body,
            status_code=self.status,
            headers={**self.headers, REPLAY_HEADER: "true"},
        )


def fingerprint(request: Request, *parts: str | bytes) -> str:
    """What makes two requests the same: method, route and a digest of their content."""
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    digest = hashlib.sha256(f"{request.method} {template}".encode())
    for part in parts:
        digest.update(b"\0")
        digest.update(part.encode() if isinstance(part, str) else part)
    return digest.hexdigest()


_locks: dict[str, asyncio.Lock] = {}
_waiting: dict[str, int] = {}


async def idempotent(
    request: Request,
    ctx: Context,
    *,
    customer_id: str,
    idempotency_key: str | None,
    request_fingerprint: str,
    produce: Callable[[], Awaitable[Response]],
) -> Response:
    """produce()'s response, or the one kept for this key; refusals are kept like answers."""
    if idempotency_key is None:
        return await produce()
    objects = ctx.objects
    key = layout.idempotency_key(customer_id, idempotency_key)
    lock = _locks.setdefault(key, asyncio.Lock())
    _waiting[key] = _waiting.get(key, 0) + 1
    try:
        async with lock:
            stored = await run_in_threadpool(_load, objects, key)
            if stored is not None:
                if stored.fingerprint != request_fingerprint:
                    raise ApiError(
                        409,
                        ApiCode.IDEMPOTENCY_CONFLICT,
                        "this Idempotency-Key was used with another request; "
                        "use a new key for a new request",
                    )
                return stored.response()
            kept = True
            try:
                response = await produce()
            except HANDLED as exc:
                if isinstance(exc, TransientError):
                    raise
                refusal = as_api_error(exc)
                kept = refusal.kept
                response = problem_response(request, refusal)
            status = response.status_code
            if kept and status < 500 and status not in _UNKEPT_STATUSES:
                headers = {
                    name: response.headers[name]
                    for name in KEPT_HEADERS
                    if name in response.headers
                }
                record = StoredResponse(
                    request_fingerprint, response.status_code, headers, bytes(response.body)
                )
                body = record.to_json()
                await run_in_threadpool(
                    objects.put, key, body, "application/json", layout.RECORD_CACHE_CONTROL
                )
            return response
    finally:
        _waiting[key] -= 1
        if not _waiting[key]:
            del _waiting[key], _locks[key]


def _load(objects: ObjectStore, key: str) -> StoredResponse | None:
    try:
        return StoredResponse.from_json(objects.get(key))
    except NotFound:
        return None
    except (ValueError, KeyError):
        log.warning("unreadable idempotency record %s: answering afresh", key)
        return None
