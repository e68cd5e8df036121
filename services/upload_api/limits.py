"""The body limit, enforced while the body is read: 413 long before a huge body is in memory."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import ErrorCode
from services.upload_api.problems import ApiError, problem_response


class RequestTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            ErrorCode.TOO_LARGE,
            f"the request body is over the limit of {limit} bytes; "
            "for large images use POST /v1/uploads",
            title="Request too large",
            max_bytes=limit,
        )


class BodyLimitMiddleware:
    """Refuses a declared Content-Length over the limit before reading anything, and counts the
    bytes of the receive stream otherwise (chunked bodies), raising RequestTooLarge mid-read."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await problem_response(Request(scope), RequestTooLarge(self.limit))(
                scope, receive, send
            )
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise RequestTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except RequestTooLarge as error:
            if response_started:
                raise
            await problem_response(Request(scope), error)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
