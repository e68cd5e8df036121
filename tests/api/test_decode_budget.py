"""The decode budget as clients meet it: a 503 to wait on, a server whose memory stays bounded."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from core.bootstrap import build_context
from core.budget import budget_for
from core.config import Settings
from services.upload_api.app import create_app
from tests.harness.app import headers_for, key_pairs, serving_process
from tests.images import jpeg_photo

MB = 1_000_000
PNG_HEADERS = {**headers_for("acme"), "Content-Type": "image/png"}
JPEG_HEADERS = {**headers_for("acme"), "Content-Type": "image/jpeg"}


def test_an_image_that_finds_no_room_in_time_is_a_503_with_retry_after(
    embedded_settings: Callable[..., Settings],
) -> None:
    tight = embedded_settings(decode_budget_bytes=1000, decode_budget_wait_seconds=0.2)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # another image, decoding meanwhile
        with budget_for(tight).reserve(1000):
            held.set()
            release.wait(10)

    with TestClient(create_app(ctx=build_context(tight))) as client:
        holder = threading.Thread(target=hold)
        holder.start()
        assert held.wait(5)
        busy = client.post("/v1/images", content=jpeg_photo(200, 150), headers=JPEG_HEADERS)
        release.set()
        holder.join(10)
        later = client.post("/v1/images", content=jpeg_photo(200, 150), headers=JPEG_HEADERS)
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "2"
    assert busy.json()["detail"] == "decoding capacity unavailable, retry in 2 s"
    assert later.status_code == 201, later.text  # the refusal recorded nothing


def _large_pngs(count: int, side: int) -> list[bytes]:
    """`count` distinct PNGs of side x side RGB pixels, small on the wire: each of its own
    colour, since copies told apart by metadata alone are the same picture (a duplicate)."""
    pngs = []
    for n in range(count):
        out = io.BytesIO()
        Image.new("RGB", (side, side), (40, 90, 160 + n)).save(out, "PNG", compress_level=1)
        pngs.append(out.getvalue())
    return pngs


def _status_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) * 1024


@pytest.mark.slow
def test_twelve_concurrent_7000_pixel_pngs_keep_the_server_under_its_budget(
    tmp_path: Path,
) -> None:
    """The probe that took the server to 2.8-3.1 GB: 12 PNGs of 7000x7000 sent at once. With
    the default budget the peak stays under 70% of a 1,769 MB Lambda, and the memory of the
    burst goes back to the system."""
    images = _large_pngs(12, 7000)
    env = {
        "IMGPIPE_DATABASE_URL": f"sqlite:///{tmp_path}/warehouse.db",
        "IMGPIPE_STORAGE_URL": f"file://{tmp_path}/objects",
        "IMGPIPE_API_KEYS": ",".join(key_pairs()),
        "IMGPIPE_DECODE_BUDGET_WAIT_SECONDS": "240",  # this test is about memory, not waiting
    }
    with serving_process(tmp_path, env) as (base, _, server), httpx.Client(timeout=300) as http:
        warm = http.post(f"{base}/v1/images", content=jpeg_photo(640, 480), headers=JPEG_HEADERS)
        assert warm.status_code == 201, warm.text
        before = _status_kib(server.pid, "VmRSS")
        with ThreadPoolExecutor(len(images)) as pool:
            answers = list(
                pool.map(
                    lambda data: http.post(f"{base}/v1/images", content=data, headers=PNG_HEADERS),
                    images,
                )
            )
        peak = _status_kib(server.pid, "VmHWM")
        time.sleep(1)
        after = _status_kib(server.pid, "VmRSS")
    assert [a.status_code for a in answers] == [201] * len(images), [a.text for a in answers]
    assert {(a.json()["width"], a.json()["height"]) for a in answers} == {(7000, 7000)}
    print(f"RSS before {before / MB:.0f} MB, peak {peak / MB:.0f} MB, after {after / MB:.0f} MB")
    assert peak < 0.7 * 1769 * MB, f"peak RSS {peak / MB:.0f} MB"
    assert after < before + 0.25 * (peak - before), (before / MB, peak / MB, after / MB)
