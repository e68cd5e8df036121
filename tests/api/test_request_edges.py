"""Requests at the edges of what is sensible: doubled credentials, paths of any length."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.harness.app import KEYS, headers_for


def test_two_api_key_headers_are_refused_rather_than_one_picked(client: TestClient) -> None:
    for keys in (
        [KEYS["acme"], KEYS["globex"]],
        [KEYS["acme"], KEYS["acme"]],
        ["not-a-key-at-all", KEYS["acme"]],
    ):
        response = client.get("/v1/images", headers=[("X-API-Key", key) for key in keys])
        assert response.status_code == 401, keys
        assert response.json()["code"] == "duplicate_api_key"
        assert "2 X-API-Key headers" in response.json()["detail"]
        assert not any(key in response.text for key in keys)
    dashboard = client.get("/dashboard", headers=[("X-API-Key", KEYS["ops"])] * 2)
    assert dashboard.status_code == 401
    assert client.get("/v1/images", headers=headers_for("acme")).status_code == 200


def test_a_problems_instance_is_cut_however_long_the_path(embedded_client: TestClient) -> None:
    for path in ("/v1/images/" + "a" * 20_000, "/v1/nowhere/" + "b" * 20_000):
        response = embedded_client.get(path, headers=headers_for("acme"))
        assert response.status_code in {404, 422}
        problem = response.json()
        assert problem["instance"] == path[:256]
        assert len(response.content) < 4096, len(response.content)
