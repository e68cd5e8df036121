"""S3 for every caller: one client per endpoint and region, and one reading of S3's errors.

The object store, the bucket set-up and the stream worker's `image_s3_uri` reads all take
their client from `s3_client()` and translate failures with `s3_errors()`. What a failure
means depends on whose object it is, which is the one thing a caller says (`source=`):

S3 answers                       imgpipe's bucket (store, set-up)    a stream source (source=True)
no such key (404)                NotFound                            source_not_found
no such bucket                   TransientError: not set up yet      source_not_found
archived (InvalidObjectState)    TransientError (reads ask first)    source_not_found
access denied (403)              TransientError: a missing grant     forbidden_source
our credentials refused/expired  TransientError                      TransientError
throttled, 5xx, unreachable      TransientError                      TransientError
no credentials at all            ConfigError                         ConfigError
any other 4xx                    invalid_request                     invalid_request
(the codes are PermanentError's)

Why 403 differs: imgpipe's own bucket refusing it is an operator's fix away, and retrying
(a Kafka batch replayed) keeps good images instead of dead-lettering them. A stream record
names an object of its producer's choosing: S3 answers 403 for a key outside what the role
may read, for an object under a KMS key it may not use, and (without s3:ListBucket) for a key
that does not exist. A retry cannot tell these apart and would hold the partition behind one
record forever, so the record is dead-lettered whole and can be replayed once the grant is
fixed. Credentials that fail fail every record alike: that is never the record's fault.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from core.errors import ConfigError, ErrorCode, NotFound, PermanentError, TransientError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_s3 import S3Client

    from core.config import Settings

# A dead endpoint must fail within seconds: TransientError lets the caller retry later.
CONNECT_TIMEOUT_SECONDS: Final = 2.0
READ_TIMEOUT_SECONDS: Final = 5.0
TOTAL_ATTEMPTS: Final = 3  # the first try and two retries
# botocore keeps 10 connections; a thread beyond that opens one per request and throws it
# away. Each ingest worker holds one, and so does each request thread of the upload API
# (Starlette's pool has 40).
MIN_POOL_CONNECTIONS: Final = 48

_NOT_FOUND: Final = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion"})
_THROTTLED: Final = frozenset(
    [
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "BandwidthLimitExceeded",
        "ServiceUnavailable",
        "InternalError",
        "OperationAborted",
    ]
)
# imgpipe's own credentials failing: every request fails alike until they are fixed.
_CREDENTIALS_REFUSED: Final = frozenset(
    [
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "RequestTimeTooSkewed",
        "TokenRefreshRequired",
    ]
)
_DENIED: Final = frozenset({"AccessDenied", "AllAccessDisabled", "Forbidden", "403"})


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def s3_error(exc: ClientError, where: str, key: str = "", *, source: bool = False) -> Exception:
    """imgpipe's error for S3's answer at `where` (s3://bucket/key), by the table above."""
    error = exc.response.get("Error", {})
    code = error_code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    message = error.get("Message", "")
    if code == "NoSuchBucket":
        if source:
            return PermanentError(ErrorCode.SOURCE_NOT_FOUND, f"{where}: no such bucket")
        return TransientError(f"storage refused ({code}) at {where}: {message}")
    if code in _NOT_FOUND or status == 404:
        if source:
            return PermanentError(ErrorCode.SOURCE_NOT_FOUND, f"{where} does not exist")
        return NotFound(key)
    if code in _THROTTLED or status >= 500 or status == 429:
        return TransientError(
            f"storage busy or failing ({code or status}) at {where}", retry_after=2.0
        )
    if code in _CREDENTIALS_REFUSED:
        return TransientError(f"storage refused ({code}) at {where}: {message}")
    if source and code == "InvalidObjectState":
        return PermanentError(ErrorCode.SOURCE_NOT_FOUND, f"{where} is archived")
    if code in _DENIED or status == 403:
        if source:
            return PermanentError(ErrorCode.FORBIDDEN_SOURCE, f"{where} may not be read")
        return TransientError(f"storage refused ({code or status}) at {where}: {message}")
    return PermanentError(
        ErrorCode.INVALID_REQUEST, f"storage refused {where}: {code or status} {message}"
    )


@contextlib.contextmanager
def s3_errors(where: str, key: str = "", *, source: bool = False) -> Iterator[None]:
    """Within the block, botocore's failures become imgpipe's (see `s3_error`)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    try:
        yield
    except ClientError as exc:
        raise s3_error(exc, where, key, source=source) from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise ConfigError(f"no AWS credentials for {where}: {exc}") from exc
    except BotoCoreError as exc:
        raise TransientError(f"storage unreachable ({where}): {exc}") from exc


_clients: dict[tuple[str | None, str | None, int], S3Client] = {}
_clients_lock = threading.Lock()


def s3_client(
    endpoint_url: str | None, region: str | None, *, pool_connections: int = MIN_POOL_CONNECTIONS
) -> S3Client:
    """The process's boto3 S3 client for this endpoint and region (Lambda keeps it warm): it
    fails within seconds when S3 does not answer and keeps a connection for each thread that
    uses it. Thread-safe, like the client itself."""
    pool = max(MIN_POOL_CONNECTIONS, pool_connections)
    cache_key = (endpoint_url, region, pool)
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is None:
            client = _clients[cache_key] = _new_client(endpoint_url, region, pool)
        return client


def s3_client_for(settings: Settings) -> S3Client:
    """The client the settings name, with a connection for each thread of two ingest batches."""
    return s3_client(
        settings.s3_endpoint_url,
        settings.aws_region,
        pool_connections=2 * settings.ingest_workers,
    )


def _new_client(endpoint_url: str | None, region: str | None, pool: int) -> S3Client:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    config = Config(
        signature_version="s3v4",
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": TOTAL_ATTEMPTS},
        max_pool_connections=pool,
        # S3-compatible servers on a host:port have no per-bucket DNS names.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    return session.client(
        "s3",
        region_name=region or session.region_name or "us-east-1",
        endpoint_url=endpoint_url,
        config=config,
    )


def split_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix/"); the prefix is "" or ends in /."""
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""
