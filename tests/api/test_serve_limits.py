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


def _head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _log_lines(log: Path, request_id: str, *, timeout: float = 10) -> list[dict[str, object]]:
    """The server's JSON log lines about one request, once its access line is written."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if request_id in line]
        if any(line.get("logger") == "imgpipe.api.access" for line in lines):
            return lines
        assert time.monotonic() < deadline, f"no access line for {request_id}"
        time.sleep(0.1)


def test_a_client_that_disconnects_mid_body_is_a_499_not_a_server_error(
    server: tuple[str, Path],
) -> None:
    base, log = server
    request_id = uuid.uuid4().hex
    with _connect(base) as sock:
        sock.sendall(
            _head(
                "POST",
                "/v1/images",
                f"X-API-Key: {KEYS['acme']}",
                "Content-Type: image/jpeg",
                "Content-Length: 1000000",
                f"X-Request-Id: {request_id}",
            )
            + b"\xff\xd8\xff" * 10_000
        )
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
