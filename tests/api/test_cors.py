"""CORS: off by default; the configured browser origins, and only they, may call the API."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from core.bootstrap import build_context
from core.config import Settings
from services.upload_api.app import create_app
from tests import images
from tests.harness.app import headers_for

APP_ORIGIN = "https://app.example.com"


@pytest.fixture
def cors_client(embedded_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    ctx = build_context(embedded_settings(cors_origins=[APP_ORIGIN]))
    with TestClient(create_app(ctx=ctx), raise_server_exceptions=False) as client:
        yield client
    ctx.close()


def _preflight(client: TestClient, origin: str) -> dict[str, str]:
    response = client.options(
        "/v1/images",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type, idempotency-key",
        },
    )
    return {"status": str(response.status_code), **response.headers}


def test_without_configured_origins_no_answer_allows_a_browser_origin(
    embedded_client: TestClient,
) -> None:
    response = embedded_client.get("/healthz", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_a_configured_origin_passes_the_preflight_without_a_key(cors_client: TestClient) -> None:
    answer = _preflight(cors_client, APP_ORIGIN)
    assert answer["status"] == "200"
    assert answer["access-control-allow-origin"] == APP_ORIGIN
    allowed = answer["access-control-allow-headers"].lower()
    assert {"x-api-key", "content-type", "idempotency-key"} <= {
        h.strip() for h in allowed.split(",")
    }
    assert "POST" in answer["access-control-allow-methods"]


def test_another_origin_is_not_allowed(cors_client: TestClient) -> None:
    answer = _preflight(cors_client, "https://evil.example.net")
    assert answer["status"] == "400"
    assert "access-control-allow-origin" not in answer


def test_an_upload_from_the_configured_origin_exposes_the_request_id(
    cors_client: TestClient,
) -> None:
    response = cors_client.post(
        "/v1/images",
        content=images.jpeg_photo(320, 240),
        headers={"Content-Type": "image/jpeg", "Origin": APP_ORIGIN, **headers_for("acme")},
    )
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize("origin", ["*", "app.example.com", "https://app.example.com/path"])
def test_an_origin_that_is_not_one_is_refused_at_start(
    embedded_settings: Callable[..., Settings], origin: str
) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="IMGPIPE_CORS_ORIGINS"):
        embedded_settings(cors_origins=[origin])
