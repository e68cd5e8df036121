"""One customer can never read, restore, list or complete another's images, by any route."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.test_uploads import send
from tests.harness.app import headers_for, loaded
from tests.images import jpeg_photo

ACME = headers_for("acme")
GLOBEX = headers_for("globex")


def test_another_customers_image_is_invisible_on_every_route(client: TestClient) -> None:
    image = client.post(
        "/v1/images",
        content=jpeg_photo(500, 400),
        headers={**ACME, "Content-Type": "image/jpeg", "Idempotency-Key": "shared-key"},
    ).json()
    base = f"/v1/images/{image['id']}"
    refused = {
        "get": client.get(base, headers=GLOBEX),
        "rendition": client.get(f"{base}/renditions/thumb", headers=GLOBEX),
        "restore": client.post(f"{base}/restore", json={}, headers=GLOBEX),
        "restore one": client.post(
            f"{base}/restore", json={"renditions": ["thumb"]}, headers=GLOBEX
        ),
    }
    for route, response in refused.items():
        assert response.status_code == 404, (route, response.text)
        assert response.json()["code"] == "not_found", route
        assert image["sha256"] not in response.text, route  # not even the image's digest
    assert loaded(client).get("/v1/images", headers=GLOBEX).json()["items"] == []
    # The same Idempotency-Key from another customer is another request, not a replay of
    # acme's answer (which would show acme's image).
    replay = client.post(
        "/v1/images",
        content=jpeg_photo(300, 200),
        headers={**GLOBEX, "Content-Type": "image/jpeg", "Idempotency-Key": "shared-key"},
    )
    assert replay.status_code == 201
    assert "idempotent-replayed" not in replay.headers
    assert replay.json()["id"] != image["id"]
    # acme still sees its own image, unchanged.
    assert client.get(base, headers=ACME).json()["sha256"] == image["sha256"]


def test_another_customers_upload_can_be_neither_completed_nor_replayed(
    client: TestClient,
) -> None:
    started = client.post("/v1/uploads", headers={**ACME, "Idempotency-Key": "up-1"}).json()
    theirs = client.post("/v1/uploads", headers={**GLOBEX, "Idempotency-Key": "up-1"}).json()
    assert theirs["upload_id"] != started["upload_id"]
    send(client, started, jpeg_photo(300, 200), "image/jpeg")  # the upload is there to take
    completed = client.post(started["complete_url"], headers=GLOBEX)
    assert completed.status_code == 404
    assert completed.json()["code"] == "not_found"
