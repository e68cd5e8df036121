"""Webhooks over real TLS: the receiver's certificate is verified against the trust store and
the URL's host name (sent as SNI), also when the connection goes to a pinned address."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.errors import TransientError
from core.events.cloudevents import Event, events_of
from core.events.webhooks import WebhookSink
from tests.harness.proxy import free_port
from tests.integration.test_webhooks import SECRET, Receiver, documented_verify, event_row

[EVENT] = events_of([event_row("e-tls-1", "acme", "rejected")])


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (and 127.0.0.1), and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TLSReceiver(Receiver):
    """The webhook receiver over https, recording the SNI name each client asked for."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.server_names: list[str | None] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
        super().__init__(free_port(), tls=context)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[TLSReceiver, Path]]:
    cert, key = certificate(tmp_path, "localhost")
    server = TLSReceiver(cert, key)
    yield server, cert
    server.stop()


def sink(url: str, context: ssl.SSLContext | None = None) -> WebhookSink:
    trust = {"context": context} if context else {}  # else the sink's own: the system's CAs
    return WebhookSink("acme", url, SECRET, allow_private=True, attempts=1, backoff=0.0, **trust)


def test_an_event_is_delivered_over_tls_to_a_trusted_certificate_with_its_host_name_as_sni(
    receiver: tuple[TLSReceiver, Path],
) -> None:
    server, cert = receiver
    trusted = ssl.create_default_context(cafile=str(cert))

    sink(f"https://localhost:{server.port}/hooks", trusted).deliver(EVENT)

    assert server.server_names == ["localhost"]
    [(headers, body)] = server.requests
    assert documented_verify()(SECRET, headers, body)
    assert Event.model_validate_json(body).id == "e-tls-1"
    assert headers["Host"] == f"localhost:{server.port}"


def test_a_certificate_outside_the_trust_store_is_refused_and_nothing_is_sent(
    receiver: tuple[TLSReceiver, Path],
) -> None:
    server, _cert = receiver

    with pytest.raises(TransientError, match="CERTIFICATE_VERIFY_FAILED"):
        sink(f"https://localhost:{server.port}/hooks").deliver(EVENT)  # the system's CAs

    assert server.requests == []


def test_a_trusted_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, "hooks.example.org")
    server = TLSReceiver(cert, key)
    try:
        trusted = ssl.create_default_context(cafile=str(cert))
        with pytest.raises(TransientError, match="CERTIFICATE_VERIFY_FAILED"):
            sink(f"https://localhost:{server.port}/hooks", trusted).deliver(EVENT)
        assert server.requests == []
    finally:
        server.stop()
