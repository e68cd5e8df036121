"""Who may call: X-API-Key against configured digests, open locally, the authoriser on Lambda."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from core.config import Settings
from core.errors import ConfigError
from services.upload_api.app import create_app
from services.upload_api.auth import Authenticator, customer_from_authorizer
from services.upload_api.problems import ApiError
from tests.harness.app import KEYS, headers_for, loaded
from tests.images import jpeg_photo


def test_missing_and_wrong_keys_are_401_problems(embedded_client: TestClient) -> None:
    for headers in ({}, {"X-API-Key": "not-a-key"}, {"X-API-Key": ""}):
        response = embedded_client.get("/v1/images", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "unauthorized"
        assert KEYS["acme"] not in response.text


def test_each_key_acts_as_its_customer(embedded_client: TestClient) -> None:
    data = jpeg_photo(300, 200)
    acme = embedded_client.post(
        "/v1/images", content=data, headers={**headers_for("acme"), "Content-Type": "image/jpeg"}
    )
    globex = embedded_client.post(
        "/v1/images", content=data, headers={**headers_for("globex"), "Content-Type": "image/jpeg"}
    )
    assert acme.status_code == globex.status_code == 201
    listed = loaded(embedded_client).get("/v1/images", headers=headers_for("globex")).json()
    assert [item["id"] for item in listed["items"]] == [globex.json()["id"]]


def test_a_key_is_refused_before_its_body_is_read(embedded_client: TestClient) -> None:
    response = embedded_client.post(
        "/v1/images", content=b"\x00" * 100, headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code == 401


def test_health_and_docs_need_no_key(embedded_client: TestClient) -> None:
    assert embedded_client.get("/healthz").status_code == 200
    assert embedded_client.get("/openapi.json").status_code == 200
    assert embedded_client.get("/docs").status_code == 200


def test_without_keys_locally_the_api_is_open_as_customer_local_with_a_warning(
    embedded_settings: Callable[..., Settings],
    api_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    app = create_app(embedded_settings(api_keys=[]))
    warnings = [r for r in api_log.records if r.levelno == logging.WARNING]
    assert any("open" in r.getMessage() for r in warnings)
    with TestClient(app) as client:
        created = client.post(
            "/v1/images", content=jpeg_photo(200, 100), headers={"Content-Type": "image/jpeg"}
        )
        assert created.status_code == 201
        listed = loaded(client).get("/v1/images").json()["items"]
    assert [item["id"] for item in listed] == [created.json()["id"]]


def test_on_lambda_without_keys_it_refuses_to_start(
    embedded_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "imgpipe-upload")
    with pytest.raises(ConfigError, match="IMGPIPE_AUTH=gateway"):
        create_app(embedded_settings(api_keys=[]))
    with pytest.raises(ConfigError):
        create_app(embedded_settings(api_keys=[], auth="open"))
    assert create_app(embedded_settings(api_keys=[], auth="gateway")).state.auth.mode == "gateway"
    assert create_app(embedded_settings()).state.auth.mode == "keys"


def test_keys_mode_without_keys_is_a_configuration_error(
    embedded_settings: Callable[..., Settings],
) -> None:
    with pytest.raises(ConfigError, match="IMGPIPE_API_KEYS"):
        Authenticator.from_settings(embedded_settings(api_keys=[], auth="keys"))


def test_a_key_is_checked_against_every_digest(embedded_settings: Callable[..., Settings]) -> None:
    many = [f"c{i}:{hashlib.sha256(f'k{i}'.encode()).hexdigest()}" for i in range(50)]
    auth = Authenticator.from_settings(embedded_settings(api_keys=many))
    assert auth.customer("k0", None) == "c0"
    assert auth.customer("k49", None) == "c49"


@pytest.mark.parametrize(
    ("authorizer", "customer"),
    [
        ({"lambda": {"customer_id": "acme"}}, "acme"),  # HTTP API, Lambda authoriser
        ({"jwt": {"claims": {"sub": "user-7"}, "scopes": None}}, "user-7"),  # HTTP API, JWT
        ({"customer_id": "globex", "principalId": "p-1"}, "globex"),  # REST, Lambda authoriser
        ({"principalId": "p-1"}, "p-1"),  # REST, principal only
        ({"claims": {"sub": "cognito-9"}}, "cognito-9"),  # REST, Cognito user pool
        ({}, None),
        ({"lambda": {"customer_id": ""}}, None),
    ],
)
def test_customer_comes_from_the_authoriser_context(
    authorizer: dict[str, object], customer: str | None
) -> None:
    event = {"requestContext": {"authorizer": authorizer}}
    assert customer_from_authorizer(event) == customer


@pytest.mark.parametrize(
    ("customer", "why"),
    [
        ("c" * 129, "longer than 128 bytes"),
        ("é" * 65, "longer than 128 bytes"),
        ("a\nb", "control"),
        ("a\u0085b", "control"),
        ("a\u2028b", "line-break"),
        ("a\ud800", "surrogate"),
    ],
    ids=["129-ascii", "130-bytes-utf8", "newline", "c1-control", "line-separator", "surrogate"],
)
def test_an_authoriser_customer_the_warehouse_cannot_hold_is_401(
    embedded_settings: Callable[..., Settings], customer: str, why: str
) -> None:
    """Not a 201 whose rows then fail (or are cut) in a VARCHAR(128) column."""
    auth = Authenticator.from_settings(embedded_settings(api_keys=[], auth="gateway"))
    event = {"requestContext": {"authorizer": {"lambda": {"customer_id": customer}}}}
    with pytest.raises(ApiError) as refused:
        auth.customer(None, event)
    assert refused.value.status == 401
    assert why in refused.value.detail
    fits = {"requestContext": {"authorizer": {"lambda": {"customer_id": "é" * 64}}}}
    assert auth.customer(None, fits) == "é" * 64


@pytest.mark.parametrize(
    "customer",
    ["a\u200db", "x\u00a0y", "\ue000", "\U0001f9d1\u200d\U0001f4bb"],
    ids=["zero-width-joiner", "no-break-space", "private-use", "emoji-sequence"],
)
def test_an_authoriser_customer_of_any_text_but_control_characters_is_accepted(
    embedded_settings: Callable[..., Settings], customer: str
) -> None:
    """The same rule as the stream worker's, so that one customer can use both paths."""
    auth = Authenticator.from_settings(embedded_settings(api_keys=[], auth="gateway"))
    event = {"requestContext": {"authorizer": {"lambda": {"customer_id": customer}}}}
    assert auth.customer(None, event) == customer


def test_configured_keys_for_an_unusable_customer_stop_the_start(
    embedded_settings: Callable[..., Settings],
) -> None:
    pair = f"{'c' * 200}:{hashlib.sha256(b'k').hexdigest()}"
    with pytest.raises(ConfigError, match="longer than 128 bytes"):
        Authenticator.from_settings(embedded_settings(api_keys=[pair]))
