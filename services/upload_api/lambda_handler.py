"""The upload API on AWS Lambda behind API Gateway (HTTP API payload 2.0, or REST API v1).

The app, its database engine and storage client are built once per container, at import, and
reused by every invocation; Mangum's lifespan is off because it would run on each invocation.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum
from starlette.types import ASGIApp, Receive, Scope, Send

from services.upload_api.app import create_app

# Problem documents are text: without this Mangum would base64 them like images.
TEXT_MIME_TYPES = [
    "text/",
    "application/json",
    "application/problem+json",
    "application/javascript",
    "application/vnd.oai.openapi",
]


def stage_prefix(event: dict[str, Any]) -> str:
    """`/prod` when the client's URL starts with the stage name (the execute-api host with a
    named stage), so that links the app makes lead back through it; '' for `$default` and for
    custom domains, whose URLs carry no stage."""
    context = event.get("requestContext") or {}
    stage = context.get("stage")
    if not stage or stage == "$default":
        return ""
    prefix = f"/{stage}"
    seen = context.get("path") or (context.get("http") or {}).get("path") or ""
    return prefix if seen == prefix or seen.startswith(prefix + "/") else ""


class GatewayStage:
    """Sets the ASGI root_path to the stage prefix (REST API events omit it from `path`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        event = scope.get("aws.event")
        if scope["type"] == "http" and isinstance(event, dict):
            prefix = stage_prefix(event)
            if prefix:
                path = scope["path"]
                if path != prefix and not path.startswith(prefix + "/"):
                    path = prefix + path
                scope = {**scope, "root_path": prefix, "path": path}
        await self.app(scope, receive, send)


app = create_app()
handler = Mangum(GatewayStage(app), lifespan="off", text_mime_types=TEXT_MIME_TYPES)
