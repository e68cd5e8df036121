"""POST, GET and list images; fetch renditions; on the embedded defaults and on PostgreSQL + S3."""

from __future__ import annotations

import hashlib
import io
import uuid

import httpx
from fastapi.testclient import TestClient
from PIL import Image

from core.config import Settings
from tests.harness.app import headers_for, loaded
from tests.images import jpeg_photo, png_rgba

ACME = headers_for("acme")
GLOBEX = headers_for("globex")


def post_multipart(
    client: TestClient, data: bytes, headers: dict[str, str] = ACME
) -> httpx.Response:
    return client.post(
        "/v1/images", files={"file": ("photo.jpg", data, "image/jpeg")}, headers=headers
    )


def test_multipart_upload_is_stored_with_renditions_and_answered_201(client: TestClient) -> None:
    data = jpeg_photo(1200, 800)
    response = post_multipart(client, data)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (body["width"], body["height"], body["format"]) == (1200, 800, "jpeg")
    assert body["duplicate"] is False
    assert body["source"] == "upload"
    assert {r["name"] for r in body["renditions"]} == {"display", "thumb"}
    thumb = next(r for r in body["renditions"] if r["name"] == "thumb")
    assert max(thumb["width"], thumb["height"]) <= 256
    assert thumb["url"].endswith(f"/v1/images/{body['id']}/renditions/thumb")
    assert response.headers["location"].endswith(f"/v1/images/{body['id']}")


def test_raw_image_body_is_accepted_like_multipart(client: TestClient) -> None:
    data = png_rgba(300, 200)
    response = client.post(
        "/v1/images", content=data, headers={**ACME, "Content-Type": "image/png"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["format"] == "png"
    assert response.json()["has_alpha"] is True


def test_format_is_read_from_the_bytes_not_the_file_name_or_declared_type(
    client: TestClient,
) -> None:
    response = client.post(
        "/v1/images",
        files={"file": ("holiday.jpg", png_rgba(300, 200), "image/jpeg")},
        headers=ACME,
    )
    assert response.status_code == 201, response.text
    assert response.json()["format"] == "png"


def test_same_bytes_again_answer_200_duplicate_with_the_same_id(client: TestClient) -> None:
    data = jpeg_photo(640, 480)
    first = post_multipart(client, data)
    again = client.post("/v1/images", content=data, headers={**ACME, "Content-Type": "image/jpeg"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]


def test_same_bytes_from_another_customer_are_another_image(client: TestClient) -> None:
    data = jpeg_photo(640, 480)
    ours = post_multipart(client, data)
    theirs = post_multipart(client, data, GLOBEX)
    assert theirs.status_code == 201
    assert theirs.json()["id"] != ours.json()["id"]


def test_get_image_reads_the_manifest_with_storage_state(client: TestClient) -> None:
    created = post_multipart(client, jpeg_photo(900, 600)).json()
    response = client.get(f"/v1/images/{created['id']}", headers=ACME)
    assert response.status_code == 200
    body = response.json()
    assert body["sha256"] == created["sha256"]
    for rendition in body["renditions"]:
        assert rendition["storage"] == {
            "storage_class": "STANDARD",
            "archived": False,
            "readable": True,
            "restore": None,
        }


def test_another_customers_image_is_not_found(client: TestClient) -> None:
    created = post_multipart(client, jpeg_photo(320, 240)).json()
    response = client.get(f"/v1/images/{created['id']}", headers=GLOBEX)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
    rendition = client.get(f"/v1/images/{created['id']}/renditions/thumb", headers=GLOBEX)
    assert rendition.status_code == 404


def test_unknown_image_and_unknown_rendition_are_404(client: TestClient) -> None:
    assert client.get(f"/v1/images/{uuid.uuid4()}", headers=ACME).status_code == 404
    created = post_multipart(client, jpeg_photo(320, 240)).json()
    missing = client.get(f"/v1/images/{created['id']}/renditions/poster", headers=ACME)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_listing_pages_through_the_callers_images_only(client: TestClient) -> None:
    mine = {post_multipart(client, jpeg_photo(200 + i, 150)).json()["id"] for i in range(5)}
    post_multipart(client, jpeg_photo(333, 222), GLOBEX)
    loaded(client)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/images", params=params, headers=ACME)
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == mine
    first = client.get("/v1/images", params={"limit": 1}, headers=ACME).json()["items"][0]
    assert {r["name"] for r in first["renditions"]} == {"display", "thumb"}


def test_a_cursor_the_api_did_not_issue_is_400(client: TestClient) -> None:
    response = client.get("/v1/images", params={"cursor": "not-a-cursor"}, headers=ACME)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_rendition_is_served_as_bytes_or_redirected_to_a_presigned_url(
    client: TestClient, settings: Settings
) -> None:
    created = post_multipart(client, jpeg_photo(1000, 750)).json()
    url = f"/v1/images/{created['id']}/renditions/thumb"
    response = client.get(url, headers=ACME, follow_redirects=False)
    if settings.storage_url.startswith("s3://"):
        assert response.status_code == 307
        location = response.headers["location"]
        assert "X-Amz-Signature=" in location
        expires = int(httpx.URL(location).params["X-Amz-Expires"])
        assert 0 < expires <= 900
        data = httpx.get(location).content
    else:
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["etag"].startswith('"')
        data = response.content
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert max(image.size) == 256


def test_a_rendition_answer_is_never_kept_by_shared_caches(
    client: TestClient, settings: Settings
) -> None:
    """It took a key to get: a proxy or CDN that stored it would serve it to anyone."""
    created = post_multipart(client, jpeg_photo(400, 300)).json()
    url = f"/v1/images/{created['id']}/renditions/thumb"
    response = client.get(url, headers=ACME, follow_redirects=False)
    directives = {d.strip() for d in response.headers["cache-control"].split(",")}
    assert "public" not in directives
    assert directives & {"private", "no-store"}
    if settings.storage_url.startswith("file://"):
        assert response.status_code == 200
        assert "immutable" in directives  # the bytes of a rendition never change


def test_rendition_with_matching_if_none_match_is_304(embedded_client: TestClient) -> None:
    created = post_multipart(embedded_client, jpeg_photo(500, 400)).json()
    url = f"/v1/images/{created['id']}/renditions/display"
    first = embedded_client.get(url, headers=ACME)
    etag = first.headers["etag"]
    again = embedded_client.get(url, headers={**ACME, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = embedded_client.get(url, headers={**ACME, "If-None-Match": '"something-else"'})
    assert other.status_code == 200
