"""`GET /metrics`: the process's counters in Prometheus text format, for `imgpipe serve` only.

An operations endpoint, not part of the public API (absent from the OpenAPI document): it is
answered to loopback clients only (a Prometheus agent on the host), unless IMGPIPE_METRICS_OPEN
says the network in front already keeps strangers out. Anyone else gets a 404, as if there
were no such route. On Lambda, metrics go to CloudWatch as EMF and this route is not mounted.
"""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from core.telemetry import metrics
from services.upload_api.deps import ContextDep
from services.upload_api.problems import ApiCode, ApiError

router = APIRouter(include_in_schema=False)


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics")
async def prometheus_metrics(request: Request, ctx: ContextDep) -> Response:
    client = request.client.host if request.client else None
    if not (ctx.settings.metrics_open or _loopback(client)):
        raise ApiError(404, ApiCode.NOT_FOUND, "no such resource")
    body, content_type = await run_in_threadpool(metrics.exposition)
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
