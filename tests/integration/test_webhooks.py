"""Signed webhooks against a real HTTP receiver on loopback (allowed by the local setting):
the documented snippet verifies the signature, a receiver that is down gets retries, and URLs
to private, loopback or link-local addresses are refused by default."""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core import facts, layout
from core.config import Settings, load_settings
from core.errors import ConfigError
from core.events.cloudevents import Event
from core.events.publisher import Publisher
from core.events.sinks import open_sinks
from core.events.webhooks import RefusedAddress, WebhookSink, check_url, resolve
from core.repository.objects import ObjectStore, open_object_store
from tests.harness.proxy import free_port

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"
SECRET = b"whsec-acme-0123456789"


def documented_verify() -> Callable[..., bool]:
    """The `verify` function of docs/events.md, run as an integrator would paste it."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    code = next(block for block in blocks if "def verify" in block)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    verify: Callable[..., bool] = namespace["verify"]
    return verify


class Receiver:
    """An HTTP(S) server that records each POST and answers the next status of `answers`."""

    def __init__(
        self, port: int, answers: list[int] | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.port = port
        self.answers = list(answers or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers.items()), body))
                status = receiver.answers.pop(0) if receiver.answers else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        if tls is not None:  # https: the handshake is made on accept
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(port: int, answers: list[int] | None = None) -> Receiver:
        started.append(Receiver(port, answers))
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


def write_facts(objects: ObjectStore, rows: list[dict[str, Any]]) -> str:
    key = facts.new_fact_key()
    objects.put(key, facts.encode(rows), facts.CONTENT_TYPE)
    return key


def event_row(event_id: str, customer: str, status: str = "processed") -> dict[str, Any]:
    image_id = None if status == "rejected" else f"img-{event_id}"
    return {
        "kind": "event",
        "event_id": event_id,
        "image_id": image_id,
        "customer_id": customer,
        "source": "upload",
        "status": status,
        "reason": "unsupported_format" if status == "rejected" else None,
        "format": None if status == "rejected" else "png",
        "bytes_in": 10,
        "bytes_out": 0,
        "processing_ms": 1.5,
        "received_at": "2026-12-02T07:00:00+00:00",
        "recorded_at": "2026-12-02T07:00:01+00:00",
    }


def webhook_settings(folder_settings: Settings, url: str, **more: Any) -> Settings:
    return folder_settings.model_copy(
        update={
            "events_webhooks": {"acme": url},
            "events_webhook_secrets": load_settings(
                events_webhook_secrets={"acme": SECRET.decode()}
            ).events_webhook_secrets,
            **more,
        }
    )


def test_a_customers_events_arrive_signed_and_the_documented_snippet_verifies_them(
    folder_settings: Settings, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(free_port())
    settings = webhook_settings(
        folder_settings,
        f"http://127.0.0.1:{receiver.port}/hooks",
        events_webhook_allow_private=True,
    )
    objects = open_object_store(settings)
    write_facts(objects, [event_row("e1", "acme"), event_row("e2", "globex")])
    write_facts(objects, [event_row("e3", "acme", "rejected")])

    report = Publisher(objects, open_sinks(settings)).publish_once()

    assert report.events == {"webhook:acme": 2}
    verify = documented_verify()
    ids = []
    for headers, body in receiver.requests:
        assert verify(SECRET, headers, body)
        assert not verify(b"another secret", headers, body)
        assert not verify(SECRET, headers, body + b" ")
        assert headers["Content-Type"] == "application/cloudevents+json"
        event = Event.model_validate_json(body)
        assert headers["Webhook-Id"] == event.id and event.customer_id == "acme"
        ids.append(event.id)
    assert ids == ["e1", "e3"]  # globex's event is not sent to acme


def test_a_receiver_that_is_down_gets_retries_and_later_every_event(
    folder_settings: Settings, receivers: Callable[..., Receiver]
) -> None:
    port = free_port()
    objects = open_object_store(folder_settings)
    write_facts(objects, [event_row("e1", "acme"), event_row("e2", "acme")])
    sink = WebhookSink(
        "acme", f"http://127.0.0.1:{port}/", SECRET, allow_private=True, attempts=3, backoff=0.01
    )
    publisher = Publisher(objects, [sink])

    assert publisher.publish_once().failed == ("webhook:acme",)  # nothing listens
    assert not objects.exists(layout.event_cursor_key(sink.name))

    receiver = receivers(port, answers=[503, 500])  # up, but failing twice
    assert publisher.publish_once().events == {"webhook:acme": 2}
    bodies = [Event.model_validate_json(body).id for _headers, body in receiver.requests]
    assert bodies == ["e1", "e1", "e1", "e2"]  # the third try of e1 succeeded
    assert publisher.publish_once().events == {"webhook:acme": 0}


@pytest.mark.parametrize(
    "url",
    [
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data/",
        "http://hooks.example.com/plain",
        "ftp://hooks.example.com/",
        "https://user:pw@hooks.example.com/",
    ],
)
def test_webhook_urls_to_private_addresses_or_without_https_are_refused(url: str) -> None:
    with pytest.raises(RefusedAddress):
        WebhookSink("acme", url, SECRET)


def test_a_name_that_resolves_to_loopback_is_refused_at_delivery(folder_settings: Settings) -> None:
    with pytest.raises(RefusedAddress, match="not a public address"):
        resolve("localhost", 443, allow_private=False, plain=False)
    sink = WebhookSink("acme", "https://localhost/hook", SECRET, attempts=1)
    objects = open_object_store(folder_settings)
    write_facts(objects, [event_row("e1", "acme")])
    report = Publisher(objects, [sink]).publish_once()
    assert report.failed == ("webhook:acme",)
    assert not objects.exists(layout.event_cursor_key(sink.name))


def test_plain_http_stays_refused_for_public_addresses_even_when_private_ones_are_allowed() -> None:
    scheme, host, port, path = check_url("http://8.8.8.8/x?y=1", allow_private=True)
    assert (scheme, host, port, path) == ("http", "8.8.8.8", 80, "/x?y=1")
    with pytest.raises(RefusedAddress, match="plain http"):
        resolve(host, port, allow_private=True, plain=True)


def test_a_webhook_without_its_secret_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="EVENTS_WEBHOOK_SECRETS has no secret"):
        load_settings(
            storage_url=f"file://{tmp_path}", events_webhooks={"acme": "https://x.example/"}
        )
