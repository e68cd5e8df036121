"""The S3 store: objects in a bucket under a prefix (`s3://bucket/prefix`), the data plane only.

The bucket's own set-up (lifecycle, access block, encryption, policy, CORS) is `provisioning`'s,
run by `imgpipe storage setup`. boto3 is imported on first use, not with this module.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any, Final

from core.errors import Archived, NotFound, RestoreState, TransientError
from core.layout import default_cache_control
from core.repository.objects.port import (
    ARCHIVE_CLASSES,
    ObjectInfo,
    PresignedUpload,
    RestoreTier,
    clamp_expiry,
    found_by_head,
    parse_restore_header,
    validate_key,
    validate_prefix,
)
from core.repository.objects.s3_api import (
    MIN_POOL_CONNECTIONS,
    error_code,
    s3_client,
    s3_errors,
    split_s3_url,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from core.config import Settings

CONFLICT_ATTEMPTS: Final = 6  # conditional writes that meet another in flight (S3's 409)


class S3Store:
    """Objects in an S3 bucket under a prefix (`s3://bucket/prefix`)."""

    urls_served_by_app: Final = False

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        presign_expiry_seconds: int = 900,
        pool_connections: int = MIN_POOL_CONNECTIONS,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.presign_expiry_seconds = presign_expiry_seconds
        self._region = region
        self._pool_connections = pool_connections
        self._client: S3Client | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        bucket, prefix = split_s3_url(settings.storage_url)
        return cls(
            bucket,
            prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.aws_region,
            presign_expiry_seconds=settings.presign_expiry_seconds,
            pool_connections=2 * settings.ingest_workers,
        )

    # the client

    @property
    def client(self) -> S3Client:
        """The process's client for this endpoint and region, fetched on first use so that
        importing this module does not import boto3."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = s3_client(
                        self.endpoint_url, self._region, pool_connections=self._pool_connections
                    )
        return self._client

    @property
    def region(self) -> str:
        return self.client.meta.region_name

    def _full(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _errors(self, key: str) -> contextlib.AbstractContextManager[None]:
        return s3_errors(f"s3://{self.bucket}/{self.prefix}{key}", key)

    # ObjectStore

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        full = self._full(key)
        with self._errors(key):
            self.client.put_object(**self._put_args(full, key, data, content_type, cache_control))

    def _put_args(
        self, full: str, key: str, data: bytes, content_type: str, cache_control: str | None
    ) -> dict[str, Any]:
        if cache_control is None:
            cache_control = default_cache_control(key)
        extra: dict[str, Any] = {"CacheControl": cache_control} if cache_control else {}
        return {
            "Bucket": self.bucket,
            "Key": full,
            "Body": data,
            "ContentType": content_type,
            "ServerSideEncryption": "AES256",
            **extra,
        }

    def create(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> bool:
        """PutObject with If-None-Match: *. S3 answers 412 when the key exists, and 409
        ConditionalRequestConflict when another conditional write of it is in flight: that
        one is retried (after a short pause) until one of the two is settled."""
        from botocore.exceptions import ClientError

        args = self._put_args(self._full(key), key, data, content_type, cache_control)
        for attempt in range(CONFLICT_ATTEMPTS):
            with self._errors(key):
                try:
                    self.client.put_object(**args, IfNoneMatch="*")
                    return True
                except ClientError as exc:
                    code = error_code(exc)
                    if code == "PreconditionFailed":
                        return False
                    if code != "ConditionalRequestConflict":
                        raise
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise TransientError(f"storage: conditional writes of {key!r} kept conflicting")

    def get(self, key: str) -> bytes:
        full = self._full(key)
        from botocore.exceptions import ClientError

        with self._errors(key):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=full)
                return response["Body"].read()
            except ClientError as exc:
                if error_code(exc) != "InvalidObjectState":
                    raise
        # Archived and not (yet) restored: say where its restore stands.
        info = self.head(key)
        raise Archived(key, info.restore or RestoreState(storage_class=info.storage_class))

    def head(self, key: str) -> ObjectInfo:
        full = self._full(key)
        with self._errors(key):
            response = self.client.head_object(Bucket=self.bucket, Key=full)
        storage_class: str = response.get("StorageClass", "STANDARD")
        archived = storage_class in ARCHIVE_CLASSES
        return ObjectInfo(
            key=key,
            size=int(response.get("ContentLength", 0)),
            etag=str(response.get("ETag", "")).strip('"'),
            content_type=response.get("ContentType"),
            last_modified=response.get("LastModified"),
            storage_class=storage_class,
            restore=parse_restore_header(response.get("Restore"), storage_class)
            if archived
            else None,
            cache_control=response.get("CacheControl"),
            encryption=response.get("ServerSideEncryption"),
        )

    def exists(self, key: str) -> bool:
        return found_by_head(self.head, key)

    def presign_get(self, key: str, expires_in: int | None = None) -> str:
        full = self._full(key)
        lifetime = clamp_expiry(expires_in, self.presign_expiry_seconds)
        with self._errors(key):
            return self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": full}, ExpiresIn=lifetime
            )

    def presign_put(
        self, key: str, content_type: str, max_bytes: int, expires_in: int | None = None
    ) -> PresignedUpload:
        """A SigV4 presigned PUT. The Content-Type is signed, so the client must send it; a PUT
        cannot bound the body's size, so the caller checks `head(key).size` against max_bytes
        afterwards, or uses `presign_post` where S3 enforces the bound itself."""
        full = self._full(key)
        lifetime = clamp_expiry(expires_in, self.presign_expiry_seconds)
        with self._errors(key):
            url = self.client.generate_presigned_url(
                "put_object",
                Params={"Bucket": self.bucket, "Key": full, "ContentType": content_type},
                ExpiresIn=lifetime,
            )
        return PresignedUpload.signed_put(url, content_type, lifetime)

    def presign_post(
        self, key: str, content_type: str, max_bytes: int, expires_in: int | None = None
    ) -> PresignedUpload:
        """A presigned POST policy: S3 itself refuses bodies over max_bytes or of another type.
        The client sends a multipart form: `fields`, then the file as the last field `file`."""
        full = self._full(key)
        lifetime = clamp_expiry(expires_in, self.presign_expiry_seconds)
        with self._errors(key):
            post = self.client.generate_presigned_post(
                Bucket=self.bucket,
                Key=full,
                Fields={"Content-Type": content_type},
                Conditions=[
                    {"Content-Type": content_type},
                    ["content-length-range", 1, max_bytes],
                ],
                ExpiresIn=lifetime,
            )
        return PresignedUpload(
            method="POST",
            url=post["url"],
            headers={},
            fields={str(k): str(v) for k, v in post["fields"].items()},
            expires_in=lifetime,
        )

    def presign_upload(
        self, key: str, content_type: str, max_bytes: int, expires_in: int | None = None
    ) -> PresignedUpload:
        """The POST policy: S3 refuses a larger body itself, which a presigned PUT cannot ask."""
        return self.presign_post(key, content_type, max_bytes, expires_in)

    def restore(self, key: str, days: int, tier: RestoreTier = "Bulk") -> None:
        """Ask S3 for a readable copy of an archived object for `days` days. Idempotent: a
        restore already running, or an object that is not archived, is not an error."""
        full = self._full(key)
        from botocore.exceptions import ClientError

        with self._errors(key):
            try:
                self.client.restore_object(
                    Bucket=self.bucket,
                    Key=full,
                    RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}},
                )
            except ClientError as exc:
                code = error_code(exc)
                if code == "RestoreAlreadyInProgress":
                    return
                if code == "InvalidObjectState":
                    # S3 refuses to restore what is not archived; make sure it exists at least.
                    self.client.head_object(Bucket=self.bucket, Key=full)
                    return
                raise

    def delete(self, key: str) -> None:
        full = self._full(key)
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=full)

    def ping(self) -> None:
        try:
            with self._errors(""):
                self.client.head_bucket(Bucket=self.bucket)
        except NotFound:
            raise TransientError(
                f"bucket {self.bucket} does not exist (imgpipe storage setup creates it)"
            ) from None

    def keys(self, prefix: str = "", limit: int | None = None) -> list[str]:
        validate_prefix(prefix)
        found: list[str] = []
        with self._errors(prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            )
            for page in pages:
                found.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
                if limit is not None and len(found) >= limit:
                    break
        found.sort()
        return found[:limit] if limit is not None else found

    def scan(
        self, prefix: str, *, start_after: str | None = None, limit: int | None = None
    ) -> list[tuple[str, int]]:
        validate_prefix(prefix)
        found: list[tuple[str, int]] = []
        options: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
        if start_after:
            options["StartAfter"] = self.prefix + start_after
        with self._errors(prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(**options):
                for item in page.get("Contents", []):
                    found.append((item["Key"][len(self.prefix) :], int(item["Size"])))
                if limit is not None and len(found) >= limit:
                    break
        found.sort()
        return found[:limit] if limit is not None else found

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"
