"""`/readyz` on the embedded defaults when the object folder's disk fills up, and after."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from core.bootstrap import build_context
from core.config import load_settings
from services.upload_api.app import create_app
from tests.harness.app import key_pairs
from tests.harness.disk import fill


def test_readyz_is_503_while_the_storage_disk_is_full_and_ready_again_after(
    tmp_path: Path, small_disk: Path
) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/warehouse.db",
        storage_url=f"file://{small_disk}/objects",
        api_keys=key_pairs(),
    )
    ctx = build_context(settings)
    with TestClient(create_app(ctx=ctx)) as client:
        assert client.get("/readyz").status_code == 200
        filler = fill(small_disk)

        full = client.get("/readyz")

        assert full.status_code == 503
        assert full.headers["retry-after"] == "5"
        checks = full.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["storage"].startswith("unreachable")
        filler.unlink()
        assert client.get("/readyz").status_code == 200
    ctx.close()
