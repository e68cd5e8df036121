"""Dependencies of the routes, declared once as Annotated aliases."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyHeader

from core.bootstrap import Context
from core.config import Settings
from core.stats_scope import sees_every_customer
from services.upload_api.auth import API_KEY_HEADER, Authenticator, presented_key

api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    scheme_name="ApiKey",
    description="Your API key. The server keeps only its SHA-256 digest.",
)


def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def get_settings(request: Request) -> Settings:
    return get_context(request).settings


def current_customer(
    request: Request, api_key: Annotated[str | None, Security(api_key_scheme)] = None
) -> str:
    """The caller's customer id; 401 when the request does not say who it is."""
    auth: Authenticator = request.app.state.auth
    event: dict[str, Any] | None = request.scope.get("aws.event")
    if api_key is not None:
        api_key = presented_key(request.headers)  # one, not the first of several
    customer = auth.customer(api_key, event)
    request.state.customer = customer  # for the request log line
    return customer


def is_admin(caller: str, request: Request) -> bool:
    """Whether the caller sees every customer's statistics (see core.stats_scope)."""
    auth: Authenticator = request.app.state.auth
    authenticated = auth.mode != "open"
    return sees_every_customer(caller, get_settings(request), authenticated=authenticated)


ContextDep = Annotated[Context, Depends(get_context)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CustomerDep = Annotated[str, Depends(current_customer)]
IdempotencyKeyDep = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[!-~]+$",
        description="Any printable ASCII string of your choice (a UUID is best). Repeating a "
        "POST with the same key and body returns the first response; the same key with "
        "another body is refused with 409. Keys are kept for a day.",
    ),
]
