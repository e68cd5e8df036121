"""Claim-check records (image_s3_uri with sha256 and version_id) against moto's versioned
buckets, PostgreSQL and the stream worker's batch step: the bytes read are the ones meant."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from core.bootstrap import Context, build_context
from core.config import Settings
from core.loader import load_once
from core.repository.migrations import upgrade
from services.stream_worker.batch import handle_event
from services.stream_worker.deadletter import BucketDeadLetters
from services.stream_worker.records import KafkaRecord, msk_event
from tests import images
from tests.harness.s3 import MakeSettings


@pytest.fixture
def source(s3_client: Any, s3_bucket: str) -> str:
    """A versioned source bucket, as producers that overwrite keys should have."""
    name = f"{s3_bucket}-src"
    s3_client.create_bucket(Bucket=name)
    s3_client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def settings(make_settings: MakeSettings, postgres_url: str, source: str) -> Settings:
    upgrade(postgres_url)
    return make_settings(
        database_url=postgres_url, renditions="thumb:64:jpeg:80", stream_allowed_buckets=[source]
    )


def reasons(ctx: Context, database_url: str) -> dict[str, str]:
    """event_id -> reason (or status) of every event, once the facts are loaded."""
    load_once(ctx)
    url = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        rows = conn.execute("select event_id, coalesce(reason, status) from ingest_events")
        return dict(rows.fetchall())


def envelope(offset: int, uri: str, **fields: str) -> KafkaRecord:
    value = json.dumps({"image_s3_uri": uri, "customer_id": "acme", **fields})
    return KafkaRecord("claims", 0, offset, None, None, value.encode())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_checksum_mismatch_is_dead_lettered_with_a_rejected_row_and_not_retried(
    settings: Settings, s3_client: Any, source: str, s3_bucket: str
) -> None:
    meant, sent = images.mosaic_jpeg(64, 64, seed=1), images.mosaic_jpeg(64, 64, seed=2)
    s3_client.put_object(Bucket=source, Key="in/a.jpg", Body=sent)  # not what was hashed
    ctx = build_context(settings)
    record = envelope(0, f"s3://{source}/in/a.jpg", sha256=sha256(meant))

    response = handle_event(msk_event([record]), ctx, BucketDeadLetters(ctx.objects))

    assert response == {"batchItemFailures": []}  # a refusal, not a fault: nothing retried
    assert reasons(ctx, settings.database_url) == {"claims:0:0": "checksum_mismatch"}
    letter = json.loads(
        s3_client.get_object(Bucket=s3_bucket, Key="dead-letter/claims/0/0.json")["Body"].read()
    )
    assert letter["error"]["code"] == "checksum_mismatch"
    assert sha256(sent) in letter["error"]["detail"]
    assert not s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="manifests/").get("Contents")


def test_a_pinned_version_is_processed_after_its_key_is_overwritten(
    settings: Settings, s3_client: Any, source: str
) -> None:
    first, second = images.mosaic_jpeg(64, 64, seed=3), images.mosaic_jpeg(64, 64, seed=4)
    version = s3_client.put_object(Bucket=source, Key="in/b.jpg", Body=first)["VersionId"]
    s3_client.put_object(Bucket=source, Key="in/b.jpg", Body=second)
    ctx = build_context(settings)
    uri = f"s3://{source}/in/b.jpg"
    records = [
        envelope(0, uri, sha256=sha256(first), version_id=version),
        envelope(1, uri, sha256=sha256(first)),  # the latest version is the other image
        envelope(2, uri, version_id=version.swapcase() + "x"),  # no such version
        envelope(3, uri, sha256=sha256(first).upper(), version_id=version),  # hex either case
    ]

    handle_event(msk_event(records), ctx, BucketDeadLetters(ctx.objects))

    assert reasons(ctx, settings.database_url) == {
        "claims:0:0": "processed",
        "claims:0:1": "checksum_mismatch",
        "claims:0:2": "source_not_found",
        "claims:0:3": "duplicate",
    }
    load_once(ctx)
    url = make_url(settings.database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        stored = conn.execute("select sha256 from images").fetchall()
    assert stored == [(sha256(first),)]


def test_a_malformed_checksum_or_version_is_a_malformed_record(
    settings: Settings, s3_client: Any, source: str
) -> None:
    s3_client.put_object(Bucket=source, Key="in/c.jpg", Body=images.mosaic_jpeg(32, 32, seed=5))
    ctx = build_context(settings)
    uri = f"s3://{source}/in/c.jpg"
    records = [
        envelope(0, uri, sha256="abc"),
        envelope(1, uri, version_id=""),
    ]

    handle_event(msk_event(records), ctx, BucketDeadLetters(ctx.objects))

    assert reasons(ctx, settings.database_url) == {
        "claims:0:0": "malformed_record",
        "claims:0:1": "malformed_record",
    }
