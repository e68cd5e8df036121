"""Stream records that point at S3 (image_s3_uri): a batch reads its sources as it processes
them, a few at a time, so its memory follows the workers, not the batch."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.harness.app import ROOT
from tests.harness.process import python_child
from tests.harness.s3 import DUMMY_AWS_ENV, MakeSettings

SOURCES = 40
SOURCE_BYTES = 4 * 1024 * 1024

_CHILD = """
import json, resource, sys
from core.bootstrap import build_context
from core.config import load_settings
from services.stream_worker.batch import process_records
from services.stream_worker.deadletter import BucketDeadLetters
from services.stream_worker.records import KafkaRecord

settings = load_settings(**json.loads(sys.argv[1]))
ctx = build_context(settings)
bucket, count = sys.argv[2], int(sys.argv[3])

def record(offset):
    value = json.dumps({"image_s3_uri": f"s3://{bucket}/big/{offset}.jpg", "customer_id": "acme"})
    return KafkaRecord("sources", 0, offset, None, None, value.encode())

process_records([record(0)], ctx, BucketDeadLetters(ctx.objects))  # warm: clients, pools
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = process_records(
    [record(i) for i in range(1, count + 1)], ctx, BucketDeadLetters(ctx.objects)
)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "grew_mib": (after - before) / 1024,
    "codes": sorted({str(r.error_code) for r in report.results}),
}))
"""


@pytest.mark.slow
def test_a_batch_of_large_s3_sources_holds_only_the_ones_it_processes(
    make_settings: MakeSettings, s3_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    source = f"{s3_bucket}-src"
    s3_client.create_bucket(Bucket=source)
    # JPEG-looking bytes that do not decode: each is read whole, then refused.
    body = b"\xff\xd8\xff\xe0" + os.urandom(SOURCE_BYTES)
    for offset in range(SOURCES + 1):
        s3_client.put_object(Bucket=source, Key=f"big/{offset}.jpg", Body=body)
    settings = make_settings(database_url=f"sqlite:///{tmp_path}/w.db", ingest_workers=2)
    values = {
        "storage_url": settings.storage_url,
        "database_url": settings.database_url,
        "s3_endpoint_url": settings.s3_endpoint_url,
        "aws_region": settings.aws_region,
        "stream_allowed_buckets": [source],
        "ingest_workers": 2,
    }
    env = {**os.environ, **DUMMY_AWS_ENV, "PYTHONPATH": str(ROOT)}
    args = ["-c", _CHILD, json.dumps(values), source, str(SOURCES)]
    result, _log = python_child(args, env=env, cwd=tmp_path, timeout=300)
    assert result["codes"] == ["undecodable"]
    # All 40 at once would be 160 MiB; two workers hold two (and a read in flight).
    assert result["grew_mib"] < 60, result  # measured: ~120 MiB when decode read them all
