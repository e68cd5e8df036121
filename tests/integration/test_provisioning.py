"""Bucket set-up (`imgpipe storage setup`) against S3 on a moto server, and on a folder."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError

from core.config import Settings
from core.repository.objects import open_object_store
from core.repository.objects.bucket_rules import TLS_ONLY_SID, lifecycle_rules
from core.repository.objects.provisioning import set_up_storage

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.harness.s3 import MakeSettings

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


def test_folder_setup_has_nothing_to_apply(folder_settings: Settings) -> None:
    report = set_up_storage(folder_settings)

    assert report["store"] == "folder"
    assert report["applied"] == {}


# --- S3 only: bucket set-up ----------------------------------------------------------------


def _rules_by_id(rules: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(rule["ID"]): dict(rule) for rule in rules}


def test_setup_creates_the_bucket_and_reads_back_what_it_applied(
    make_settings: MakeSettings, s3_client: S3Client
) -> None:
    settings = make_settings(
        storage_url="s3://imgpipe-new-bucket/prod", archive_after_days=3, uploads_expire_days=2
    )
    report = set_up_storage(settings)

    assert report["changed"] == [
        "bucket",
        "public_access_block",
        "encryption",
        "policy",
        "lifecycle",
    ]
    bucket = "imgpipe-new-bucket"
    read = s3_client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert _rules_by_id(read) == _rules_by_id(lifecycle_rules(settings))
    assert _rules_by_id(read)["imgpipe-renditions-to-deep-archive"]["Transitions"] == [
        {"Days": 3, "StorageClass": "DEEP_ARCHIVE"}
    ]
    block = s3_client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    sse = s3_client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert sse["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(s3_client.get_bucket_policy(Bucket=bucket)["Policy"])
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert report["lifecycle_rules"] == read


def test_setup_a_second_time_changes_nothing(s3_settings: Settings) -> None:
    first = set_up_storage(s3_settings)

    second = set_up_storage(s3_settings)

    assert second["changed"] == []
    assert {k: v for k, v in second.items() if k != "changed"} == {
        k: v for k, v in first.items() if k != "changed"
    }


def test_setup_opens_the_bucket_to_the_web_application_origins_only(
    make_settings: Callable[..., Settings], s3_client: S3Client, s3_bucket: str
) -> None:
    origins = ["https://app.example.com"]
    settings = make_settings(cors_origins=origins)

    report = set_up_storage(settings)

    assert "cors" in report["changed"]
    (rule,) = s3_client.get_bucket_cors(Bucket=s3_bucket)["CORSRules"]
    assert rule["AllowedOrigins"] == origins
    assert set(rule["AllowedMethods"]) == {"GET", "HEAD", "POST", "PUT"}
    assert set_up_storage(settings)["changed"] == []

    set_up_storage(make_settings())  # origins withdrawn
    with pytest.raises(ClientError, match="NoSuchCORSConfiguration"):
        s3_client.get_bucket_cors(Bucket=s3_bucket)


def test_setup_keeps_rules_and_statements_that_are_not_imgpipes(
    s3_settings: Settings, s3_client: S3Client, s3_bucket: str
) -> None:
    foreign_rule = {
        "ID": "logs-expire",
        "Status": "Enabled",
        "Filter": {"Prefix": "logs/"},
        "Expiration": {"Days": 30},
    }
    s3_client.put_bucket_lifecycle_configuration(
        Bucket=s3_bucket,
        LifecycleConfiguration=cast(Any, {"Rules": [foreign_rule]}),
    )
    foreign_statement = {
        "Sid": "AuditorsRead",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{s3_bucket}/*",
    }
    s3_client.put_bucket_policy(
        Bucket=s3_bucket,
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [foreign_statement]}),
    )

    report = set_up_storage(s3_settings)

    rules = _rules_by_id(report["lifecycle_rules"])
    assert rules["logs-expire"] == foreign_rule
    assert set(rules) == {"logs-expire", *_rules_by_id(lifecycle_rules(s3_settings))}
    sids = [s["Sid"] for s in report["policy"]["Statement"]]
    assert sids == ["AuditorsRead", TLS_ONLY_SID]


def test_setup_brings_a_drifted_rule_back(
    s3_settings: Settings, s3_client: S3Client, s3_bucket: str
) -> None:
    set_up_storage(s3_settings)
    drifted = [dict(r) for r in lifecycle_rules(s3_settings)]
    drifted[0]["Transitions"] = [{"Days": 90, "StorageClass": "GLACIER"}]
    s3_client.put_bucket_lifecycle_configuration(
        Bucket=s3_bucket,
        LifecycleConfiguration=cast(Any, {"Rules": drifted}),
    )

    report = set_up_storage(s3_settings)

    assert report["changed"] == ["lifecycle"]
    assert _rules_by_id(report["lifecycle_rules"]) == _rules_by_id(lifecycle_rules(s3_settings))


def test_setup_without_tls_only_leaves_a_plain_http_bucket_usable(s3_settings: Settings) -> None:
    # moto ignores policy conditions: with the TLS-only Deny in place it refuses every object
    # request, over TLS or not. Local servers over http:// are set up without it.
    store = open_object_store(s3_settings)
    set_up_storage(s3_settings)

    report = set_up_storage(s3_settings, tls_only=False)

    assert report["changed"] == ["policy"]
    assert report["policy"] == {}
    store.put("renditions/thumb/a.jpg", JPEG, "image/jpeg")
    assert store.get("renditions/thumb/a.jpg") == JPEG
