"""X-Ray traces on Lambda: the handlers' subsegments as the X-Ray SDK really sends them, read
from a UDP socket that stands in for the daemon."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from tests.api.test_telemetry import TRACE
from tests.harness.app import key_pairs
from tests.harness.process import python_child

# A fresh interpreter, as a new container: the stream handler answers a batch with one photo
# and one refused record, then the loader loads the facts that batch wrote.
CHILD = r"""
import sys
from types import SimpleNamespace
from services.stream_worker.records import KafkaRecord, msk_event
from tests.images import jpeg_photo

def context(name):
    return SimpleNamespace(function_name=name, aws_request_id="req-" + name,
                           get_remaining_time_in_millis=lambda: 60_000)

from services.stream_worker import lambda_handler as stream
records = [KafkaRecord("images", 0, 7, value=jpeg_photo(80, 60)),
           KafkaRecord("images", 0, 8, value=b"%PDF-1.7 not an image")]
assert stream.handler(msk_event(records), context("stream")) == {"batchItemFailures": []}
from services.loader import lambda_handler as loader
assert loader.handler({}, context("loader"))["rows"] > 0
"""


def daemon_documents(sock: socket.socket, deadline: float) -> list[dict[str, Any]]:
    """Every segment document received until the socket has been quiet for a moment."""
    documents = []
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            datagram = sock.recv(65536)
        except TimeoutError:
            break
        header, _, body = datagram.decode().partition("\n")
        assert json.loads(header) == {"format": "json", "version": 1}
        documents.append(json.loads(body))
    return documents


def test_on_lambda_each_step_is_a_subsegment_sent_to_the_xray_daemon(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        # Room for every datagram of the run: they are read once the child has exited.
        daemon.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        daemon.bind(("127.0.0.1", 0))
        port = daemon.getsockname()[1]
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("IMGPIPE_", "AWS_", "_X_AMZN", "POWERTOOLS_", "LAMBDA_"))
        }
        env.update(
            AWS_LAMBDA_FUNCTION_NAME="imgpipe-test",
            LAMBDA_TASK_ROOT=str(tmp_path),  # the X-Ray SDK's test for Lambda
            _X_AMZN_TRACE_ID=TRACE,
            AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{port}",
            AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
            AWS_REGION="eu-west-1",
            IMGPIPE_DATABASE_URL=f"sqlite:///{tmp_path}/warehouse.db",
            IMGPIPE_STORAGE_URL=f"file://{tmp_path}/objects",
            IMGPIPE_API_KEYS=",".join(key_pairs()),
            IMGPIPE_INGEST_WORKERS="2",  # the photo and the PDF in two threads
            PYTHONPATH=str(Path(__file__).resolve().parents[2]),
        )
        _answer, log = python_child(["-c", CHILD], env=env, cwd=tmp_path)
        assert "object_storage" not in log, log[-3000:]
        documents = daemon_documents(daemon, time.monotonic() + 10)
    trace_id = TRACE.split(";")[0].removeprefix("Root=")
    names = sorted({document["name"] for document in documents})
    assert names == ["dead_letters", "facts", "object_storage", "processing", "warehouse"]
    for document in documents:
        # Streamed subsegments of Lambda's own segment, closed, ours to have named.
        assert (document["type"], document["trace_id"]) == ("subsegment", trace_id)
        assert document["parent_id"] and document["end_time"] >= document["start_time"]
        assert document.get("namespace") != "remote"
    # A refusal raised inside a span is recorded on it (as a fault): the PDF's processing.
    faults = [document["name"] for document in documents if document.get("fault")]
    assert faults == ["processing"]
