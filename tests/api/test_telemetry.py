"""Logs, metrics and traces of the three Lambda handlers (EMF and JSON lines on stdout, as
CloudWatch reads them) and of `imgpipe serve` (GET /metrics in Prometheus text)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

import core.bootstrap
import services.invocation
from core.bootstrap import build_context
from core.config import Settings, get_settings
from core.telemetry import logs, metrics
from services.stream_worker.records import KafkaRecord, msk_event
from services.upload_api.app import create_app
from tests.api.test_lambda import http_api_event, raw_jpeg_post
from tests.harness.app import KEYS, headers_for, key_pairs
from tests.images import jpeg_photo

TRACE = "Root=1-6745a0f1-4c2b8a1d3e5f60718293a4b5;Parent=53995c3f42cd8ad8;Sampled=1"
HANDLERS = (
    "services.upload_api.lambda_handler",
    "services.stream_worker.lambda_handler",
    "services.loader.lambda_handler",
)


def context(name: str, request_id: str) -> SimpleNamespace:
    return SimpleNamespace(
        function_name=name,
        aws_request_id=request_id,
        invoked_function_arn=f"arn:aws:lambda:eu-west-1:123456789012:function:{name}",
        get_remaining_time_in_millis=lambda: 60_000,
    )


def _forget() -> None:
    for name in HANDLERS:
        sys.modules.pop(name, None)
    get_settings.cache_clear()
    core.bootstrap._default = None
    services.invocation._cold = True  # a fresh container, whichever handler ran before


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[str], Any]]:
    """Import a handler module afresh on a Lambda-like environment (embedded storage)."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "imgpipe-test")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon here
    monkeypatch.setenv("IMGPIPE_DATABASE_URL", f"sqlite:///{tmp_path}/warehouse.db")
    monkeypatch.setenv("IMGPIPE_STORAGE_URL", f"file://{tmp_path}/objects")
    monkeypatch.setenv("IMGPIPE_API_KEYS", ",".join(key_pairs()))
    _forget()

    def load(module: str) -> ModuleType:
        return importlib.import_module(module)

    yield load
    _forget()
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    logs.configure()  # back to the local handler for the tests that follow


def stdout_documents(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every line printed since the last call, each of which must be a JSON object."""
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def emf(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if "_aws" in d]


def emf_values(documents: list[dict[str, Any]], name: str) -> list[tuple[dict[str, str], Any]]:
    """(dimensions, total) of each EMF document carrying metric `name`, unit checked."""
    found = []
    for document in emf(documents):
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "imgpipe"
        units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
        if name in units:
            assert units[name] == metrics.METRICS[name].unit
            dimension_names, *rollups = directive["Dimensions"]
            assert set(dimension_names) == set(metrics.METRICS[name].dimensions)
            assert [tuple(r) for r in rollups] == list(metrics.METRICS[name].rollups)
            value = document[name]  # one value, or a list of those recorded together
            found.append(
                (
                    {k: document[k] for k in dimension_names},
                    sum(value if isinstance(value, list) else [value]),
                )
            )
    return found


def log_lines(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if "_aws" not in d]


def test_api_handler_prints_emf_for_a_stored_and_a_rejected_image_and_json_logs(
    lambda_env: Callable[[str], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    module = lambda_env(HANDLERS[0])
    capsys.readouterr()
    stored = module.handler(raw_jpeg_post(64, 48), context("imgpipe-upload", "req-stored"))
    assert stored["statusCode"] == 201
    first = stdout_documents(capsys)
    refused_event = http_api_event(
        "POST",
        "/v1/images",
        headers={"content-type": "image/jpeg", "x-api-key": KEYS["acme"], "x-request-id": "r-2"},
        body=b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    )
    refused = module.handler(refused_event, context("imgpipe-upload", "req-refused"))
    assert refused["statusCode"] == 415
    second = stdout_documents(capsys)

    assert emf_values(first, "ImagesProcessed") == [({"source": "upload"}, 1.0)]
    assert emf_values(first, "ImagesRejected") == []
    ((dims, bytes_in),) = emf_values(first, "BytesIn")
    assert dims == {"source": "upload"} and bytes_in == len(jpeg_photo(64, 48))
    ((_, bytes_out),) = emf_values(first, "BytesOut")
    assert bytes_out > 0
    ((_, milliseconds),) = emf_values(first, "ProcessingMs")
    assert milliseconds > 0
    assert emf_values(second, "ImagesRejected") == [
        ({"source": "upload", "code": "unsupported_format"}, 1.0)
    ]
    assert emf_values(second, "ImagesProcessed") == []

    (access,) = [line for line in log_lines(second) if line.get("message") == "request"]
    assert access["service"] == "imgpipe"
    assert access["xray_trace_id"] == TRACE.split(";", maxsplit=1)[0].removeprefix("Root=")
    assert access["function_request_id"] == "req-refused"
    assert access["cold_start"] is False  # the container's second invocation
    assert access["request_id"] == "r-2" and access["status"] == 415
    (first_access,) = [line for line in log_lines(first) if line.get("message") == "request"]
    assert first_access["cold_start"] is True


def test_stream_handler_counts_stored_rejected_and_dead_letters_with_batch_correlation(
    lambda_env: Callable[[str], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    module = lambda_env(HANDLERS[1])
    records = [
        KafkaRecord("images", 3, 40, value=jpeg_photo(80, 60)),
        KafkaRecord("images", 3, 41, value=b"%PDF-1.7 not an image"),
    ]
    capsys.readouterr()
    answer = module.handler(msk_event(records), context("imgpipe-stream", "req-batch"))
    assert answer == {"batchItemFailures": []}
    documents = stdout_documents(capsys)
    assert emf_values(documents, "ImagesProcessed") == [({"source": "stream"}, 1.0)]
    assert emf_values(documents, "ImagesRejected") == [
        ({"source": "stream", "code": "unsupported_format"}, 1.0)
    ]
    assert emf_values(documents, "DeadLetters") == [
        ({"source": "stream", "code": "unsupported_format"}, 1.0)
    ]
    lines = log_lines(documents)
    dead = [line for line in lines if str(line.get("message", "")).startswith("dead-lettered")]
    summary = [line for line in lines if str(line.get("message", "")).startswith("batch of 2")]
    assert dead and summary
    for line in (*dead, *summary):
        assert line["correlation_id"] == "images:3:40-41"
        assert (line["topic"], line["partition"], line["offsets"]) == ("images", 3, "40-41")
        assert line["function_request_id"] == "req-batch"
        assert line["service"] == "imgpipe"


def test_loader_handler_reports_rows_facts_and_lag_with_its_load_id(
    lambda_env: Callable[[str], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    api = lambda_env(HANDLERS[0])
    api.handler(raw_jpeg_post(64, 48), context("imgpipe-upload", "req-1"))
    loader = lambda_env(HANDLERS[2])
    capsys.readouterr()
    summary = loader.handler({}, context("imgpipe-loader", "req-load"))
    documents = stdout_documents(capsys)
    assert summary["files"] == 1
    rows = sum(value for _, value in emf_values(documents, "RowsLoaded"))
    assert rows == summary["rows"] > 0
    assert sum(value for _, value in emf_values(documents, "FactsLoaded")) == 1
    lag = emf_values(documents, "LoaderLagSeconds")
    assert lag and all(dims == {} and value == 0.0 for dims, value in lag)
    (load_line,) = [d for d in log_lines(documents) if str(d.get("message")).startswith("load ")]
    assert load_line["correlation_id"] == load_line["load_id"]
    assert load_line["load_id"] in load_line["message"]
    assert load_line["function_request_id"] == "req-load"


def scrape(client: TestClient) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_metrics_scraped_from_serve_move_with_uploads(
    embedded_settings: Callable[..., Settings],
) -> None:
    ctx = build_context(embedded_settings())
    app = create_app(ctx=ctx, serve_metrics=True)
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        before = scrape(client)
        stored = 'imgpipe_images_processed_total{source="upload"}'
        rejected = 'imgpipe_images_rejected_total{code="unsupported_format",source="upload"}'
        assert client.post(
            "/v1/images",
            content=jpeg_photo(90, 70),
            headers={**headers_for("acme"), "Content-Type": "image/jpeg"},
        ).is_success
        assert (
            client.post(
                "/v1/images",
                content=b"plain text, no image",
                headers={**headers_for("acme"), "Content-Type": "image/jpeg"},
            ).status_code
            == 415
        )
        after = scrape(client)
    ctx.close()
    assert after[stored] == before.get(stored, 0.0) + 1
    assert after[rejected] == before.get(rejected, 0.0) + 1
    count = 'imgpipe_processing_ms_count{source="upload"}'
    assert after[count] == before.get(count, 0.0) + 2
    assert "/metrics" not in app.openapi()["paths"]


def test_metrics_are_not_answered_to_a_remote_client_unless_opened(
    embedded_settings: Callable[..., Settings],
) -> None:
    ctx = build_context(embedded_settings())
    with TestClient(create_app(ctx=ctx, serve_metrics=True), client=("203.0.113.9", 1)) as c:
        assert c.get("/metrics").status_code == 404
    opened = build_context(embedded_settings(metrics_open=True))
    with TestClient(create_app(ctx=opened, serve_metrics=True), client=("203.0.113.9", 1)) as c:
        assert c.get("/metrics").status_code == 200
    ctx.close()
    opened.close()


CHILD = """
import io, logging
from PIL import Image
from core.telemetry import logs
logs.configure()
with logs.correlated(correlation_id="c-1"):
    logging.getLogger("imgpipe.test").info("hello", extra={"n": 1})
buffer = io.BytesIO()
Image.new("RGB", (64, 64)).save(buffer, "PNG")
Image.MAX_IMAGE_PIXELS = 3000  # 4096 pixels: over the limit, under twice it: a warning
Image.open(buffer)
"""


def test_local_logs_are_json_lines_and_pillow_warnings_become_records() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON
    hello = next(line for line in lines if line["message"] == "hello")
    assert (hello["level"], hello["logger"], hello["n"], hello["correlation_id"]) == (
        "INFO",
        "imgpipe.test",
        1,
        "c-1",
    )
    (warned,) = [line for line in lines if line["logger"] == "py.warnings"]
    assert "DecompressionBombWarning" in warned["message"] and warned["level"] == "WARNING"


def test_a_dimension_set_other_than_the_tables_is_refused() -> None:
    with pytest.raises(ValueError, match="dimensions"):
        metrics.count("ImagesRejected", source="upload")
