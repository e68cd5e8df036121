"""`imgpipe upload` and `imgpipe get` against `imgpipe serve` in a subprocess, on both stores."""

from __future__ import annotations

import io
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.harness.app import KEYS, key_pairs, run_imgpipe, serving
from tests.harness.s3 import serve_env_on_new_bucket
from tests.images import PDF_HEADER, mosaic_jpeg

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["folder", "s3"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, moto_server: str
) -> Iterator[str]:
    """The API on SQLite with keys, storing in a local folder (signed PUT uploads, renditions
    served by the app) or in a moto bucket (POST policies, redirects to presigned URLs)."""
    workdir = tmp_path_factory.mktemp(f"cli-{request.param}")
    env = {
        "IMGPIPE_DATABASE_URL": f"sqlite:///{workdir}/warehouse.db",
        "IMGPIPE_API_KEYS": ",".join(key_pairs()),
    }
    if request.param == "s3":
        env |= serve_env_on_new_bucket(moto_server, "imgpipe-cli")
    else:
        env["IMGPIPE_STORAGE_URL"] = f"file://{workdir}/objects"
    with serving(workdir, env) as (base, _):
        yield base


def imgpipe(
    tmp_path: Path, server: str, *args: str, key: str = "acme"
) -> subprocess.CompletedProcess[str]:
    return run_imgpipe(
        tmp_path, *args, "--url", server, env={"IMGPIPE_API_KEY": KEYS.get(key, key)}
    )


def documents(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines()]


def photo(tmp_path: Path, name: str, seed: int, side: int = 640) -> Path:
    path = tmp_path / name
    path.write_bytes(mosaic_jpeg(side, side * 3 // 4, seed=seed))
    return path


def test_upload_sends_each_file_and_prints_one_json_document_per_file(
    server: str, tmp_path: Path
) -> None:
    files = [photo(tmp_path, "a.jpg", 1), photo(tmp_path, "b.jpg", 2)]
    done = imgpipe(tmp_path, server, "upload", *map(str, files))
    assert done.returncode == 0, done.stderr
    found = documents(done)
    assert [(d["file"], d["ok"], d["status"], d["duplicate"]) for d in found] == [
        (str(files[0]), True, 201, False),
        (str(files[1]), True, 201, False),
    ]
    assert {r["name"] for r in found[0]["image"]["renditions"]} == {"display", "thumb"}
    assert "[1/2] a.jpg" in done.stderr and "[2/2] b.jpg" in done.stderr
    assert "2 stored, 0 duplicate, 0 refused" in done.stderr


def test_a_file_over_the_direct_limit_takes_the_three_presigned_steps(
    server: str, tmp_path: Path
) -> None:
    big = photo(tmp_path, "big.jpg", 3, side=1600)
    done = imgpipe(tmp_path, server, "upload", str(big), "--direct-limit", "100000")
    assert done.returncode == 0, done.stderr
    (document,) = documents(done)
    assert document["status"] == 201 and document["image"]["width"] == 1600
    assert "sending to storage" in done.stderr and "signed for image/jpeg" in done.stderr
    again = imgpipe(tmp_path, server, "upload", str(big))  # in the request, this time
    (repeat,) = documents(again)
    assert (repeat["status"], repeat["duplicate"]) == (200, True)
    assert repeat["image"]["id"] == document["image"]["id"]
    assert "already stored as" in again.stderr


def test_upload_exits_1_when_a_file_is_refused_and_still_sends_the_others(
    server: str, tmp_path: Path
) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(PDF_HEADER)
    good = photo(tmp_path, "c.jpg", 4)
    done = imgpipe(tmp_path, server, "upload", str(pdf), str(good), str(tmp_path / "missing.jpg"))
    assert done.returncode == 1
    refused, stored, unreadable = documents(done)
    assert (refused["ok"], refused["status"], refused["problem"]["code"]) == (
        False,
        415,
        "unsupported_format",
    )
    assert stored["ok"] and stored["status"] == 201
    assert not unreadable["ok"] and "cannot read" in unreadable["error"]
    assert "refused: 415 unsupported_format" in done.stderr


def test_upload_with_a_wrong_key_is_refused_with_401(server: str, tmp_path: Path) -> None:
    done = imgpipe(tmp_path, server, "upload", str(photo(tmp_path, "d.jpg", 5)), key="wrong")
    assert done.returncode == 1
    (document,) = documents(done)
    assert (document["status"], document["problem"]["code"]) == (401, "unauthorized")
    assert "wrong" not in done.stderr  # the key is never echoed


def test_get_prints_the_image_and_writes_a_rendition(server: str, tmp_path: Path) -> None:
    uploaded = documents(imgpipe(tmp_path, server, "upload", str(photo(tmp_path, "e.jpg", 6))))
    image_id = uploaded[0]["image"]["id"]
    shown = imgpipe(tmp_path, server, "get", image_id)
    assert shown.returncode == 0, shown.stderr
    image = json.loads(shown.stdout)
    assert (image["id"], image["sha256"]) == (image_id, uploaded[0]["image"]["sha256"])
    assert [r["name"] for r in image["renditions"]] == ["display", "thumb"]
    out = tmp_path / "thumb.jpg"
    fetched = imgpipe(tmp_path, server, "get", image_id, "--rendition", "thumb", "--out", str(out))
    assert fetched.returncode == 0, fetched.stderr
    with Image.open(io.BytesIO(out.read_bytes())) as thumb:
        assert (thumb.format, max(thumb.size)) == ("JPEG", 256)
    assert f"to {out}" in fetched.stderr and fetched.stdout == ""


def test_get_of_an_unknown_image_or_rendition_exits_1_with_the_problem(
    server: str, tmp_path: Path
) -> None:
    missing = imgpipe(tmp_path, server, "get", str(uuid.uuid4()))
    assert (missing.returncode, missing.stdout) == (1, "")
    assert "404 not_found" in missing.stderr
    uploaded = documents(imgpipe(tmp_path, server, "upload", str(photo(tmp_path, "f.jpg", 7))))
    image_id = uploaded[0]["image"]["id"]
    out = tmp_path / "x.jpg"
    wrong = imgpipe(tmp_path, server, "get", image_id, "--rendition", "poster", "--out", str(out))
    assert wrong.returncode == 1 and "404 not_found" in wrong.stderr
    assert not out.exists()


def test_delete_erases_each_image_prints_its_receipt_and_exits_1_when_one_is_refused(
    server: str, tmp_path: Path
) -> None:
    uploaded = documents(imgpipe(tmp_path, server, "upload", str(photo(tmp_path, "e.jpg", 40))))
    image_id = uploaded[0]["image"]["id"]
    done = imgpipe(tmp_path, server, "delete", image_id)
    assert done.returncode == 0, done.stderr
    (erased,) = documents(done)
    assert (erased["id"], erased["ok"], erased["status"]) == (image_id, True, 200)
    assert erased["receipt"]["removed"]["objects"]["manifest"] == [f"manifests/{image_id}.json"]
    assert "1 erased, 0 refused" in done.stderr
    assert imgpipe(tmp_path, server, "get", image_id).returncode == 1

    again = imgpipe(tmp_path, server, "delete", image_id, str(uuid.uuid4()))
    assert again.returncode == 1
    assert [(d["ok"], d["status"]) for d in documents(again)] == [(False, 404), (False, 404)]
    assert "0 erased, 2 refused" in again.stderr
