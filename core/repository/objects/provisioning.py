"""Bucket set-up for `imgpipe storage setup|show`: lifecycle, access block, encryption, TLS, CORS.

Not part of the storage port: the data plane never needs it, and a folder has nothing to set
up. The rules themselves are `bucket_rules`, which the SAM template's bucket states too.

Cost notes (see also docs/storage.md): S3 does not transition objects smaller than 128 KB by
default, so small thumbnails stay in STANDARD, which is the cheaper place for them; Deep
Archive bills every object for at least 180 days and adds per-object overhead (about 40 KB of
metadata billed, 8 KB of it at STANDARD rates), and reading it back needs a restore of hours.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from core.errors import ConfigError
from core.repository.objects.bucket_rules import (
    TLS_ONLY_SID,
    cors_rules,
    lifecycle_rules,
    partition_of,
    tls_only_statement,
)
from core.repository.objects.folder import FolderStore
from core.repository.objects.s3_api import error_code, s3_client_for, s3_errors, split_s3_url

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        BucketLifecycleConfigurationTypeDef,
        CORSConfigurationTypeDef,
    )

    from core.config import Settings

_T = TypeVar("_T")

# S3 transitions nothing under 128 KB unless told otherwise; said explicitly so that a bucket
# set up by hand with another value is brought back to it.
TRANSITION_DEFAULT_MINIMUM_SIZE: Final = "all_storage_classes_128K"
PUBLIC_ACCESS_BLOCK: Final[dict[str, bool]] = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
DEFAULT_ENCRYPTION: Final = "AES256"
# What S3 answers when a bucket setting was never made.
_UNSET: Final = frozenset(
    [
        "NoSuchLifecycleConfiguration",
        "NoSuchPublicAccessBlockConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchBucketPolicy",
        "NoSuchCORSConfiguration",
    ]
)


def set_up_storage(settings: Settings, *, tls_only: bool = True) -> dict[str, Any]:
    """Apply the storage set-up the settings ask for; report what is in place and what changed.

    `tls_only=False` removes imgpipe's TLS-only statement instead: for S3-compatible servers
    reached over plain HTTP, which it would lock out (moto, which ignores policy conditions,
    refuses every object request once a Deny for Principal * is in place)."""
    if settings.storage_url.startswith("s3://"):
        return BucketSetup(settings).apply(tls_only=tls_only)
    store = FolderStore.from_settings(settings)
    store.ping()  # the folder exists and takes writes
    return {**_folder_report(store), "applied": {}, "note": "a local folder: nothing to set up"}


def describe_storage(settings: Settings) -> dict[str, Any]:
    """What the storage is and how it is set up, as JSON-ready values. Changes nothing."""
    if settings.storage_url.startswith("s3://"):
        return BucketSetup(settings).describe()
    return _folder_report(FolderStore.from_settings(settings))


def _folder_report(store: FolderStore) -> dict[str, Any]:
    return {
        "store": "folder",
        "root": str(store.root),
        "signing_key": store.signing_key_source,
        "presign_expiry_seconds": store.presign_expiry_seconds,
    }


# --- comparing what S3 echoes with what we asked for ---------------------------------------


def _normal_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A lifecycle rule reduced to what it means, so that S3's echo compares equal to ours."""
    found = rule.get("Filter") or {}
    prefix = found.get("Prefix", (found.get("And") or {}).get("Prefix", rule.get("Prefix", "")))
    normal: dict[str, Any] = {"ID": rule.get("ID"), "Status": rule.get("Status"), "Prefix": prefix}
    transitions = [
        {"Days": t.get("Days"), "StorageClass": t.get("StorageClass")}
        for t in rule.get("Transitions") or []
    ]
    if transitions:
        normal["Transitions"] = sorted(transitions, key=lambda t: t["Days"] or 0)
    if (rule.get("Expiration") or {}).get("Days") is not None:
        normal["Expiration"] = {"Days": rule["Expiration"]["Days"]}
    abort = (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation")
    if abort is not None:
        normal["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": abort}
    return normal


def _normal_rules(rules: Sequence[Mapping[str, Any]], ids: set[str]) -> list[dict[str, Any]]:
    return sorted(
        (_normal_rule(r) for r in rules if r.get("ID") in ids), key=lambda r: str(r["ID"])
    )


def _normal_cors(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """CORS rules compared as sets of values, as S3 may echo them in another order."""
    return sorted(
        (
            {key: sorted(value) if isinstance(value, list) else value for key, value in r.items()}
            for r in rules
        ),
        key=lambda rule: str(rule.get("ID", "")),
    )


def _normal_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    def as_list(value: Any) -> list[Any]:
        return sorted(value) if isinstance(value, list) else [value]

    principal = statement.get("Principal")
    if isinstance(principal, dict) and principal.get("AWS") == "*":
        principal = "*"
    return {
        "Sid": statement.get("Sid"),
        "Effect": statement.get("Effect"),
        "Principal": principal,
        "Action": as_list(statement.get("Action")),
        "Resource": as_list(statement.get("Resource")),
        "Condition": statement.get("Condition"),
    }


def _ours(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = policy.get("Statement", [])
    return [_normal_statement(s) for s in statements if s.get("Sid") == TLS_ONLY_SID]


# --- applying and reading back -------------------------------------------------------------


class BucketSetup:
    """The set-up of the bucket `settings.storage_url` names, through the process's S3 client."""

    def __init__(self, settings: Settings) -> None:
        self.bucket, self.prefix = split_s3_url(settings.storage_url)
        self.endpoint_url = settings.s3_endpoint_url
        self.presign_expiry_seconds = settings.presign_expiry_seconds
        self.rules = lifecycle_rules(settings)
        self.cors = cors_rules(settings)
        self.client = s3_client_for(settings)
        self.where = f"s3://{self.bucket}"

    def apply(self, *, tls_only: bool = True) -> dict[str, Any]:
        """Create the bucket if missing; apply public access block, default encryption, the
        TLS-only policy, the lifecycle rules and CORS, each only where it differs (so a second
        run changes nothing); then read everything back and raise ConfigError if S3 disagrees.
        Rules and policy statements that are not imgpipe's are kept."""
        changed: list[str] = []
        wanted = [tls_only_statement(self.bucket, partition_of(self.client.meta.region_name))]
        wanted = wanted if tls_only else []
        with s3_errors(self.where):
            if self._create_bucket_if_missing():
                changed.append("bucket")
            current = self.describe()
            steps: list[tuple[str, bool, Callable[[], None]]] = [
                ("public_access_block", self._block_differs(current), self._put_block),
                ("encryption", self._encryption_differs(current), self._put_encryption),
                ("policy", self._policy_differs(current, wanted), lambda: self._put_policy(wanted)),
                ("lifecycle", self._lifecycle_differs(current), self._put_lifecycle),
                ("cors", self._cors_differs(current), self._put_cors),
            ]
            for name, differs, put in steps:
                if differs:
                    put()
                    changed.append(name)
            applied = self.describe()
        mismatches = self._mismatches(applied, wanted)
        if mismatches:
            raise ConfigError(
                f"{self.where}: read back differs from what was applied: " + "; ".join(mismatches)
            )
        return {**applied, "changed": changed}

    # what differs

    def _block_differs(self, report: Mapping[str, Any]) -> bool:
        return bool(report["public_access_block"] != PUBLIC_ACCESS_BLOCK)

    def _encryption_differs(self, report: Mapping[str, Any]) -> bool:
        return bool(report["encryption"] != DEFAULT_ENCRYPTION)

    def _policy_differs(self, report: Mapping[str, Any], wanted: list[dict[str, Any]]) -> bool:
        return _ours(report["policy"]) != [_normal_statement(s) for s in wanted]

    def _lifecycle_differs(self, report: Mapping[str, Any]) -> bool:
        ids = {str(rule["ID"]) for rule in self.rules}
        return _normal_rules(report["lifecycle_rules"], ids) != _normal_rules(
            self.rules, ids
        ) or report["transition_default_minimum_size"] not in (
            None,  # S3-compatible servers may not echo it; when they do, it must be ours
            TRANSITION_DEFAULT_MINIMUM_SIZE,
        )

    def _cors_differs(self, report: Mapping[str, Any]) -> bool:
        return _normal_cors(report["cors_rules"]) != _normal_cors(self.cors)

    def _mismatches(self, applied: Mapping[str, Any], wanted: list[dict[str, Any]]) -> list[str]:
        checks = (
            (self._block_differs(applied), "public access block", "public_access_block"),
            (self._encryption_differs(applied), "default encryption", "encryption"),
            (self._policy_differs(applied, wanted), "TLS-only statement", "policy"),
            (self._lifecycle_differs(applied), "lifecycle rules", "lifecycle_rules"),
            (self._cors_differs(applied), "CORS rules", "cors_rules"),
        )
        return [f"{what} is {applied[field]}" for differs, what, field in checks if differs]

    # putting

    def _put_block(self) -> None:
        self.client.put_public_access_block(
            Bucket=self.bucket,
            PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK,  # type: ignore[arg-type]
        )

    def _put_encryption(self) -> None:
        self.client.put_bucket_encryption(
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )

    def _put_policy(self, wanted: list[dict[str, Any]]) -> None:
        """The policy with imgpipe's statement as wanted and every other statement kept."""
        policy = self._read_policy()
        others = [s for s in policy.get("Statement", []) if s.get("Sid") != TLS_ONLY_SID]
        if not (others or wanted):
            self.client.delete_bucket_policy(Bucket=self.bucket)
            return
        new_policy = {
            "Version": "2012-10-17",
            **{k: v for k, v in policy.items() if k not in {"Version", "Statement"}},
            "Statement": [*others, *wanted],
        }
        self.client.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(new_policy))

    def _put_lifecycle(self) -> None:
        ids = {rule["ID"] for rule in self.rules}
        others = [r for r in self._read_lifecycle()[0] if r.get("ID") not in ids]
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket,
            LifecycleConfiguration=cast(
                "BucketLifecycleConfigurationTypeDef", {"Rules": [*others, *self.rules]}
            ),
            TransitionDefaultMinimumObjectSize=TRANSITION_DEFAULT_MINIMUM_SIZE,
        )

    def _put_cors(self) -> None:
        if not self.cors:
            self.client.delete_bucket_cors(Bucket=self.bucket)
            return
        self.client.put_bucket_cors(
            Bucket=self.bucket,
            CORSConfiguration=cast("CORSConfigurationTypeDef", {"CORSRules": self.cors}),
        )

    def _create_bucket_if_missing(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as exc:
            if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                raise
        region = self.client.meta.region_name
        try:
            if region == "us-east-1":
                self.client.create_bucket(Bucket=self.bucket)
            else:
                self.client.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                )
        except ClientError as exc:
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
            return False
        return True

    # reading

    def _unless_unset(self, read: Callable[[], _T]) -> _T | None:
        """Reading a setting that was never made answers an error; that means None."""
        from botocore.exceptions import ClientError

        try:
            return read()
        except ClientError as exc:
            if error_code(exc) not in _UNSET:
                raise
            return None

    def _read_policy(self) -> dict[str, Any]:
        text = self._unless_unset(
            lambda: self.client.get_bucket_policy(Bucket=self.bucket)["Policy"]
        )
        policy = json.loads(text) if text else {}
        return policy if isinstance(policy, dict) else {}

    def _read_lifecycle(self) -> tuple[list[dict[str, Any]], str | None]:
        """The bucket's lifecycle rules and its transition minimum size (None: not echoed)."""
        response = self._unless_unset(
            lambda: self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)
        )
        if response is None:
            return [], None
        rules = [dict(rule) for rule in response.get("Rules", [])]
        minimum = response.get("TransitionDefaultMinimumObjectSize")
        return rules, str(minimum) if minimum else None

    def describe(self) -> dict[str, Any]:
        """The bucket's set-up as S3 reports it. Changes nothing."""
        client = self.client
        with s3_errors(self.where):
            block = self._unless_unset(lambda: client.get_public_access_block(Bucket=self.bucket))
            sse = self._unless_unset(lambda: client.get_bucket_encryption(Bucket=self.bucket))
            lifecycle, minimum = self._read_lifecycle()
            policy = self._read_policy()
            cors = self._unless_unset(lambda: client.get_bucket_cors(Bucket=self.bucket))
        public_access = dict(block["PublicAccessBlockConfiguration"]) if block else None
        rules = sse["ServerSideEncryptionConfiguration"]["Rules"] if sse else []
        algorithms = {
            r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules
        }
        return {
            "store": "s3",
            "bucket": self.bucket,
            "prefix": self.prefix,
            "region": client.meta.region_name,
            "endpoint_url": self.endpoint_url,
            "public_access_block": public_access,
            "encryption": ",".join(sorted(a for a in algorithms if a)) or None,
            "policy": policy,
            "lifecycle_rules": lifecycle,
            "transition_default_minimum_size": minimum,
            "cors_rules": [dict(rule) for rule in cors["CORSRules"]] if cors else [],
            "presign_expiry_seconds": self.presign_expiry_seconds,
        }
