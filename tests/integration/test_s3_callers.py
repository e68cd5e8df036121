"""Every S3 caller on one client and one error mapping: the store and the stream worker's
`image_s3_uri` reads, against a moto server, where their meanings differ and where they agree."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

import pytest

from core.config import Settings
from core.errors import ErrorCode, NotFound, PermanentError, TransientError
from core.repository.objects import S3Store, open_object_store
from core.repository.objects.s3_api import s3_client, s3_client_for
from services.stream_worker.claim_check import read_s3_object

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


def _deny_reads(s3_client: S3Client, bucket: str) -> None:
    """A bucket policy that refuses every read: moto answers 403 AccessDenied, as S3 does for a
    role without the grant."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:GetObject"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3_client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def _source_refusal(bucket: str, key: str, settings: Settings) -> ErrorCode:
    with pytest.raises(PermanentError) as refused:
        read_s3_object(bucket, key, settings)
    return refused.value.code


def test_a_source_object_the_worker_may_not_read_is_a_forbidden_source(
    s3_settings: Settings, s3_client: S3Client, s3_bucket: str
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="in/a.jpg", Body=JPEG)
    _deny_reads(s3_client, s3_bucket)

    assert _source_refusal(s3_bucket, "in/a.jpg", s3_settings) is ErrorCode.FORBIDDEN_SOURCE


def test_imgpipes_own_bucket_refusing_a_read_is_transient(
    s3_settings: Settings, s3_client: S3Client, s3_bucket: str
) -> None:
    store = open_object_store(s3_settings)
    store.put("manifests/a.json", b"{}", "application/json")
    _deny_reads(s3_client, s3_bucket)

    with pytest.raises(TransientError):
        store.get("manifests/a.json")


def test_an_archived_source_object_is_not_found_not_forbidden(
    s3_settings: Settings, s3_client: S3Client, s3_bucket: str
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="in/old.jpg", Body=JPEG, StorageClass="GLACIER")

    assert _source_refusal(s3_bucket, "in/old.jpg", s3_settings) is ErrorCode.SOURCE_NOT_FOUND


def test_a_missing_source_key_or_bucket_is_not_found(s3_settings: Settings, s3_bucket: str) -> None:
    assert _source_refusal(s3_bucket, "in/none.jpg", s3_settings) is ErrorCode.SOURCE_NOT_FOUND
    assert _source_refusal(f"{s3_bucket}-gone", "a.jpg", s3_settings) is (
        ErrorCode.SOURCE_NOT_FOUND
    )


def test_a_missing_key_of_imgpipes_bucket_is_not_found_and_a_missing_bucket_transient(
    s3_settings: Settings, s3_bucket: str
) -> None:
    with pytest.raises(NotFound):
        open_object_store(s3_settings).get("manifests/none.json")
    gone = s3_settings.model_copy(update={"storage_url": f"s3://{s3_bucket}-gone"})
    with pytest.raises(TransientError):
        open_object_store(gone).put("manifests/a.json", b"{}", "application/json")


def test_an_empty_source_object_reads_as_empty_bytes_not_as_a_fault(
    s3_settings: Settings, s3_client: S3Client, s3_bucket: str
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="in/empty.jpg", Body=b"")

    assert read_s3_object(s3_bucket, "in/empty.jpg", s3_settings) == b""


def test_a_source_read_caps_the_download_at_max_bytes(
    s3_settings: Settings, s3_client: S3Client, s3_bucket: str
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="in/a.jpg", Body=JPEG)
    small = s3_settings.model_copy(update={"max_bytes": len(JPEG) - 1})

    assert read_s3_object(s3_bucket, "in/a.jpg", s3_settings) == JPEG
    assert _source_refusal(s3_bucket, "in/a.jpg", small) is ErrorCode.TOO_LARGE


def test_the_store_and_source_reads_share_one_client_per_endpoint_and_region(
    s3_settings: Settings,
) -> None:
    store = S3Store.from_settings(s3_settings)
    other_store = open_object_store(s3_settings)
    assert isinstance(other_store, S3Store)

    assert store.client is s3_client_for(s3_settings) is other_store.client
    elsewhere = s3_client("http://127.0.0.1:9", s3_settings.aws_region)
    assert elsewhere is not store.client
    assert s3_client("http://127.0.0.1:9", "eu-west-1") is not elsewhere


def test_threads_asking_for_a_new_client_at_once_all_get_the_same_one(
    s3_settings: Settings,
) -> None:
    endpoint = "http://127.0.0.1:10"  # a fresh cache entry: nothing is ever sent
    barrier = threading.Barrier(8)
    got: list[object] = []

    def ask() -> None:
        barrier.wait()
        got.append(s3_client(endpoint, "us-east-1"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(got) == 8
    assert all(client is got[0] for client in got)
