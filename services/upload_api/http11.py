"""uvicorn's httptools protocol with a bound on each request's head and a deadline for it."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.config import get_settings

# Request line and headers together; nginx reads them into 4 buffers of 8 KiB by default.
MAX_HEAD_BYTES = 32 * 1024

_TOO_LARGE_TEXT = f"the request line and headers are over {MAX_HEAD_BYTES} bytes\n".encode()
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    + f"content-length: {len(_TOO_LARGE_TEXT)}\r\n".encode()
    + b"connection: close\r\n\r\n"
    + _TOO_LARGE_TEXT
)


class BoundedHeadProtocol(HttpToolsProtocol):
    """httptools, unlike h11, buffers a request head of any size: here one over
    MAX_HEAD_BYTES is answered 431 and the connection closed, and a head must be complete
    within the read timeout of the connection's opening or of its first byte (not of its latest
    byte: a client trickling a byte at a time must not hold the connection). Between requests
    uvicorn's keep-alive timeout applies; the app bounds the wait for a body."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout = get_settings().read_timeout_seconds
        self._head_deadline: asyncio.TimerHandle | None = None
        self._in_head = True
        self._head_bytes = 0  # received while the head is incomplete (an upper bound)
        self._head_size = 0  # of the request line and headers parsed
        self._too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)  # the parser's callbacks say where a head begins and ends
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse()
        else:
            self._await_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._head_size = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._head_size += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_waiting()
        if self._head_size > MAX_HEAD_BYTES:  # complete within one read, but too large
            self._too_large = True
            raise ValueError("request head too large")  # the parser stops: send_400_response
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _refuse(self) -> None:
        self.transport.write(_TOO_LARGE)
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        if self._head_deadline is None and not self.transport.is_closing():
            self._head_deadline = self.loop.call_later(self._head_timeout, self._too_slow)

    def _stop_waiting(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _too_slow(self) -> None:
        self._head_deadline = None
        if self._in_head:
            self.transport.close()
