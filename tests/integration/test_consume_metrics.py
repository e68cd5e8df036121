"""`imgpipe consume --metrics-port`: the standalone consumer's GET /metrics, scraped while it
consumes from a real broker."""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
from pathlib import Path

import httpx

from tests import images
from tests.harness.kafka import TEST_CONSUMER_CONFIG, NewTopicFactory, Outgoing, produce
from tests.harness.process import answers_http, running

SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """The endpoint's samples, each keyed by its name and its labels."""
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            match = SAMPLE.match(line)
            assert match, line
            labels = re.findall(r'(\w+)="([^"]*)"', match["labels"] or "")
            samples[(match["name"], frozenset(labels))] = float(match["value"])
    return samples


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_consume_metrics_count_a_stored_and_a_refused_record_by_code(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic, port = new_topic(partitions=1), free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMGPIPE_")}
    env.update(
        IMGPIPE_DATABASE_URL=f"sqlite:///{tmp_path}/warehouse.db",
        IMGPIPE_STORAGE_URL=f"file://{tmp_path}/objects",
        IMGPIPE_KAFKA_CONSUMER_CONFIG=json.dumps(TEST_CONSUMER_CONFIG),
        IMGPIPE_KAFKA_BATCH_WINDOW_MS="100",
    )
    command = [sys.executable, "-m", "services.cli", "consume", "--bootstrap-servers"]
    command += [kafka_bootstrap, "--topic", topic, "--group-id", "metrics", "--metrics-port"]
    command += [str(port)]
    processed = ("imgpipe_images_processed_total", frozenset({("source", "stream")}))
    rejected = (
        "imgpipe_images_rejected_total",
        frozenset({("source", "stream"), ("code", "unsupported_format")}),
    )
    log = tmp_path / "consume.log"
    with running(command, log, answers_http(url), what="imgpipe consume", env=env, cwd=tmp_path):
        before = scrape(url)
        assert before.get(processed, 0) == 0 and before.get(rejected, 0) == 0
        jpeg = [("content-type", b"image/jpeg")]
        produce(kafka_bootstrap, topic, [Outgoing(images.mosaic_jpeg(64, 64, seed=3), None, jpeg)])
        deadline = time.monotonic() + 60
        while scrape(url).get(processed, 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert scrape(url).get(processed) == 1, log.read_text()
        produce(kafka_bootstrap, topic, [Outgoing(images.TEXT, None)])
        while scrape(url).get(rejected, 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        after = scrape(url)
        assert after.get(rejected) == 1, (sorted(after), log.read_text())
        assert after[processed] == 1  # the refusal counted as such, not as a stored image
