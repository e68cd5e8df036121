"""Liveness and readiness: is the process up, and can it reach its database and storage."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from core.errors import TransientError
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
async def readyz(ctx: ContextDep) -> ReadyOut:
    """Pings the warehouse and object storage; 503 (with what failed) when either is down."""
    checks: dict[str, str] = {}
    for name, ping in (("database", ctx.warehouse.ping), ("storage", ctx.objects.ping)):
        try:
            await run_in_threadpool(ping)
            checks[name] = "ok"
        except TransientError as error:
            checks[name] = f"unreachable: {error.detail}"
    failed = [name for name, state in checks.items() if state != "ok"]
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
