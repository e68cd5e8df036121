"""Signed webhooks, one URL per customer: that customer's events, POSTed one by one.

The body is the CloudEvent (structured JSON); `Webhook-Timestamp` is the Unix time of the
attempt and `Webhook-Signature` is `v1=` + hex HMAC-SHA256 of `{timestamp}.{body}` under the
customer's secret (docs/events.md shows how to check it). Only https; the host's addresses are
resolved and checked before each attempt, and the connection goes to the checked address, so
a name that points (or is re-pointed) at a private, loopback or link-local address is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Final
from urllib.parse import urlsplit

from core.errors import ConfigError, TransientError
from core.events.cloudevents import Event

log = logging.getLogger("imgpipe.events")

SIGNATURE_HEADER: Final = "Webhook-Signature"
TIMESTAMP_HEADER: Final = "Webhook-Timestamp"
ID_HEADER: Final = "Webhook-Id"
TIMEOUT_SECONDS: Final = 10.0


class RefusedAddress(ConfigError):
    """A webhook URL that imgpipe does not send to (not https, or a private address)."""


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def check_url(url: str, *, allow_private: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL imgpipe may send to. Plain http is for local
    receivers only: it needs `allow_private`, and then still refuses public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise RefusedAddress(f"webhook URL {url!r}: must be https://host/path")
    if parts.scheme == "http" and not allow_private:
        raise RefusedAddress(f"webhook URL {url!r}: https only")
    if parts.username or parts.password:
        raise RefusedAddress(f"webhook URL {url!r}: credentials in a URL are not sent")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None  # a name: its addresses are checked at each attempt
    if literal is not None and not literal.is_global and not allow_private:
        raise RefusedAddress(f"webhook URL {url!r}: {literal} is not a public address")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def resolve(host: str, port: int, *, allow_private: bool, plain: bool) -> str:
    """An address of `host` to connect to, after checking every address it has."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise TransientError(f"webhook host {host}: {error}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    for address in addresses:
        private = not address.is_global or address.is_multicast
        if private and not allow_private:
            raise RefusedAddress(f"webhook host {host}: {address} is not a public address")
        if plain and not private:
            raise RefusedAddress(f"webhook host {host}: plain http to a public address")
    if not addresses:
        raise TransientError(f"webhook host {host}: no address")
    return str(addresses[0])


class _PinnedHTTPS(http.client.HTTPSConnection):
    """https to a checked address, with the URL's host name for SNI and the certificate."""

    def __init__(self, host: str, port: int, address: str, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=TIMEOUT_SECONDS, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


@dataclass(eq=False)
class WebhookSink:
    """One customer's webhook. A delivery is tried `attempts` times with backoff; one that
    still fails raises, so the customer's cursor stays and the next run tries again."""

    customer_id: str
    url: str
    secret: bytes = field(repr=False)
    _: KW_ONLY
    allow_private: bool = False
    attempts: int = 4
    backoff: float = 0.5
    context: ssl.SSLContext = field(default_factory=ssl.create_default_context, repr=False)
    parts: tuple[str, str, int, str] = field(init=False)

    def __post_init__(self) -> None:
        self.parts = check_url(self.url, allow_private=self.allow_private)  # refused at start

    @property
    def name(self) -> str:
        return f"webhook:{self.customer_id}"

    def wants(self, event: Event) -> bool:
        return event.customer_id == self.customer_id

    def send(self, events: Sequence[Event]) -> None:
        for event in events:
            self.deliver(event)

    def deliver(self, event: Event) -> None:
        body = event.to_bytes()
        reason = ""
        for attempt in range(self.attempts):
            try:
                status = self._post(event.id, body)
            except RefusedAddress:
                raise
            except (OSError, http.client.HTTPException, TransientError) as error:
                reason = str(error) or type(error).__name__
            else:
                if 200 <= status < 300:
                    return
                reason = f"answered {status}"
            if attempt + 1 < self.attempts:
                time.sleep(self.backoff * 2**attempt)
        raise TransientError(f"webhook of {self.customer_id}: {reason}")

    def _post(self, event_id: str, body: bytes) -> int:
        scheme, host, port, path = self.parts
        address = resolve(host, port, allow_private=self.allow_private, plain=scheme == "http")
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = _PinnedHTTPS(host, port, address, self.context)
        else:
            connection = http.client.HTTPConnection(address, port, timeout=TIMEOUT_SECONDS)
        timestamp = int(time.time())
        headers = {
            "Host": host if port in (80, 443) else f"{host}:{port}",
            "Content-Type": "application/cloudevents+json",
            "User-Agent": "imgpipe-webhooks",
            ID_HEADER: event_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
        }
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(64 * 1024)  # the answer's body is not ours to keep
            return response.status
        finally:
            connection.close()
