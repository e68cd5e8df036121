"""`imgpipe serve` against clients that misbehave on the wire: raw sockets, a real server."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.app import KEYS, key_pairs, serving

READ_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`imgpipe serve` with a short read timeout; its base URL and log file."""
    workdir = tmp_path_factory.mktemp("serve-limits")
    env = {
        "IMGPIPE_DATABASE_URL": f"sqlite:///{workdir}/warehouse.db",
        "IMGPIPE_STORAGE_URL": f"file://{workdir}/objects",
        "IMGPIPE_API_KEYS": ",".join(key_pairs()),
        "IMGPIPE_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
    }
    with serving(workdir, env) as running:
        yield running


def _connect(base: str) -> socket.socket:
    host, port = httpx.URL(base).host, httpx.URL(base).port
    assert port is not None
    return socket.create_connection((host, port), timeout=30)


def _answer(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (or resets it)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def _send_all(sock: socket.socket, data: bytes) -> bool:
    """Send `data`; False when the server closed the connection first (it refused it)."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def _head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _image_post_head(content_length: int, request_id: str) -> bytes:
    """The head of a POST /v1/images that announces `content_length` bytes of JPEG."""
    return _head(
        "POST",
        "/v1/images",
        f"X-API-Key: {KEYS['acme']}",
        "Content-Type: image/jpeg",
        f"Content-Length: {content_length}",
        f"X-Request-Id: {request_id}",
    )


def _log_lines(log: Path, request_id: str, *, timeout: float = 10) -> list[dict[str, object]]:
    """The server's JSON log lines about one request, once its access line is written."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if request_id in line]
        if any(line.get("logger") == "imgpipe.api.access" for line in lines):
            return lines
        assert time.monotonic() < deadline, f"no access line for {request_id}"
        time.sleep(0.1)


def _refused(status_line: bytes) -> bool:
    return status_line == b"" or status_line.split(b" ")[1][:1] == b"4"


def test_an_8_mb_header_is_refused(server: tuple[str, Path]) -> None:
    base, _ = server
    with _connect(base) as sock:
        head = _head("GET", "/healthz", "X-Big: " + "a" * 8_000_000)
        sent = _send_all(sock, head)
        answer = _answer(sock)
    assert not sent or _refused(answer.split(b"\r\n", 1)[0]), answer[:200]
    assert b"200 OK" not in answer


def test_twenty_thousand_headers_are_refused(server: tuple[str, Path]) -> None:
    base, _ = server
    with _connect(base) as sock:
        sent = _send_all(sock, _head("GET", "/healthz", *(f"X-H{n}: v" for n in range(20_000))))
        answer = _answer(sock)
    assert not sent or _refused(answer.split(b"\r\n", 1)[0]), answer[:200]
    assert b"200 OK" not in answer


def test_a_head_over_32_kib_sent_at_once_is_a_431(server: tuple[str, Path]) -> None:
    base, _ = server
    padding = {f"X-Pad-{n}": "v" * 100 for n in range(400)}  # 40 KB, one read for the server
    assert httpx.get(f"{base}/healthz", headers=padding).status_code == 431
    fits = {f"X-Pad-{n}": "v" * 100 for n in range(250)}  # 27 KB
    assert httpx.get(f"{base}/healthz", headers=fits).status_code == 200


def test_headers_that_stall_are_dropped_after_the_read_timeout(server: tuple[str, Path]) -> None:
    base, _ = server
    with _connect(base) as silent, _connect(base) as trickling:
        trickling.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        for _ in range(6):  # a byte now and then does not extend the deadline
            time.sleep(READ_TIMEOUT / 4)
            if not _send_all(trickling, b"X"):
                break
        assert _answer(trickling) == b""
        assert _answer(silent) == b""  # connected, sent nothing
    assert time.monotonic() - started < READ_TIMEOUT * 3


def test_a_body_that_stalls_is_answered_408(server: tuple[str, Path]) -> None:
    base, _ = server
    request_id = uuid.uuid4().hex
    with _connect(base) as sock:
        sock.sendall(_image_post_head(100_000, request_id) + b"\xff\xd8\xff" * 100)
        started = time.monotonic()
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"code":"request_timeout"' in answer
    assert READ_TIMEOUT * 0.9 <= time.monotonic() - started < READ_TIMEOUT * 3


def test_a_client_that_disconnects_mid_body_is_a_499_not_a_server_error(
    server: tuple[str, Path],
) -> None:
    base, log = server
    request_id = uuid.uuid4().hex
    with _connect(base) as sock:
        sock.sendall(_image_post_head(1_000_000, request_id) + b"\xff\xd8\xff" * 10_000)
        time.sleep(0.2)
    lines = _log_lines(log, request_id)
    access = [line for line in lines if line["logger"] == "imgpipe.api.access"]
    assert [line["status"] for line in access] == [499]
    assert not [line for line in lines if line["level"] in {"ERROR", "CRITICAL"}], lines
    assert not [line for line in lines if "exception" in line], lines
    assert "Traceback" not in log.read_text()


def test_a_bad_multipart_boundary_is_a_400_and_a_log_line_not_raw_stderr(
    server: tuple[str, Path],
) -> None:
    base, log = server
    before = len(log.read_text().splitlines())
    response = httpx.post(
        f"{base}/v1/images",
        content=b"--not-the-boundary\r\nContent-Disposition: form-data; name=file\r\n\r\nx\r\n",
        headers={
            "X-API-Key": KEYS["acme"],
            "Content-Type": "multipart/form-data; boundary=the-boundary",
        },
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    time.sleep(0.5)
    new_lines = [line for line in log.read_text().splitlines()[before:] if line.strip()]
    parsed = []
    for line in new_lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a raw line on stderr: {line!r}")
    assert any(str(entry["logger"]).startswith("python_multipart") for entry in parsed), parsed
