"""API Gateway specifics of the Lambda entry point: links that lead back through the stage."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send


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
