"""Pure parts of the object store: the Restore header, keys, S3 URLs and lifecycle rules."""

from __future__ import annotations

import pytest

from core.config import load_settings
from core.errors import ConfigError, ErrorCode, PermanentError, RestoreState
from core.repository.objects import ObjectInfo, parse_restore_header, validate_key
from core.repository.objects.bucket_rules import (
    LIFECYCLE_ARCHIVE_ID,
    LIFECYCLE_FACTS_ID,
    LIFECYCLE_FACTS_REJECTED_ID,
    LIFECYCLE_IDEMPOTENCY_ID,
    LIFECYCLE_LOADS_ID,
    LIFECYCLE_MULTIPART_ID,
    LIFECYCLE_UPLOADS_ID,
    lifecycle_rules,
    tls_only_statement,
)
from core.repository.objects.s3_api import split_s3_url


def test_no_restore_header_means_no_restore_was_requested() -> None:
    state = parse_restore_header(None, "DEEP_ARCHIVE")

    assert state == RestoreState(storage_class="DEEP_ARCHIVE", ongoing=None, expiry=None)
    assert not state.readable


def test_ongoing_restore_is_not_readable_yet() -> None:
    state = parse_restore_header('ongoing-request="true"', "DEEP_ARCHIVE")

    assert state.ongoing is True
    assert state.expiry is None
    assert not state.readable


def test_finished_restore_is_readable_until_its_expiry_date() -> None:
    header = 'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"'

    state = parse_restore_header(header, "GLACIER")

    assert state == RestoreState("GLACIER", ongoing=False, expiry="Fri, 21 Dec 2012 00:00:00 GMT")
    assert state.readable


def test_restore_header_fields_may_come_in_any_order_and_case() -> None:
    header = 'expiry-date="Sat, 28 Nov 2026 09:35:06 GMT",  Ongoing-Request = "FALSE"'

    state = parse_restore_header(header, "DEEP_ARCHIVE")

    assert state.ongoing is False
    assert state.expiry == "Sat, 28 Nov 2026 09:35:06 GMT"


@pytest.mark.parametrize(
    "header", ["", "garbage", 'ongoing-request="maybe"', "ongoing-request=false"]
)
def test_an_unrecognised_restore_header_never_reads_as_restored(header: str) -> None:
    state = parse_restore_header(header, "DEEP_ARCHIVE")

    assert state.ongoing is None
    assert not state.readable


def test_an_archived_object_is_readable_only_once_restored() -> None:
    def info(storage_class: str, restore: RestoreState | None) -> ObjectInfo:
        return ObjectInfo("k", 1, "e", None, None, storage_class, restore)

    restored = RestoreState("DEEP_ARCHIVE", ongoing=False, expiry="Sat, 28 Nov 2026 09:35:06 GMT")
    assert info("STANDARD", None).readable
    assert not info("DEEP_ARCHIVE", RestoreState("DEEP_ARCHIVE")).readable
    assert not info("DEEP_ARCHIVE", RestoreState("DEEP_ARCHIVE", ongoing=True)).readable
    assert info("DEEP_ARCHIVE", restored).readable


@pytest.mark.parametrize(
    "key",
    [
        "renditions/thumb/0b9c.jpg",
        "manifests/a.json",
        "uploads/3f2a-11",
        "a",
        "dead-letter/x y.bin",
    ],
)
def test_plain_relative_keys_are_accepted(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "..", "../a", "a/../b", "a/./b", "/a", "a//b", "a/", "a\\b", "a\x00b", "a\nb", "D:/x"],
)
def test_keys_that_are_not_plain_relative_paths_are_invalid_requests(key: str) -> None:
    with pytest.raises(PermanentError) as refused:
        validate_key(key)

    assert refused.value.code is ErrorCode.INVALID_REQUEST


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/prod", ("bucket", "prod/")),
        ("s3://bucket//a/b/", ("bucket", "a/b/")),
    ],
)
def test_s3_url_splits_into_bucket_and_a_slash_ended_prefix(
    url: str, expected: tuple[str, str]
) -> None:
    assert split_s3_url(url) == expected


def test_lifecycle_rules_follow_the_settings_and_the_prefix() -> None:
    settings = load_settings(
        storage_url="s3://b/prod",
        archive_after_days=30,
        uploads_expire_days=2,
        abort_multipart_days=3,
        idempotency_expire_days=4,
    )

    rules = {rule["ID"]: rule for rule in lifecycle_rules(settings)}

    assert rules[LIFECYCLE_IDEMPOTENCY_ID]["Filter"] == {"Prefix": "prod/idempotency/"}
    assert rules[LIFECYCLE_IDEMPOTENCY_ID]["Expiration"] == {"Days": 4}
    assert rules[LIFECYCLE_ARCHIVE_ID]["Filter"] == {"Prefix": "prod/renditions/"}
    assert rules[LIFECYCLE_ARCHIVE_ID]["Transitions"] == [
        {"Days": 30, "StorageClass": "DEEP_ARCHIVE"}
    ]
    assert rules[LIFECYCLE_UPLOADS_ID]["Filter"] == {"Prefix": "prod/uploads/"}
    assert rules[LIFECYCLE_UPLOADS_ID]["Expiration"] == {"Days": 2}
    assert rules[LIFECYCLE_MULTIPART_ID]["Filter"] == {"Prefix": "prod/"}
    assert rules[LIFECYCLE_MULTIPART_ID]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 3
    }
    assert all(rule["Status"] == "Enabled" for rule in rules.values())


def test_default_lifecycle_archives_renditions_after_seven_days() -> None:
    settings = load_settings(storage_url="s3://b")

    [archive] = [r for r in lifecycle_rules(settings) if r["ID"] == LIFECYCLE_ARCHIVE_ID]

    assert archive["Filter"] == {"Prefix": "renditions/"}
    assert archive["Transitions"] == [{"Days": 7, "StorageClass": "DEEP_ARCHIVE"}]


def test_the_fact_log_expires_after_the_facts_setting_and_load_manifests_after_a_day() -> None:
    rules = {r["ID"]: r for r in lifecycle_rules(load_settings(storage_url="s3://b/prod"))}
    assert rules[LIFECYCLE_FACTS_ID]["Filter"] == {"Prefix": "prod/facts/"}
    assert rules[LIFECYCLE_FACTS_ID]["Expiration"] == {"Days": 30}
    assert rules[LIFECYCLE_FACTS_REJECTED_ID]["Filter"] == {"Prefix": "prod/facts-rejected/"}
    assert rules[LIFECYCLE_FACTS_REJECTED_ID]["Expiration"] == {"Days": 30}
    assert rules[LIFECYCLE_LOADS_ID]["Filter"] == {"Prefix": "prod/loads/"}
    assert rules[LIFECYCLE_LOADS_ID]["Expiration"] == {"Days": 1}

    kept = {r["ID"]: r for r in lifecycle_rules(load_settings(facts_expire_days=90))}
    assert kept[LIFECYCLE_FACTS_ID]["Expiration"] == {"Days": 90}
    assert kept[LIFECYCLE_FACTS_REJECTED_ID]["Expiration"] == {"Days": 90}


def test_facts_kept_for_less_than_a_day_are_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="IMGPIPE_FACTS_EXPIRE_DAYS"):
        load_settings(facts_expire_days=0)


def test_every_lifecycle_rule_names_a_prefix_of_the_storage_layout() -> None:
    from core import layout

    prefixes = {
        value
        for name, value in vars(layout).items()
        if name.isupper() and isinstance(value, str) and value.endswith("/")
    }
    for rule in lifecycle_rules(load_settings(storage_url="s3://b")):
        assert rule["Filter"]["Prefix"] in prefixes | {""}, rule["ID"]


def test_tls_only_statement_denies_every_request_without_tls_on_bucket_and_objects() -> None:
    statement = tls_only_statement("photos", partition="aws-cn")

    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Resource"] == ["arn:aws-cn:s3:::photos", "arn:aws-cn:s3:::photos/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
