"""Idempotency-Key: the same key and body replay the first response; another body is 409."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from fastapi.testclient import TestClient

from core.bootstrap import build_context
from core.config import Settings
from core.loader import load_once
from services.upload_api.app import create_app
from tests.harness.app import headers_for
from tests.images import SVG, jpeg_photo

ACME = headers_for("acme")


def post(client: TestClient, data: bytes, key: str, customer: str = "acme"):  # type: ignore[no-untyped-def]
    return client.post(
        "/v1/images",
        files={"file": ("a.jpg", data, "image/jpeg")},
        headers={**headers_for(customer), "Idempotency-Key": key},
    )


def test_same_key_and_body_give_the_same_response(client: TestClient) -> None:
    data = jpeg_photo(400, 300)
    first = post(client, data, "key-1")
    again = post(client, data, "key-1")
    assert first.status_code == again.status_code == 201  # not 200 duplicate: a replay
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


def test_same_key_with_another_body_is_409(client: TestClient) -> None:
    assert post(client, jpeg_photo(400, 300), "key-2").status_code == 201
    other = post(client, jpeg_photo(401, 300), "key-2")
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_conflict"


def test_multipart_and_raw_posts_of_the_same_image_are_the_same_request(
    client: TestClient,
) -> None:
    data = jpeg_photo(320, 200)
    first = post(client, data, "key-3")
    raw = client.post(
        "/v1/images",
        content=data,
        headers={**ACME, "Idempotency-Key": "key-3", "Content-Type": "image/jpeg"},
    )
    assert raw.status_code == 201
    assert raw.json() == first.json()


def test_keys_are_per_customer(client: TestClient) -> None:
    assert post(client, jpeg_photo(300, 300), "shared").status_code == 201
    theirs = post(client, jpeg_photo(310, 300), "shared", customer="globex")
    assert theirs.status_code == 201


def test_a_refusal_is_replayed_too(client: TestClient) -> None:
    first = client.post(
        "/v1/images",
        content=SVG,
        headers={**ACME, "Idempotency-Key": "bad", "Content-Type": "image/svg+xml"},
    )
    again = client.post(
        "/v1/images",
        content=SVG,
        headers={**ACME, "Idempotency-Key": "bad", "Content-Type": "image/svg+xml"},
    )
    assert first.status_code == again.status_code == 415
    assert again.json() == first.json()
    assert again.headers["content-type"] == "application/problem+json"


def test_records_are_shared_by_every_process_on_the_same_storage(
    backend_settings: Callable[..., Settings],
) -> None:
    settings = backend_settings()
    data = jpeg_photo(500, 300)
    contexts = [build_context(settings), build_context(settings)]
    one, two = (TestClient(create_app(ctx=ctx)) for ctx in contexts)  # two Lambda containers
    first = post(one, data, "across")
    again = post(two, data, "across")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert post(two, jpeg_photo(501, 300), "across").status_code == 409


def test_idempotency_key_must_be_printable_ascii(embedded_client: TestClient) -> None:
    response = embedded_client.post(
        "/v1/images",
        content=jpeg_photo(100, 100),
        headers={**ACME, "Idempotency-Key": "has space", "Content-Type": "image/jpeg"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


def test_a_retried_upload_with_its_key_records_one_event(
    embedded_settings: Callable[..., Settings],
) -> None:
    """The event id of an upload comes from its Idempotency-Key: even when the record is gone
    (expired), a retry is the same event, answered as it was recorded."""
    ctx = build_context(embedded_settings())
    data = jpeg_photo(600, 400)
    with TestClient(create_app(ctx=ctx)) as client:
        first = post(client, data, "retry-me")
    # A second app on another (empty) idempotency store still writes the same event id.
    from core.repository.objects import FolderStore

    assert isinstance(ctx.objects, FolderStore)
    for key in ctx.objects.keys("idempotency/"):
        ctx.objects.delete(key)
    with TestClient(create_app(ctx=ctx)) as client:
        second = post(client, data, "retry-me")
    # The same event again: it created the manifest, so it is processed, not a duplicate.
    assert second.status_code == 201 and second.json()["duplicate"] is False
    from services.upload_api.routes.images import _event_id

    load_once(ctx)
    event = ctx.warehouse.get_event(_event_id("acme", "retry-me"))  # type: ignore[attr-defined]
    assert event is not None and event.status == "processed"
    assert first.json()["id"] == second.json()["id"]


def test_records_of_a_customer_named_dot_dot_stay_under_their_prefix(
    embedded_settings: Callable[..., Settings],
) -> None:
    """Customer ids come from an authoriser too: one such as `..` once made the record's key
    leave `idempotency/`, and every POST with a key of that customer a 400."""
    settings = embedded_settings(api_keys=[f"..:{hashlib.sha256(b'dots-key').hexdigest()}"])
    ctx = build_context(settings)
    with TestClient(create_app(ctx=ctx)) as client:
        headers = {"X-API-Key": "dots-key", "Idempotency-Key": "k", "Content-Type": "image/jpeg"}
        data = jpeg_photo(200, 100)
        first = client.post("/v1/images", content=data, headers=headers)
        again = client.post("/v1/images", content=data, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert again.headers["idempotent-replayed"] == "true"
    assert all(key.startswith("idempotency/") for key in ctx.objects.keys("idempotency/"))
