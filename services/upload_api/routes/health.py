"""Liveness and readiness: is the process up, and can it reach object storage."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from core.health import readiness
from services.upload_api.deps import ContextDep
from services.upload_api.problems import ApiCode, ApiError, documented
from services.upload_api.schemas import HealthOut, ReadyOut, ok_response

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Process is up",
    response_model=HealthOut,
    responses={200: ok_response({"status": "ok"}, "The process serves requests")},
)
async def healthz() -> HealthOut:
    """Answers as long as the process serves requests; checks nothing else."""
    return HealthOut()


@router.get(
    "/readyz",
    summary="Object storage is reachable",
    response_model=ReadyOut,
    responses={
        200: ok_response(
            {
                "status": "ready",
                "checks": {"storage": "ok", "database": "ok"},
                "warehouse_lag_seconds": 1.5,
            },
            "Object storage answered: images are accepted. The warehouse's state and the "
            "loader's lag are reported, and do not make the service unready.",
        ),
        **documented(503),
    },
)
async def readyz(request: Request, ctx: ContextDep) -> ReadyOut:
    """Pings object storage (503 when it is down: nothing can be ingested) and the warehouse,
    which ingest no longer needs: a warehouse outage delays lists and statistics, not
    uploads. `warehouse_lag_seconds` is the age of the oldest fact not loaded yet (null when
    the warehouse does not answer)."""
    state = await run_in_threadpool(readiness, ctx, request.app.state.lag_probe)
    checks = {"storage": state.storage, "database": state.database}
    if not state.ready:
        raise ApiError(
            503,
            ApiCode.UNAVAILABLE,
            "not ready: storage unreachable",
            headers={"Retry-After": "5"},
            checks=checks,
            retry_after=5,
        )
    return ReadyOut(checks=checks, warehouse_lag_seconds=state.lag_seconds)
