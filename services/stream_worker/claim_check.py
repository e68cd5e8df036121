"""Stream records that point at S3 (the claim-check pattern): the allow-list, the read, and the
producer's checksum and object version, which pin the bytes to the ones it meant."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import ErrorCode, PermanentError

if TYPE_CHECKING:
    from core.config import Settings

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
# S3 version ids are opaque, URL-safe and well under this; a longer one is no version id.
MAX_VERSION_ID_CHARS = 1024


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """What a producer says about the bytes it sent: their sha256 (lowercase hex) and, for an
    S3 source, the object version to read. Either may be absent."""

    sha256: str | None = None
    version_id: str | None = None

    @classmethod
    def of_envelope(cls, envelope: Mapping[str, Any]) -> ClaimCheck:
        """The envelope's `sha256` and `version_id`; a malformed one is a malformed record."""
        sha256 = envelope.get("sha256")
        if sha256 is not None and (
            not isinstance(sha256, str) or _SHA256_HEX.fullmatch(sha256) is None
        ):
            raise PermanentError(
                ErrorCode.MALFORMED_RECORD, "sha256 is not 64 hexadecimal characters"
            )
        version = envelope.get("version_id")
        if version is not None and (
            not isinstance(version, str)
            or not version.strip()
            or len(version) > MAX_VERSION_ID_CHARS
            or not version.isprintable()
        ):
            raise PermanentError(ErrorCode.MALFORMED_RECORD, "version_id is not an S3 version id")
        return cls(sha256.lower() if sha256 else None, version)

    def verify(self, data: bytes, where: str) -> bytes:
        """The bytes, when they are the ones the producer hashed; else `checksum_mismatch`
        (never retried: the same object gives the same answer)."""
        if self.sha256 is not None:
            actual = hashlib.sha256(data).hexdigest()
            if not hmac.compare_digest(actual, self.sha256):
                raise PermanentError(
                    ErrorCode.CHECKSUM_MISMATCH,
                    f"{where}: sha256 {actual} is not the record's {self.sha256}",
                )
        return data


def parse_s3_uri(uri: str, allowed_buckets: Sequence[str]) -> tuple[str, str]:
    """(bucket, key) of s3://bucket/key when the bucket is allowed; any other URL is refused."""
    if not uri.startswith("s3://"):
        raise PermanentError(
            ErrorCode.FORBIDDEN_SOURCE, "image_s3_uri must be an s3://bucket/key URI"
        )
    bucket, _, key = uri[5:].partition("/")
    if not bucket or not key:
        raise PermanentError(ErrorCode.MALFORMED_RECORD, "image_s3_uri names no bucket or key")
    if bucket not in allowed_buckets:
        raise PermanentError(
            ErrorCode.FORBIDDEN_SOURCE, f"bucket {bucket!r} is not on the stream allow-list"
        )
    return bucket, key


def read_s3_object(
    bucket: str, key: str, settings: Settings, check: ClaimCheck | None = None
) -> bytes:
    """The object's bytes (of `check.version_id` when given), its size checked against
    max_bytes before a byte is downloaded, and its sha256 against `check.sha256`.
    S3's refusals are read as a stream source's (core.repository.objects.s3_api): a missing,
    archived or unknown version of an object is `source_not_found`, one the worker may not
    read `forbidden_source`."""
    from core.repository.objects.s3_api import s3_client_for

    check = check or ClaimCheck()
    where = f"s3://{bucket}/{key}"
    version: dict[str, Any] = {}  # VersionId, when the record names one
    if check.version_id is not None:
        version["VersionId"] = check.version_id
        where += f"?versionId={check.version_id}"
    client = s3_client_for(settings)
    try:
        data = _read(client, bucket, key, settings, version=version, where=where)
    except PermanentError as error:
        # S3 answers 400 InvalidArgument for a version id of the wrong shape: a version that
        # is not there, as the 404 of a well-formed unknown one says.
        if version and error.code is ErrorCode.INVALID_REQUEST:
            raise PermanentError(ErrorCode.SOURCE_NOT_FOUND, f"{where} does not exist") from None
        raise
    return check.verify(data, where)


def _read(
    client: Any, bucket: str, key: str, settings: Settings, *, version: dict[str, Any], where: str
) -> bytes:
    from core.repository.objects.s3_api import s3_errors

    with s3_errors(where, key, source=True):
        size = int(client.head_object(Bucket=bucket, Key=key, **version)["ContentLength"])
        if size > settings.max_bytes:
            raise PermanentError(
                ErrorCode.TOO_LARGE, f"{size} bytes is over the limit of {settings.max_bytes}"
            )
        if size == 0:
            return b""  # S3 refuses a Range on an empty object; ingest refuses it as empty
        # The Range caps the download even if the object grew since the HEAD.
        body = client.get_object(
            Bucket=bucket, Key=key, Range=f"bytes=0-{settings.max_bytes}", **version
        )
        data: bytes = body["Body"].read()
    if len(data) > settings.max_bytes:
        raise PermanentError(ErrorCode.TOO_LARGE, f"over {settings.max_bytes} bytes at {where}")
    return data
