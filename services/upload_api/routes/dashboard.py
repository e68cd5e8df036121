"""GET /dashboard: the key statistics as a page for people (HTML, inline SVG charts, no script).

It reads the numbers with the same call as GET /v1/stats, `core.stats_scope.read_stats`. A
browser cannot add an X-API-Key header to a link, so the page also takes the key as the password
of HTTP Basic authentication (any user name): browsers ask for it themselves on a 401 that
offers Basic.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from core.models import Source, customer_id_problem
from core.stats_scope import range_problem, read_stats
from services.upload_api.auth import Authenticator, presented_key
from services.upload_api.dashboard.page import content_security_policy, render
from services.upload_api.dashboard.view import DEFAULT_DAYS, MAX_DAYS, View
from services.upload_api.deps import ContextDep, is_admin
from services.upload_api.problems import ApiError

router = APIRouter(tags=["dashboard"], include_in_schema=False)

BASIC_CHALLENGE = 'Basic realm="imgpipe dashboard", charset="UTF-8"'


def _basic_password(header: str | None) -> str | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, separator, password = decoded.partition(":")
    return password if separator and password else None


def dashboard_customer(request: Request) -> str:
    """The caller, from X-API-Key, the Basic password, or API Gateway's authoriser."""
    auth: Authenticator = request.app.state.auth
    event: dict[str, Any] | None = request.scope.get("aws.event")
    try:
        key = presented_key(request.headers) or _basic_password(
            request.headers.get("Authorization")
        )
        customer = auth.customer(key, event)
    except ApiError as error:
        if error.status == 401 and auth.mode == "keys":
            error.headers["WWW-Authenticate"] = BASIC_CHALLENGE
        raise
    request.state.customer = customer  # for the request log line
    return customer


def _day(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be a date as YYYY-MM-DD, not {text[:40]!r}") from None


def parse_view(
    *,
    today: date,
    caller: str,
    admin: bool,
    since_text: str | None,
    until_text: str | None,
    source_text: str | None,
    customer_text: str | None,
) -> View:
    """The view the query asks for; an impossible one comes back with `error` set and the
    default range, so the page can say what was wrong and still offer the form."""
    source: Source | None = None
    if source_text == "upload":
        source = "upload"
    elif source_text == "stream":
        source = "stream"
    customer = (customer_text or "").strip() or None
    default = View(
        since=today - timedelta(DEFAULT_DAYS - 1),
        until=today,
        today=today,
        source=source,
        customer=customer if admin else None,
        caller=caller,
        admin=admin,
    )
    try:
        since = _day(since_text, "From")
        until = _day(until_text, "To")
        if source_text and source is None:
            raise ValueError(f"Source must be upload or stream, not {source_text[:40]!r}")
        if customer is not None and (problem := customer_id_problem(customer)) is not None:
            raise ValueError(f"Customer is no customer id: {problem}")
    except ValueError as error:
        return _with(default, error=str(error))
    until = until or (today if since is None or since <= today else since)
    since = since or _days_before(until, DEFAULT_DAYS - 1)
    if (problem := range_problem(since, until, max_days=MAX_DAYS)) is not None:
        return _with(default, error=f"{problem[0].upper()}{problem[1:]}.")
    return _with(default, since=since, until=until)


def _days_before(day: date, days: int) -> date:
    """`days` before `day`, or the first day there is: `to=0001-01-01` is odd, not an error."""
    try:
        return day - timedelta(days)
    except OverflowError:
        return date.min


def _with(view: View, **changes: Any) -> View:
    return replace(view, **changes)


@router.get("/dashboard", response_class=HTMLResponse, summary="Key statistics dashboard")
async def dashboard(
    request: Request,
    *,
    ctx: ContextDep,
    since_text: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    until_text: Annotated[str | None, Query(alias="to", max_length=64)] = None,
    source_text: Annotated[str | None, Query(alias="source", max_length=64)] = None,
    customer_text: Annotated[str | None, Query(alias="customer", max_length=256)] = None,
) -> HTMLResponse:
    """Daily volume by source, status breakdown, bytes in vs out, latency p50/p95, rejection
    reasons, format mix and top customers over a date range (default: the last 14 days)."""
    caller = dashboard_customer(request)
    admin = is_admin(caller, request)
    view = parse_view(
        today=datetime.now(UTC).date(),
        caller=caller,
        admin=admin,
        since_text=since_text,
        until_text=until_text,
        source_text=source_text,
        customer_text=customer_text,
    )
    headers = {
        "Content-Security-Policy": content_security_policy(),
        "Cache-Control": "no-store",
    }
    if view.error:
        return HTMLResponse(render(None, view), status_code=422, headers=headers)
    requested = view.customer if admin else (customer_text or "").strip() or None
    stats = await run_in_threadpool(
        read_stats,
        caller,
        ctx,
        admin=admin,
        since=view.since,
        until=view.until,
        source=view.source,
        customer=requested,
    )
    return HTMLResponse(render(stats, view), headers=headers)
