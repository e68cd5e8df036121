"""Liveness and readiness: is the process up, and can it reach its database and storage."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from core import health
from services.upload_api.deps import ContextDep
from services.upload_api.problems import ApiCode, ApiError, documented
from services.upload_api.schemas import HealthOut, ReadyOut, ok_response

log = logging.getLogger("imgpipe.api")

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
    summary="Database and storage are reachable",
    response_model=ReadyOut,
    responses={
        200: ok_response(
            {"status": "ready", "checks": {"database": "ok", "storage": "ok"}},
            "The database and object storage both answered",
        ),
        **documented(503),
    },
)
async def readyz(request: Request, ctx: ContextDep) -> ReadyOut:
    """Pings the warehouse and object storage; 503 (with which failed) when either is down."""
    failures = await run_in_threadpool(health.unreachable, ctx)
    checks = {name: "ok" if error is None else "unreachable" for name, error in failures.items()}
    failed = [name for name, state in checks.items() if state != "ok"]
    request_id = request.scope.get("state", {}).get("request_id")
    for name, error in failures.items():
        if error is not None:  # the why stays in the log: it names paths and driver errors
            log.warning(
                "not ready: %s unreachable: %s",
                name,
                error.detail,
                extra={"request_id": request_id},
            )
    if failed:
        raise ApiError(
            503,
            ApiCode.UNAVAILABLE,
            f"not ready: {', '.join(failed)} unreachable",
            headers={"Retry-After": "5"},
            checks=checks,
            retry_after=5,
        )
    return ReadyOut(checks=checks)
