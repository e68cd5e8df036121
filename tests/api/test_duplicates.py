"""Duplicates over HTTP: the same bytes (`exact`) or the same picture with other metadata
(`content`) answer 200 with the first image; placeholders and what was removed in every answer;
the warehouse's columns after a load. On the embedded defaults and on PostgreSQL + S3."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient

from core.layout import CONTENT_INDEX, RENDITIONS, manifest_key
from tests.harness.app import headers_for, loaded

ACME = headers_for("acme")
GLOBEX = headers_for("globex")
DATA = Path(__file__).resolve().parents[1] / "data" / "images"
CAMERA = (DATA / "camera-metadata.jpg").read_bytes()
CAMERA_EDITED = (DATA / "camera-metadata-edited.jpg").read_bytes()  # same picture, other EXIF
PLAIN_PNG = (DATA / "plain.png").read_bytes()
PLAIN_PNG_WITH_TEXT = (DATA / "plain-with-text.png").read_bytes()


def post(client: TestClient, data: bytes, headers: dict[str, str] = ACME) -> httpx.Response:
    return client.post("/v1/images", files={"file": ("photo", data, "image/jpeg")}, headers=headers)


def stored(client: TestClient, prefix: str) -> list[str]:
    return client.app.state.ctx.objects.keys(prefix)  # type: ignore[attr-defined,no-any-return]


def rows(client: TestClient, sql: str) -> list[dict[str, Any]]:
    engine = loaded(client).app.state.ctx.warehouse.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql))]


def test_a_new_image_answers_its_placeholder_colour_content_hash_and_removed_metadata(
    client: TestClient,
) -> None:
    response = post(client, CAMERA)
    assert response.status_code == 201, response.text
    body = response.json()
    assert re.fullmatch(r"[A-Za-z0-9+/]{20,40}={0,2}", body["thumbhash"])
    assert re.fullmatch(r"#[0-9a-f]{6}", body["dominant_color"])
    assert re.fullmatch(r"jpeg:[0-9a-f]{64}", body["content_sha256"])
    assert {"gps", "exif:MakerNote", "exif:BodySerialNumber"} <= set(body["metadata_removed"])
    assert (body["duplicate"], body["match"], body["duplicate_of"]) == (False, None, None)
    fetched = client.get(f"/v1/images/{body['id']}", headers=ACME).json()
    for field in ("thumbhash", "dominant_color", "content_sha256", "metadata_removed"):
        assert fetched[field] == body[field]


def test_the_same_picture_with_other_metadata_is_a_content_duplicate_of_the_first_image(
    client: TestClient,
) -> None:
    first = post(client, CAMERA).json()
    renditions, indexes = stored(client, RENDITIONS), stored(client, CONTENT_INDEX)

    again = post(client, CAMERA_EDITED)

    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["duplicate"], body["match"]) == (True, "content")
    assert body["duplicate_of"] == body["id"] == first["id"]
    assert body["sha256"] == first["sha256"]  # the first image's representation
    assert body["renditions"] == first["renditions"]
    assert again.headers["location"].endswith(f"/v1/images/{first['id']}")
    assert stored(client, RENDITIONS) == renditions  # nothing new stored
    assert stored(client, CONTENT_INDEX) == indexes


def test_the_same_bytes_again_are_an_exact_duplicate(client: TestClient) -> None:
    first = post(client, PLAIN_PNG).json()
    again = post(client, PLAIN_PNG).json()
    assert (again["duplicate"], again["match"], again["duplicate_of"]) == (
        True,
        "exact",
        first["id"],
    )


def test_png_text_chunks_do_not_make_another_image(client: TestClient) -> None:
    first = post(client, PLAIN_PNG_WITH_TEXT).json()
    again = post(client, PLAIN_PNG)
    assert again.status_code == 200
    assert (again.json()["match"], again.json()["duplicate_of"]) == ("content", first["id"])


def test_another_customers_same_picture_is_not_a_duplicate(client: TestClient) -> None:
    ours = post(client, CAMERA).json()
    theirs = post(client, CAMERA_EDITED, GLOBEX)
    assert theirs.status_code == 201, theirs.text
    assert (theirs.json()["duplicate"], theirs.json()["match"]) == (False, None)
    assert theirs.json()["id"] != ours["id"]
    # and the other customer's own twin is a duplicate of their image, not of ours
    again = post(client, CAMERA, GLOBEX).json()
    assert (again["match"], again["duplicate_of"]) == ("content", theirs.json()["id"])


def test_an_index_naming_an_image_gone_makes_no_duplicate_of_nothing(client: TestClient) -> None:
    gone = post(client, CAMERA).json()
    client.app.state.ctx.objects.delete(manifest_key(gone["id"]))  # type: ignore[attr-defined]

    second = post(client, CAMERA_EDITED)
    assert second.status_code == 201, second.text
    assert second.json()["duplicate"] is False
    # The index now names the second image: the first bytes again are its content duplicate.
    third = post(client, CAMERA)
    assert third.status_code == 200, third.text
    assert (third.json()["match"], third.json()["duplicate_of"]) == ("content", second.json()["id"])


def test_warehouse_rows_carry_placeholders_and_how_each_duplicate_matched(
    client: TestClient,
) -> None:
    first = post(client, CAMERA).json()
    post(client, CAMERA_EDITED)
    post(client, CAMERA)

    (image,) = rows(client, "select * from images")
    assert (image["thumbhash"], image["dominant_color"], image["content_sha256"]) == (
        first["thumbhash"],
        first["dominant_color"],
        first["content_sha256"],
    )
    events = rows(client, "select status, match, duplicate_of, image_id from ingest_events")
    found = sorted(
        (e["status"], e["match"], (e["duplicate_of"] or "").strip() or None, e["image_id"].strip())
        for e in events
    )
    assert found == [
        ("duplicate", "content", first["id"], first["id"]),
        ("duplicate", "exact", first["id"], first["id"]),
        ("processed", None, None, first["id"]),
    ]
    listed = loaded(client).get("/v1/images", headers=ACME).json()["items"]
    assert [(i["id"], i["thumbhash"], i["dominant_color"]) for i in listed] == [
        (first["id"], first["thumbhash"], first["dominant_color"])
    ]
