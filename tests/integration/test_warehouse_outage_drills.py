"""Drills: the warehouse goes away for 30 s while `imgpipe serve` takes uploads and while
`imgpipe consume` takes stream records. Nothing is refused, nothing is held back, and once the
warehouse is back every accepted image is in it exactly once."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from core.repository.migrations import upgrade
from tests import images
from tests.harness.app import _environment, headers_for, key_pairs, serving
from tests.harness.kafka import Outgoing, committed, create_topic, produce
from tests.harness.process import running
from tests.harness.proxy import FaultProxy
from tests.harness.s3 import DUMMY_AWS_ENV, MakeSettings

OUTAGE_SECONDS = 30
LOAD_INTERVAL = "1"


def _events(database_url: str) -> tuple[int, int, int]:
    """Event rows, distinct event ids, and distinct images with a processed event."""
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select count(*), count(distinct event_id), "
            "count(distinct image_id) filter (where status = 'processed') from ingest_events"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.25)


def _settings_env(settings: Any, database_url: str) -> dict[str, str]:
    return {
        **DUMMY_AWS_ENV,
        "IMGPIPE_STORAGE_URL": settings.storage_url,
        "IMGPIPE_S3_ENDPOINT_URL": str(settings.s3_endpoint_url),
        "IMGPIPE_AWS_REGION": str(settings.aws_region),
        "IMGPIPE_DATABASE_URL": database_url,
        "IMGPIPE_RENDITIONS": "thumb:96:jpeg:80",
        "IMGPIPE_LOAD_INTERVAL_SECONDS": LOAD_INTERVAL,
    }


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_uploads_go_on_through_a_30_s_warehouse_outage_and_every_row_lands_once(
    make_settings: MakeSettings,
    postgres_url: str,
    postgres_url_via_proxy: str,
    postgres_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    upgrade(postgres_url)
    env = {
        **_settings_env(make_settings(), postgres_url_via_proxy),
        "IMGPIPE_API_KEYS": ",".join(key_pairs()),
    }
    accepted: list[str] = []
    refused: list[int] = []
    stop = threading.Event()

    def client(base: str, worker: int) -> None:
        serial = 0
        with httpx.Client(base_url=base, headers=headers_for("acme"), timeout=60) as http:
            while not stop.is_set():
                serial += 1
                data = images.mosaic_jpeg(64, 48, seed=worker * 100_000 + serial)
                response = http.post(
                    "/v1/images", content=data, headers={"Content-Type": "image/jpeg"}
                )
                if response.status_code == 201:
                    accepted.append(response.json()["id"])
                else:
                    refused.append(response.status_code)

    with serving(tmp_path, env) as (base, _log):
        clients = [threading.Thread(target=client, args=(base, n)) for n in range(3)]
        for thread in clients:
            thread.start()
        time.sleep(3)
        before = len(accepted)
        with postgres_proxy.down():
            time.sleep(OUTAGE_SECONDS)
            during = len(accepted) - before
            ready = httpx.get(f"{base}/readyz", timeout=10)
        time.sleep(3)
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
        # Back: the background loader catches up within a few load intervals.
        _wait_for(lambda: _events(postgres_url)[2] == len(accepted), 60, "every upload loaded")

    assert refused == []
    assert during > 0, "uploads went on during the outage"
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "unreachable"
    rows, distinct, images_processed = _events(postgres_url)
    assert rows == distinct == images_processed == len(accepted)


_CONSUME_ARGS = ("--group-id", "outage", "--batch-size", "10", "--log-interval", "5")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_stream_goes_on_through_a_30_s_warehouse_outage_and_every_row_lands_once(
    make_settings: MakeSettings,
    s3_client: Any,
    postgres_url: str,
    postgres_url_via_proxy: str,
    postgres_proxy: FaultProxy,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    upgrade(postgres_url)
    topic = create_topic(kafka_bootstrap, partitions=2)
    env = _environment(
        {
            **_settings_env(make_settings(), postgres_url_via_proxy),
            "IMGPIPE_KAFKA_CONSUMER_CONFIG": '{"session.timeout.ms": 6000}',
        }
    )
    command = [
        sys.executable,
        "-m",
        "services.cli",
        "consume",
        "--bootstrap-servers",
        kafka_bootstrap,
        "--topic",
        topic,
        *_CONSUME_ARGS,
    ]
    sent = 0

    def send(count: int) -> None:
        nonlocal sent
        records = [
            Outgoing(images.mosaic_jpeg(64, 48, seed=900_000 + sent + i), partition=i % 2)
            for i in range(count)
        ]
        produce(kafka_bootstrap, topic, records)
        sent += count

    log = tmp_path / "consume.log"
    ready = lambda: "assigned" in (log.read_text() if log.exists() else "")  # noqa: E731
    with running(command, log, ready, what="imgpipe consume", env=env, cwd=tmp_path):
        send(20)
        _wait_for(lambda: _events(postgres_url)[0] == 20, 60, "the first records loaded")
        with postgres_proxy.down():
            for _ in range(6):
                send(10)
                time.sleep(OUTAGE_SECONDS / 6)
            # Consumed and committed meanwhile: the stream did not wait for the warehouse.
            _wait_for(
                lambda: sum(committed(kafka_bootstrap, "outage", topic).values()) == sent,
                30,
                "the records sent during the outage committed",
            )
        send(10)
        _wait_for(lambda: _events(postgres_url)[2] == sent, 90, "every record loaded")
    rows, distinct, images_processed = _events(postgres_url)
    assert rows == distinct == images_processed == sent == 90
