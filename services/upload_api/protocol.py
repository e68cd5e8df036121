"""HTTP details the framework leaves to us: HEAD answered like GET, and safe response headers."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# An API answer is data, never a page: a browser that is tricked into rendering one (a problem
# echoing a client's text, an uploaded object) runs no script, loads nothing, frames nothing.
API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
# HTML pages (the docs, the dashboard) need their scripts and styles; they may set a policy of
# their own, and at least are never framed by another site.
PAGE_CSP = "frame-ancestors 'none'"
HSTS = "max-age=31536000"
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class HttpMiddleware:
    """An ASGI middleware that acts on HTTP requests only: other scopes (lifespan) pass by."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class SecurityHeadersMiddleware(HttpMiddleware):
    """Adds the headers every answer should carry, leaving those a route chose alone.

    JSON answers without a Cache-Control get `no-store`: they describe one customer's images
    and were given for a key, so no cache on the way may keep them. HSTS goes out only on
    requests that came over HTTPS (API Gateway, a TLS proxy), never on plain local HTTP.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                media_type = headers.get("content-type", "").split(";")[0].strip().lower()
                is_page = media_type == "text/html"
                headers.setdefault("Content-Security-Policy", PAGE_CSP if is_page else API_CSP)
                if media_type.endswith("json"):
                    headers.setdefault("Cache-Control", "no-store")
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadAsGetMiddleware(HttpMiddleware):
    """Answers HEAD with the headers GET would give and no body (RFC 9110 9.3.2).

    FastAPI registers GET routes for GET alone, so a HEAD (a link checker, a CDN, `curl -I`)
    met a 405. The request is routed as GET; the body is dropped on the way out, with the
    Content-Length of the GET answer left as it is.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)
