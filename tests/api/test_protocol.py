"""HTTP details: HEAD answered like GET, and the security headers on every kind of answer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from core.bootstrap import build_context
from core.config import Settings
from services.upload_api.app import create_app
from services.upload_api.protocol import API_CSP
from tests.harness.app import headers_for
from tests.images import jpeg_photo

ACME = headers_for("acme")


def upload(client: TestClient) -> str:
    response = client.post(
        "/v1/images", content=jpeg_photo(400, 300), headers={**ACME, "Content-Type": "image/jpeg"}
    )
    assert response.status_code == 201, response.text
    image_id: str = response.json()["id"]
    return image_id


def test_head_of_a_rendition_gives_the_get_headers_without_the_body(
    embedded_client: TestClient, api_log: pytest.LogCaptureFixture
) -> None:
    url = f"/v1/images/{upload(embedded_client)}/renditions/thumb"
    got = embedded_client.get(url, headers=ACME)
    head = embedded_client.head(url, headers=ACME)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["content-type"] == "image/jpeg"
    methods = [r.__dict__.get("method") for r in api_log.records if r.name.endswith("access")]
    assert methods[-2:] == ["GET", "HEAD"]  # the log says what the client sent


def test_head_answers_like_get_for_probes_and_refusals(embedded_client: TestClient) -> None:
    assert embedded_client.head("/healthz").status_code == 200
    assert embedded_client.head("/v1/images").status_code == 401  # a key is still needed
    only_post = embedded_client.head("/v1/uploads", headers=ACME)
    assert only_post.status_code == 405
    assert only_post.headers["allow"] == "POST"


def test_json_answers_carry_security_headers_and_are_not_cached(
    embedded_client: TestClient,
) -> None:
    for response in (
        embedded_client.get("/v1/images", headers=ACME),
        embedded_client.get("/v1/images", headers={"X-API-Key": "wrong"}),
        embedded_client.get("/openapi.json"),
    ):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["content-security-policy"] == API_CSP
        assert headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in headers  # plain HTTP: no HSTS


def test_pages_keep_their_scripts_but_are_never_framed(embedded_client: TestClient) -> None:
    docs = embedded_client.get("/docs")
    assert docs.headers["content-security-policy"] == "frame-ancestors 'none'"
    dashboard = embedded_client.get("/dashboard", headers=ACME)
    refused = embedded_client.get("/dashboard", params={"from": "March"}, headers=ACME)
    assert refused.status_code == 422
    for page in (dashboard, refused):
        assert "default-src 'none'" in page.headers["content-security-policy"]  # its own
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"


def test_a_rendition_keeps_its_own_cache_control(embedded_client: TestClient) -> None:
    url = f"/v1/images/{upload(embedded_client)}/renditions/display"
    response = embedded_client.get(url, headers=ACME)
    assert response.headers["cache-control"].startswith("private")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_hsts_only_on_requests_that_came_over_https(
    embedded_settings: Callable[..., Settings],
) -> None:
    ctx = build_context(embedded_settings())
    with TestClient(create_app(ctx=ctx), base_url="https://api.example.com") as client:
        response = client.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=31536000"
