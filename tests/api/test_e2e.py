"""End to end: `imgpipe serve` (uvicorn) in a subprocess on a free port, a real HTTP client."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.harness.app import KEYS, ROOT, key_pairs, serving
from tests.harness.proxy import free_port
from tests.harness.s3 import serve_env_on_new_bucket
from tests.images import photo_bytes

pytestmark = pytest.mark.slow

ACME = {"X-API-Key": KEYS["acme"]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, moto_server: str) -> Iterator[tuple[str, str]]:
    """The API on SQLite and a bucket of its own on moto, as `imgpipe serve` runs it, and its
    start banner; one server for the module (a start costs seconds)."""
    workdir = tmp_path_factory.mktemp("e2e")
    env = {
        **serve_env_on_new_bucket(moto_server, "imgpipe-e2e"),
        "IMGPIPE_DATABASE_URL": f"sqlite:///{workdir}/warehouse.db",
        "IMGPIPE_API_KEYS": ",".join(key_pairs()),
    }
    with serving(workdir, env) as (base, log):
        yield base, log.read_text()  # once answering, the start banner is printed


@pytest.fixture(scope="module")
def server(served: tuple[str, str]) -> str:
    return served[0]


def test_serve_prints_where_the_docs_and_the_dashboard_are(served: tuple[str, str]) -> None:
    base, banner = served
    assert f"docs:      {base}/docs" in banner
    assert f"dashboard: {base}/dashboard" in banner


def test_upload_a_photo_follow_the_redirect_and_get_the_bytes(server: str) -> None:
    photo = photo_bytes()
    with httpx.Client(base_url=server, headers=ACME, timeout=30) as client:
        created = client.post("/v1/images", files={"file": ("rocket.jpg", photo, "image/jpeg")})
        assert created.status_code == 201, created.text
        image = created.json()
        assert re.fullmatch(r"[0-9a-f]{32}", created.headers["x-request-id"])
        display = next(r for r in image["renditions"] if r["name"] == "display")
        fetched = client.get(display["url"], follow_redirects=True)
        assert fetched.status_code == 200
        assert fetched.history and fetched.history[0].status_code == 307
        picture = Image.open(io.BytesIO(fetched.content))
        assert picture.format == "JPEG"
        assert picture.size == (display["width"], display["height"])
        assert len(fetched.content) == display["bytes"]
        assert client.get("/readyz").json()["checks"] == {"database": "ok", "storage": "ok"}


def test_a_30_mb_body_is_refused_with_413_over_http(server: str) -> None:
    body = b"\xff\xd8\xff" + b"\0" * (30 * 1024 * 1024)
    with httpx.Client(base_url=server, headers=ACME, timeout=60) as client:
        declared = client.post("/v1/images", content=body, headers={"Content-Type": "image/jpeg"})
        assert declared.status_code == 413
        assert declared.json()["code"] == "too_large"

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(body), 1024 * 1024):
                yield body[start : start + 1024 * 1024]

        try:
            streamed = client.post(
                "/v1/images", content=chunks(), headers={"Content-Type": "image/jpeg"}
            )
        except httpx.WriteError:
            pytest.fail("the server closed the connection instead of answering 413")
        assert streamed.status_code == 413
        assert streamed.headers["content-type"] == "application/problem+json"
        # The server is still well after refusing both.
        assert client.get("/healthz").status_code == 200


def test_docs_pages_load_their_assets_from_the_server_itself(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            urls = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
            assert urls, page
            for url in urls:
                assert not url.startswith(("http:", "https:", "//")), (page, url)
                assert client.get(url).status_code == 200, url
        assert "validatorUrl" in client.get("/docs").text
        assert "fonts.googleapis" not in client.get("/redoc").text


def test_serve_reload_watches_the_code_not_the_working_directory(tmp_path: Path) -> None:
    """`imgpipe serve --reload` run from a data folder still reloads on code changes, and
    does not watch the folder where the embedded store writes."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "--port", str(port), "--reload"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the reloader's worker is stopped with it
        )
    try:
        deadline = time.monotonic() + 60
        while "Uvicorn running" not in log.read_text() or "Started server process" not in (
            log.read_text()
        ):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        watched = next(line for line in log.read_text().splitlines() if "Will watch" in line)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    assert str(ROOT / "services") in watched and str(ROOT / "core") in watched
    assert f"'{tmp_path}'" not in watched
