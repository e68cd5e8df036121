"""503s tell a client what is unavailable, never the paths and driver errors behind it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.bootstrap import build_context
from core.config import Settings
from services.upload_api.app import create_app
from tests.harness.app import headers_for
from tests.harness.proxy import FaultProxy
from tests.images import jpeg_photo

IMAGE_HEADERS = {**headers_for("acme"), "Content-Type": "image/jpeg"}
INTERNALS = ("Errno", "/tmp", "OperationalError", "psycopg", "127.0.0.1", "Traceback")


def _client(settings: Settings) -> TestClient:
    return TestClient(create_app(ctx=build_context(settings)), raise_server_exceptions=False)


def _logged(log: pytest.LogCaptureFixture, request_id: str) -> str:
    return "\n".join(
        record.getMessage()
        for record in log.records
        if getattr(record, "request_id", None) == request_id
    )


def test_a_storage_fault_is_a_generic_503_and_the_log_has_the_why_with_the_request_id(
    embedded_settings: Callable[..., Settings], api_log: pytest.LogCaptureFixture
) -> None:
    settings = embedded_settings()
    root = Path(settings.storage_url.removeprefix("file://"))
    root.mkdir(parents=True)
    (root / "renditions").write_text("a file where a folder must be")  # every write fails
    with _client(settings) as client:
        response = client.post(
            "/v1/images",
            content=jpeg_photo(300, 200),
            headers={**IMAGE_HEADERS, "X-Request-Id": "req-storage-down"},
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"] == "storage unavailable, retry in 1 s"
    assert not [word for word in INTERNALS if word in response.text], response.text
    assert str(root) in _logged(api_log, "req-storage-down")


def test_readiness_names_what_is_unreachable_and_logs_why(
    embedded_settings: Callable[..., Settings], api_log: pytest.LogCaptureFixture
) -> None:
    settings = embedded_settings()
    root = Path(settings.storage_url.removeprefix("file://"))
    root.parent.mkdir(parents=True, exist_ok=True)
    root.write_text("a file where the object folder must be")
    with _client(settings) as client:
        response = client.get("/readyz", headers={"X-Request-Id": "req-not-ready"})
    assert response.status_code == 503
    problem = response.json()
    assert problem["checks"]["storage"] == "unreachable"
    assert problem["detail"] == "not ready: storage unreachable"
    assert not [word for word in INTERNALS if word in response.text], response.text
    assert any(str(root) in record.getMessage() for record in api_log.records)  # the why


@pytest.mark.slow
def test_a_warehouse_outage_is_a_generic_503_without_the_drivers_error(
    make_settings: Callable[..., Settings],
    postgres_url_via_proxy: str,
    postgres_proxy: FaultProxy,
    api_log: pytest.LogCaptureFixture,
) -> None:
    from core.repository.migrations import upgrade

    upgrade(postgres_url_via_proxy)
    settings = make_settings(database_url=postgres_url_via_proxy)
    with _client(settings) as client, postgres_proxy.down():
        response = client.get(  # the statistics are read from the warehouse, whatever ingests
            "/v1/stats", headers={**headers_for("acme"), "X-Request-Id": "req-warehouse-down"}
        )
    assert response.status_code == 503
    assert response.json()["detail"].startswith("warehouse unavailable, retry in ")
    assert not [word for word in INTERNALS if word in response.text], response.text
    assert "warehouse unavailable while" in _logged(api_log, "req-warehouse-down")
