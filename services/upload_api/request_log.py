"""Request logs: one line per request with its id, and a last-resort 500 that is still a problem."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import Message, Receive, Scope, Send

from core.telemetry.logs import JsonFormatter, correlated
from services.upload_api.problems import ApiCode, ApiError, problem_response
from services.upload_api.protocol import HttpMiddleware

log = logging.getLogger("imgpipe.api")
access = logging.getLogger("imgpipe.api.access")

REQUEST_ID_HEADER = "x-request-id"
# nginx's status for a request its client closed before an answer: not a server error.
CLIENT_CLOSED_REQUEST = 499
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:=+/-]{1,128}$")


def document_request_id(schema: dict[str, Any]) -> dict[str, Any]:
    """Every response of the OpenAPI document names the X-Request-Id header it carries."""
    header = {
        "description": "The request's id: the client's X-Request-Id when it sent a safe one, "
        "else API Gateway's request id or a new one. Quote it when reporting a problem.",
        "schema": {"type": "string"},
    }
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for response in operation.get("responses", {}).values():
                response.setdefault("headers", {})["X-Request-Id"] = header
    return schema


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER.encode():
            candidate: str = value.decode("latin-1")
            if _SAFE_ID.match(candidate):
                return candidate
    event = scope.get("aws.event") or {}
    gateway_id = (event.get("requestContext") or {}).get("requestId")
    if isinstance(gateway_id, str) and _SAFE_ID.match(gateway_id):
        return gateway_id
    return uuid.uuid4().hex


class RequestLogMiddleware(HttpMiddleware):
    """Gives each request an id (echoed in X-Request-Id), logs one line when it ends, and turns
    an exception that escaped every handler into a problem 500 instead of a bare error page."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = _request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0] != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            with correlated(correlation_id=request_id, request_id=request_id):
                await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            status = CLIENT_CLOSED_REQUEST  # nobody is left to answer
            log.info(
                "client disconnected before its request was read", extra={"request_id": request_id}
            )
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id})
            if not response_started:
                error = ApiError(
                    500, ApiCode.INTERNAL, "an unexpected error occurred; quote the request id"
                )
                await problem_response(Request(scope), error)(scope, receive, send_with_id)
        finally:
            access.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "path": scope.get("path"),  # never the query: signed URLs carry secrets
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "customer": state.get("customer"),
                },
            )


__all__ = ["JsonFormatter", "RequestLogMiddleware", "document_request_id"]
