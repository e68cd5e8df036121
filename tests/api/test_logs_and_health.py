"""One JSON log line per request with its id; health and readiness probes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from core.bootstrap import build_context
from core.config import Settings
from services.upload_api.app import create_app
from services.upload_api.request_log import JsonFormatter
from tests.harness.app import KEYS, headers_for
from tests.harness.proxy import FaultProxy
from tests.images import jpeg_photo


def access_lines(log: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in log.records
        if record.name == "imgpipe.api.access"
    ]


def test_each_request_logs_one_json_line_with_its_id(
    embedded_client: TestClient, api_log: pytest.LogCaptureFixture
) -> None:
    data = jpeg_photo(300, 200)
    response = embedded_client.post(
        "/v1/images",
        content=data,
        headers={**headers_for("acme"), "Content-Type": "image/jpeg", "X-Request-Id": "req-123"},
    )
    assert response.headers["x-request-id"] == "req-123"
    embedded_client.get("/v1/images?limit=1", headers={"X-API-Key": "wrong"})
    lines = access_lines(api_log)
    assert len(lines) == 2
    first, second = lines
    assert first["request_id"] == "req-123"
    assert (first["method"], first["path"], first["status"], first["customer"]) == (
        "POST",
        "/v1/images",
        201,
        "acme",
    )
    assert isinstance(first["duration_ms"], float)
    assert second["status"] == 401 and second["customer"] is None
    assert "limit" not in str(second["path"])  # paths only: queries may carry signatures
    everything = "\n".join(JsonFormatter().format(r) for r in api_log.records)
    assert KEYS["acme"] not in everything and "wrong" not in everything


def test_an_unsafe_request_id_is_replaced(embedded_client: TestClient) -> None:
    response = embedded_client.get("/healthz", headers={"X-Request-Id": "bad id\twith tabs"})
    assert response.headers["x-request-id"] != "bad id\twith tabs"
    assert len(response.headers["x-request-id"]) == 32


def test_an_unexpected_error_is_a_problem_500_with_the_request_id(
    embedded_settings: Callable[..., Settings], api_log: pytest.LogCaptureFixture
) -> None:
    ctx = build_context(embedded_settings())

    def broken() -> None:
        raise RuntimeError("disk on fire")

    ctx.objects.ping = broken  # type: ignore[method-assign]
    with TestClient(create_app(ctx=ctx), raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "internal_error"
    assert "disk on fire" not in problem["detail"]
    assert problem["request_id"] == response.headers["x-request-id"]
    assert any(r.exc_info for r in api_log.records if r.levelno == logging.ERROR)
    # The last-resort answer is sent outside the routes: it still gets the security headers.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_healthz_answers_without_dependencies(embedded_client: TestClient) -> None:
    assert embedded_client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.slow
def test_readyz_stays_ready_while_the_warehouse_is_unreachable_and_uploads_go_on(
    make_settings: Callable[..., Settings],
    postgres_url_via_proxy: str,
    postgres_proxy: FaultProxy,
) -> None:
    from core.repository.migrations import upgrade

    upgrade(postgres_url_via_proxy)
    ctx = build_context(make_settings(database_url=postgres_url_via_proxy))
    with TestClient(create_app(ctx=ctx)) as client:
        ready = client.get("/readyz").json()
        assert ready["checks"] == {"storage": "ok", "database": "ok"}
        assert ready["warehouse_lag_seconds"] == 0.0
        with postgres_proxy.down():
            down = client.get("/readyz")
            assert down.status_code == 200
            assert down.json()["checks"] == {"storage": "ok", "database": "unreachable"}
            assert down.json()["warehouse_lag_seconds"] is None
            accepted = client.post(
                "/v1/images",
                content=jpeg_photo(200, 150),
                headers={**headers_for("acme"), "Content-Type": "image/jpeg"},
            )
            assert accepted.status_code == 201
        assert client.get("/readyz").json()["checks"]["database"] == "ok"


def test_readyz_is_503_with_retry_after_while_storage_is_unreachable(
    make_settings: Callable[..., Settings], s3_proxy: FaultProxy, api_log: pytest.LogCaptureFixture
) -> None:
    ctx = build_context(make_settings(s3_endpoint_url=f"http://{s3_proxy.address}"))
    with TestClient(create_app(ctx=ctx)) as client:
        assert client.get("/readyz").status_code == 200
        s3_proxy.cut()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.headers["retry-after"] == "5"
        problem = down.json()
        assert problem["code"] == "unavailable"
        assert problem["checks"]["storage"] == "unreachable"
        assert "127.0.0.1" not in down.text  # where storage is: for the log, not the caller
        refused = client.post(
            "/v1/images",
            content=jpeg_photo(200, 150),
            headers={**headers_for("acme"), "Content-Type": "image/jpeg"},
        )
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) >= 1
    assert any("storage unreachable" in r.getMessage() for r in api_log.records)
