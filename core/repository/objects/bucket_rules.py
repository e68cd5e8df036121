"""The bucket's rules as S3's API states them: lifecycle, CORS and the TLS-only statement.

`imgpipe storage setup` applies them (provisioning) and the SAM template's bucket states the
same (tests/infra keeps the two equal). Every prefix comes from core.layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from core import layout
from core.repository.objects.s3_api import split_s3_url

if TYPE_CHECKING:
    from core.config import Settings

LIFECYCLE_ARCHIVE_ID: Final = "imgpipe-renditions-to-deep-archive"
LIFECYCLE_UPLOADS_ID: Final = "imgpipe-uploads-expire"
LIFECYCLE_IDEMPOTENCY_ID: Final = "imgpipe-idempotency-expire"
LIFECYCLE_FACTS_ID: Final = "imgpipe-facts-expire"
LIFECYCLE_FACTS_REJECTED_ID: Final = "imgpipe-facts-rejected-expire"
LIFECYCLE_LOADS_ID: Final = "imgpipe-loads-expire"
LIFECYCLE_MULTIPART_ID: Final = "imgpipe-abort-incomplete-multipart"
# A load's COPY manifest is read within the load that wrote it; a day covers any retry.
LOADS_EXPIRE_DAYS: Final = 1
CORS_RULE_ID: Final = "imgpipe-browser-uploads"
TLS_ONLY_SID: Final = "ImgpipeDenyInsecureTransport"


def lifecycle_rules(settings: Settings) -> list[dict[str, Any]]:
    """The bucket's lifecycle rules, every prefix taken from core.layout under the URL's."""
    url = settings.storage_url
    prefix = split_s3_url(url)[1] if url.startswith("s3://") else ""

    def expire(rule_id: str, under: str, days: int) -> dict[str, Any]:
        return {
            "ID": rule_id,
            "Status": "Enabled",
            "Filter": {"Prefix": prefix + under},
            "Expiration": {"Days": days},
        }

    return [
        {
            "ID": LIFECYCLE_ARCHIVE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": prefix + layout.RENDITIONS},
            "Transitions": [{"Days": settings.archive_after_days, "StorageClass": "DEEP_ARCHIVE"}],
        },
        expire(LIFECYCLE_UPLOADS_ID, layout.UPLOADS, settings.uploads_expire_days),
        expire(LIFECYCLE_IDEMPOTENCY_ID, layout.IDEMPOTENCY, settings.idempotency_expire_days),
        expire(LIFECYCLE_FACTS_ID, layout.FACTS, settings.facts_expire_days),
        expire(LIFECYCLE_FACTS_REJECTED_ID, layout.FACTS_REJECTED, settings.facts_expire_days),
        expire(LIFECYCLE_LOADS_ID, layout.LOADS, LOADS_EXPIRE_DAYS),
        {
            "ID": LIFECYCLE_MULTIPART_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": prefix},
            "AbortIncompleteMultipartUpload": {
                "DaysAfterInitiation": settings.abort_multipart_days
            },
        },
    ]


def cors_rules(settings: Settings) -> list[dict[str, Any]]:
    """The bucket's CORS rules: the web application's origins may send direct uploads (presigned
    PUT or POST) and fetch renditions it was redirected to. None without configured origins."""
    if not settings.cors_origins:
        return []
    return [
        {
            "ID": CORS_RULE_ID,
            "AllowedOrigins": list(settings.cors_origins),
            "AllowedMethods": ["GET", "HEAD", "POST", "PUT"],
            "AllowedHeaders": ["Content-Type", "Content-Length", "x-amz-*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 600,
        }
    ]


def tls_only_statement(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """The bucket policy statement that refuses every request not made over TLS."""
    return {
        "Sid": TLS_ONLY_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def partition_of(region: str) -> str:
    """The ARN partition of an AWS region."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
