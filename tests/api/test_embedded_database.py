"""The embedded SQLite warehouse under `imgpipe serve`: removed while the server runs, it is
made again and filled from the fact log, and nothing is written into the deleted file."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.harness.app import headers_for, key_pairs, serving
from tests.images import mosaic_jpeg

ACME = headers_for("acme")


def _post(base: str, seed: int) -> None:
    response = httpx.post(
        f"{base}/v1/images",
        content=mosaic_jpeg(48, 32, seed=seed),
        headers={**ACME, "Content-Type": "image/jpeg"},
        timeout=30,
    )
    assert response.status_code == 201, response.text


def _events(base: str) -> int:
    response = httpx.get(f"{base}/v1/stats", headers=ACME, timeout=30)
    assert response.status_code == 200, response.text
    return int(response.json()["totals"]["events"])


def _rows_in_file(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("select count(*) from ingest_events").fetchone()[0])


def _wait(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_warehouse_file_removed_under_the_server_is_rebuilt_from_the_fact_log(
    tmp_path: Path,
) -> None:
    env = {"IMGPIPE_API_KEYS": ",".join(key_pairs()), "IMGPIPE_LOAD_INTERVAL_SECONDS": "0.5"}
    database = tmp_path / ".imgpipe" / "warehouse.db"
    with serving(tmp_path, env) as (base, _log):
        for seed in range(3):
            _post(base, seed)
        _wait(lambda: _events(base) == 3)
        for suffix in ("", "-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)
        for seed in range(3, 5):
            _post(base, seed)
        ready = httpx.get(f"{base}/readyz", timeout=30)
        assert ready.status_code == 200
        assert ready.json()["checks"]["database"] in {"ok", "rebuilding from the fact log"}
        # Every row, the ones from before the removal too, in the file that is there now.
        _wait(lambda: _events(base) == 5)
        assert database.exists()
        assert _rows_in_file(database) == 5
    with serving(tmp_path, env) as (base, _log):
        assert _events(base) == 5
