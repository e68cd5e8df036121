"""Bounds on reading a body: its size (413 long before a huge body is in memory) and the wait
for its next bytes (408: uvicorn has no body read timeout of its own)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import ErrorCode
from services.upload_api.problems import ApiCode, ApiError, problem_response
from services.upload_api.protocol import HttpMiddleware


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


class RequestTimeout(ApiError):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            ApiCode.REQUEST_TIMEOUT,
            f"no part of the request body arrived for {seconds:g} s",
            headers={"Connection": "close"},
        )


class BodyLimitMiddleware(HttpMiddleware):
    """Refuses a declared Content-Length over the limit before reading anything, and counts the
    bytes of the receive stream otherwise (chunked bodies), raising RequestTooLarge mid-read.
    While the body is incomplete, each wait for more of it lasts at most `read_timeout`
    seconds (RequestTimeout); once it is complete, receive is left alone (it then waits for
    the client to go away, as long as a response streams)."""

    def __init__(self, app: ASGIApp, limit: int, read_timeout: float | None = None) -> None:
        super().__init__(app)
        self.limit = limit
        self.read_timeout = read_timeout

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await problem_response(Request(scope), RequestTooLarge(self.limit))(
                scope, receive, send
            )
            return
        received = 0
        complete = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, complete
            if complete or self.read_timeout is None:
                message = await receive()
            else:
                try:
                    async with asyncio.timeout(self.read_timeout):
                        message = await receive()
                except TimeoutError:
                    raise RequestTimeout(self.read_timeout) from None
            if message["type"] == "http.request":
                complete = not message.get("more_body", False)
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
        except (RequestTooLarge, RequestTimeout) as error:
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
