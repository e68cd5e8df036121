"""Direct uploads: presigned URL, the image sent straight to storage, then complete."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from core.bootstrap import Context, build_context
from core.config import Settings
from core.errors import TransientError
from services.upload_api.app import create_app
from tests.harness.app import headers_for
from tests.images import SVG, jpeg_photo

ACME = headers_for("acme")


def send(client: TestClient, upload: dict, data: bytes, content_type: str) -> httpx.Response:  # type: ignore[type-arg]
    """Do what the client is told: a PUT with headers, or a POST form with the file last."""
    if upload["method"] == "PUT":
        if upload["url"].startswith("http://testserver"):
            return client.put(upload["url"], content=data, headers=upload["headers"])
        return httpx.put(upload["url"], content=data, headers=upload["headers"])
    return httpx.post(
        upload["url"], data=upload["fields"], files={"file": ("image", data, content_type)}
    )


def test_large_image_goes_straight_to_storage_then_is_completed(
    client: TestClient, settings: Settings
) -> None:
    data = jpeg_photo(2400, 1600, quality=95)
    started = client.post(
        "/v1/uploads", json={"content_type": "image/jpeg", "bytes": len(data)}, headers=ACME
    )
    assert started.status_code == 201, started.text
    upload = started.json()
    assert 0 < upload["expires_in"] <= 900
    assert upload["max_bytes"] == settings.max_bytes
    if settings.storage_url.startswith("s3://"):
        assert upload["method"] == "POST"  # a policy S3 enforces: content-length-range
        assert "policy" in {name.lower() for name in upload["fields"]}
    else:
        assert upload["method"] == "PUT"
        assert "/local-objects/uploads/" in upload["url"]
    sent = send(client, upload, data, "image/jpeg")
    assert sent.status_code in {200, 204}, sent.text

    completed = client.post(upload["complete_url"], headers=ACME)
    assert completed.status_code == 201, completed.text
    image = completed.json()
    assert (image["width"], image["height"]) == (2400, 1600)
    assert image["source"] == "upload"

    again = client.post(upload["complete_url"], headers=ACME)
    assert again.status_code == 200
    assert again.json()["id"] == image["id"]
    assert again.json()["duplicate"] is True


def test_complete_without_sending_anything_is_404(client: TestClient) -> None:
    upload = client.post("/v1/uploads", headers=ACME).json()
    response = client.post(upload["complete_url"], headers=ACME)
    assert response.status_code == 404
    assert response.json()["code"] == "source_not_found"


def test_another_customers_upload_cannot_be_completed(client: TestClient) -> None:
    upload = client.post("/v1/uploads", headers=ACME).json()
    send(client, upload, jpeg_photo(300, 200), "application/octet-stream")
    response = client.post(upload["complete_url"], headers=headers_for("globex"))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_unknown_upload_is_404_and_a_malformed_id_422(client: TestClient) -> None:
    assert client.post(f"/v1/uploads/{'0' * 32}/complete", headers=ACME).status_code == 404
    assert client.post("/v1/uploads/../complete", headers=ACME).status_code in {404, 422}
    assert client.post("/v1/uploads/XYZ/complete", headers=ACME).status_code == 422


def test_a_declared_size_over_the_limit_is_413_up_front(client: TestClient) -> None:
    response = client.post("/v1/uploads", json={"bytes": 10**9}, headers=ACME)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_a_bad_upload_is_refused_at_completion_like_a_post(client: TestClient) -> None:
    upload = client.post("/v1/uploads", headers=ACME).json()
    send(client, upload, SVG, "application/octet-stream")
    response = client.post(upload["complete_url"], headers=ACME)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_format"


class _RecordWriteFailsOnce:
    """The real store, but the first write of an upload record naming its image fails, as
    when storage goes away (or Lambda stops) between ingesting and recording the outcome."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.failed = False

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        if key.startswith("uploads/") and b'"image_id"' in data and not self.failed:
            self.failed = True
            raise TransientError("storage went away")
        self._store.put(key, data, content_type, cache_control)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_completion_retried_after_a_fault_answers_the_image_and_then_discards_the_upload(
    settings: Settings,
) -> None:
    base = build_context(settings)
    objects = _RecordWriteFailsOnce(base.objects)
    ctx = Context(settings, objects, base.warehouse)  # type: ignore[arg-type]
    with TestClient(create_app(ctx=ctx), raise_server_exceptions=False) as client:
        data = jpeg_photo(640, 480)
        upload = client.post("/v1/uploads", json={"content_type": "image/jpeg"}, headers=ACME)
        upload_id = upload.json()["upload_id"]
        send(client, upload.json(), data, "image/jpeg")

        failed = client.post(upload.json()["complete_url"], headers=ACME)
        assert failed.status_code == 503
        assert objects.failed
        assert base.objects.exists(f"uploads/{upload_id}")  # kept for the retry

        retried = client.post(upload.json()["complete_url"], headers=ACME)
        assert retried.status_code == 201, retried.text
        assert not base.objects.exists(f"uploads/{upload_id}")

        again = client.post(upload.json()["complete_url"], headers=ACME)
        assert again.status_code == 200
        assert again.json()["id"] == retried.json()["id"]
    base.close()


def test_local_signed_urls_refuse_a_wrong_signature_and_an_oversize_body(
    embedded_client: TestClient,
) -> None:
    upload = embedded_client.post("/v1/uploads", headers=ACME).json()
    url = httpx.URL(upload["url"])
    forged = url.copy_set_param("signature", "0" * 64)
    assert embedded_client.put(str(forged), content=b"x").status_code == 403
    smaller = url.copy_set_param("max_bytes", "10")
    assert embedded_client.put(str(smaller), content=b"x").status_code == 403  # signed value
    wrong_method = embedded_client.get(str(url))
    assert wrong_method.status_code in {403, 422}


def test_local_signed_get_serves_the_object(embedded_client: TestClient) -> None:
    upload = embedded_client.post("/v1/uploads", headers=ACME).json()
    data = jpeg_photo(200, 100)
    assert (
        embedded_client.put(upload["url"], content=data, headers=upload["headers"]).status_code
        == 200
    )
    app_ctx = embedded_client.app.state.ctx  # type: ignore[attr-defined]
    url = app_ctx.objects.presign_get(f"uploads/{upload['upload_id']}")
    got = embedded_client.get(url)
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["etag"].startswith('"')


def test_a_local_signed_url_works_for_its_own_key_method_and_lifetime_only(
    embedded_settings: Callable[..., Settings],
) -> None:
    """The folder store's URLs are signed like S3's: moved to another key, used with another
    method, or used after they expire, they are refused with 403."""
    from core.bootstrap import Context
    from core.repository.objects import FolderStore
    from core.repository.warehouse import open_warehouse
    from services.upload_api.app import create_app

    settings = embedded_settings()
    now = [1_900_000_000.0]
    objects = FolderStore(Path(settings.storage_url.removeprefix("file://")), clock=lambda: now[0])
    ctx = Context(settings, objects, open_warehouse(settings))
    with TestClient(create_app(ctx=ctx), raise_server_exceptions=False) as client:
        ours, theirs = (client.post("/v1/uploads", headers=ACME).json() for _ in range(2))
        url = httpx.URL(ours["url"])
        other_key = url.copy_with(path=httpx.URL(theirs["url"]).path)
        assert client.put(str(other_key), content=b"x").status_code == 403
        assert client.put(str(url), content=jpeg_photo(90, 60)).status_code == 200
        as_get = url.copy_set_param("method", "GET").copy_remove_param("max_bytes")
        assert client.get(str(as_get)).status_code == 403
        now[0] += ours["expires_in"] + 1
        expired = client.put(str(url), content=jpeg_photo(90, 60))
        assert expired.status_code == 403
        assert expired.json()["code"] == "invalid_signature"
