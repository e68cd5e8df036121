"""Object storage: one ObjectStore protocol, a local-folder adapter and an S3 adapter.

Choosing an adapter: `open_object_store(settings)` reads `settings.storage_url`:

* `file://DIR` (relative DIR is relative to the working directory): `FolderStore`, the
  embedded default. Writes are atomic (a temp file in the target's directory, fsync,
  `os.replace`). Presigned URLs are paths the upload API serves (`/local-objects/{key}?...`)
  signed with HMAC-SHA256; see `FolderStore.verify_signature`.
* `s3://bucket/prefix`: `S3Store`, through boto3 (`settings.s3_endpoint_url` for moto or MinIO).

Keys are relative paths such as `renditions/thumb/<id>.jpg`. A key that is empty, absolute,
holds `.` or `..` segments, backslashes, control characters or NUL, or is longer than S3
allows, is refused by both adapters with `PermanentError(INVALID_REQUEST)`: keys can come
from outside (upload ids, stream records), so a bad one is bad input, not a programming error.
The folder store also refuses segments that start with a dot, which it keeps for its temp
files and metadata.

Errors: a missing key is `NotFound`; reading an archived object that is not restored is
`Archived` (carrying its `RestoreState`); anything that a retry may cure (network, timeouts,
5xx, throttling, a bucket not set up yet, credentials refused) is `TransientError`.

Cost notes (see also docs/storage.md): S3 does not transition objects smaller than 128 KB by
default, so small thumbnails stay in STANDARD, which is the cheaper place for them; Deep
Archive bills every object for at least 180 days and adds per-object overhead (about 40 KB of
metadata billed, 8 KB of it at STANDARD rates), and reading it back needs a restore of hours.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import mimetypes
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar, cast
from urllib.parse import quote, urlencode

from core.errors import (
    Archived,
    ConfigError,
    ErrorCode,
    NotFound,
    PermanentError,
    RestoreState,
    TransientError,
)
from core.layout import default_cache_control

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        BucketLifecycleConfigurationTypeDef,
        CORSConfigurationTypeDef,
    )

    from core.config import Settings

RestoreTier = Literal["Bulk", "Standard"]
_T = TypeVar("_T")

ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


# Where the upload API serves the folder store's signed URLs.
LOCAL_OBJECTS_PATH = "/local-objects/"

# S3 transitions nothing under 128 KB unless told otherwise; said explicitly so that a bucket
# set up by hand with another value is brought back to it.
TRANSITION_DEFAULT_MINIMUM_SIZE: Final = "all_storage_classes_128K"

MAX_KEY_BYTES = 1024


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str | None
    last_modified: datetime | None
    storage_class: str  # "STANDARD", "DEEP_ARCHIVE", ...
    restore: RestoreState | None  # set when the object is in an archive class
    cache_control: str | None = None
    encryption: str | None = None  # "AES256", "aws:kms"; None for the folder store

    @property
    def archived(self) -> bool:
        return self.storage_class in ARCHIVE_CLASSES

    @property
    def readable(self) -> bool:
        return not self.archived or (self.restore is not None and self.restore.readable)


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    """How a client uploads directly to storage: an HTTP method, a URL, and headers or fields."""

    method: Literal["PUT", "POST"]
    url: str
    headers: dict[str, str]
    fields: dict[str, str]  # form fields for a POST policy; empty for PUT
    expires_in: int


class ObjectStore(Protocol):
    """What imgpipe needs of object storage. Keys are relative ('renditions/thumb/<id>.jpg')."""

    @property
    def urls_served_by_app(self) -> bool:
        """True when presigned URLs are paths that the upload API serves itself
        (/local-objects/...), False when the storage service serves them."""
        ...

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None: ...

    def create(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> bool:
        """Write the object only if no object has the key, atomically: True when this call
        created it, False when another was there first (left as it was)."""
        ...

    def get(self, key: str) -> bytes:
        """Raises NotFound, Archived (archived and not restored), TransientError."""
        ...

    def head(self, key: str) -> ObjectInfo:
        """Raises NotFound, TransientError."""
        ...

    def exists(self, key: str) -> bool: ...

    def presign_get(self, key: str, expires_in: int | None = None) -> str: ...

    def presign_put(
        self, key: str, content_type: str, max_bytes: int, expires_in: int | None = None
    ) -> PresignedUpload: ...

    def presign_upload(
        self, key: str, content_type: str, max_bytes: int, expires_in: int | None = None
    ) -> PresignedUpload:
        """How a client sends one object of at most `max_bytes` straight to storage, in the form
        that bounds its size best (S3: a POST policy it enforces; a folder: a signed PUT)."""
        ...

    def restore(self, key: str, days: int, tier: RestoreTier = "Bulk") -> None: ...

    def delete(self, key: str) -> None: ...

    def ping(self) -> None:
        """Raises TransientError when storage does not answer."""
        ...

    def keys(self, prefix: str = "", limit: int | None = None) -> list[str]:
        """Keys under `prefix`, sorted; for tools and tests, not for hot paths."""
        ...

    def scan(
        self, prefix: str, *, start_after: str | None = None, limit: int | None = None
    ) -> list[tuple[str, int]]:
        """(key, size) of the objects under `prefix` whose key sorts after `start_after`, in
        key order, at most `limit`: how the loader finds facts it has not loaded."""
        ...

    def location(self, key: str) -> str:
        """The object's URL outside imgpipe: s3://bucket/key, or file:///path."""
        ...

    def ensure_bucket_policy(self, tls_only: bool = True) -> dict[str, Any]:
        """Apply the storage set-up (lifecycle, access, encryption); report what is in place."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the store is and how it is set up, as JSON-ready values. Changes nothing."""
        ...


def open_object_store(settings: Settings) -> ObjectStore:
    """The adapter that `settings.storage_url` names. Build it once per process and reuse it."""
    url = settings.storage_url
    if url.startswith("file://"):
        return FolderStore.from_settings(settings)
    if url.startswith("s3://"):
        return S3Store.from_settings(settings)
    raise ConfigError(f"IMGPIPE_STORAGE_URL: unsupported scheme in {url!r}")


# --- keys ---------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_key(key: str) -> str:
    """The key itself when it is a safe relative path; PermanentError(INVALID_REQUEST) if not."""

    def refuse(why: str) -> PermanentError:
        return PermanentError(ErrorCode.INVALID_REQUEST, f"object key {key!r} {why}")

    if not isinstance(key, str) or not key:
        raise refuse("is empty")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise refuse(f"is longer than {MAX_KEY_BYTES} bytes")
    if _CONTROL.search(key):
        raise refuse("holds control characters")
    if "\\" in key:
        raise refuse("holds a backslash")
    if key.startswith("/") or re.match(r"^[A-Za-z]:", key):
        raise refuse("is absolute")
    for segment in key.split("/"):
        if segment in {"", ".", ".."}:
            raise refuse("has an empty, '.' or '..' segment")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: '' or a key-like string (a trailing '/' allowed)."""
    if prefix:
        validate_key(prefix.rstrip("/") or "/")
    return prefix


def _clamp_expiry(expires_in: int | None, limit: int) -> int:
    """A presigned URL lives at most `limit` seconds (settings; never more than 15 minutes)."""
    if expires_in is None:
        return limit
    return max(1, min(int(expires_in), limit))


# --- the Restore header -------------------------------------------------------------------

_RESTORE_FIELD = re.compile(r'([A-Za-z-]+)\s*=\s*"([^"]*)"')


def parse_restore_header(value: str | None, storage_class: str) -> RestoreState:
    """S3's `x-amz-restore` header as a RestoreState.

    `None` (no header): no restore was ever requested; `ongoing-request="true"`: a restore is
    running; `ongoing-request="false", expiry-date="<HTTP date>"`: a restored copy is readable
    until that date. Anything unrecognised counts as "no restore requested" rather than as
    readable, so that a reader never takes an archived object for a readable one.
    """
    if not value:
        return RestoreState(storage_class=storage_class)
    fields = {name.lower(): text for name, text in _RESTORE_FIELD.findall(value)}
    ongoing_text = fields.get("ongoing-request", "").strip().lower()
    ongoing = {"true": True, "false": False}.get(ongoing_text)
    expiry = fields.get("expiry-date") if ongoing is False else None
    return RestoreState(storage_class=storage_class, ongoing=ongoing, expiry=expiry)


# --- local folder -------------------------------------------------------------------------

_META_DIR = ".meta"
_SIGNING_KEY_FILE = "signing.key"


class FolderStore:
    """Objects as files under one directory; the embedded default (`file://DIR`)."""

    urls_served_by_app: Final = True  # no server of its own: /local-objects serves its URLs

    def __init__(
        self,
        root: Path,
        *,
        signing_key: bytes | None = None,
        presign_expiry_seconds: int = 900,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root.absolute()
        self.presign_expiry_seconds = presign_expiry_seconds
        self._clock = clock
        self._explicit_key = signing_key
        self._signing_key: bytes | None = signing_key
        self._key_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> FolderStore:
        root = Path(settings.storage_url.removeprefix("file://") or ".")
        key = settings.signing_key.get_secret_value().encode() if settings.signing_key else None
        return cls(root, signing_key=key, presign_expiry_seconds=settings.presign_expiry_seconds)

    # paths

    def _path(self, key: str) -> Path:
        validate_key(key)
        if any(segment.startswith(".") for segment in key.split("/")):
            raise PermanentError(
                ErrorCode.INVALID_REQUEST,
                f"object key {key!r} has a segment starting with '.' (the store's own files)",
            )
        path = self.root / key
        # A symbolic link inside the folder must not lead a key outside it either.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise PermanentError(ErrorCode.INVALID_REQUEST, f"object key {key!r} leaves the store")
        return path

    def _meta_path(self, key: str) -> Path:
        return self.root / _META_DIR / f"{key}.json"

    # ObjectStore

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        path = self._path(key)
        try:
            # Metadata first: once the object is visible, what describes it is there too.
            self._write_meta(key, data, content_type, cache_control)
            _write_atomically(path, data)
        except OSError as exc:
            raise TransientError(f"cannot write {key!r} under {self.root}: {exc}") from exc

    def _write_meta(
        self, key: str, data: bytes, content_type: str, cache_control: str | None
    ) -> None:
        meta = {
            "content_type": content_type,
            "cache_control": default_cache_control(key) if cache_control is None else cache_control,
            "etag": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        }
        _write_atomically(self._meta_path(key), json.dumps(meta).encode())

    def create(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> bool:
        path = self._path(key)
        try:
            created = _create_exclusively(path, data)
            if created:
                # After the link: a loser of the race must not rewrite the winner's metadata.
                # Until it lands, head() derives the ETag and type from the object itself.
                self._write_meta(key, data, content_type, cache_control)
        except OSError as exc:
            raise TransientError(f"cannot write {key!r} under {self.root}: {exc}") from exc
        return created

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(key) from None
        except OSError as exc:
            raise TransientError(f"cannot read {key!r} under {self.root}: {exc}") from exc

    def head(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(key) from None
        except OSError as exc:
            raise TransientError(f"cannot stat {key!r} under {self.root}: {exc}") from exc
        if not path.is_file():
            raise NotFound(key)
        meta = self._read_meta(key)
        etag = meta.get("etag") or hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            etag=etag,
            content_type=meta.get("content_type") or mimetypes.guess_type(key)[0],
            last_modified=datetime.fromtimestamp(stat.st_mtime, UTC),
            storage_class="STANDARD",
            restore=None,
            cache_control=meta.get("cache_control"),
        )

    def _read_meta(self, key: str) -> dict[str, Any]:
        try:
            meta = json.loads(self._meta_path(key).read_bytes())
        except (OSError, ValueError):
            return {}  # written by hand, or by an older version: derive what we can
        return meta if isinstance(meta, dict) else {}

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except NotFound:
            return False
        return True

    def presign_get(self, key: str, expires_in: int | None = None) -> str:
        return self._signed_url(key, "GET", expires_in, max_bytes=None)[0]

    def presign_put(
        self, key: str, content_type: str, max_bytes: int, expires_in: int | None = None
    ) -> PresignedUpload:
        url, lifetime = self._signed_url(key, "PUT", expires_in, max_bytes=max_bytes)
        return PresignedUpload(
            method="PUT",
            url=url,
            headers={"Content-Type": content_type},
            fields={},
            expires_in=lifetime,
        )

    def presign_upload(
        self, key: str, content_type: str, max_bytes: int, expires_in: int | None = None
    ) -> PresignedUpload:
        """The signed PUT: `max_bytes` is signed, and the app serving the URL enforces it."""
        return self.presign_put(key, content_type, max_bytes, expires_in)

    def restore(self, key: str, days: int, tier: RestoreTier = "Bulk") -> None:
        """Nothing is ever archived in a folder; the object only has to exist."""
        self.head(key)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
            self._meta_path(key).unlink(missing_ok=True)
        except IsADirectoryError:
            return
        except OSError as exc:
            raise TransientError(f"cannot delete {key!r} under {self.root}: {exc}") from exc

    def ping(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root, prefix=".ping-"):
                pass
        except OSError as exc:
            raise TransientError(f"object folder {self.root} is not writable: {exc}") from exc

    def keys(self, prefix: str = "", limit: int | None = None) -> list[str]:
        validate_prefix(prefix)
        found: list[str] = []
        if not self.root.is_dir():
            return found
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            relative = Path(dirpath).relative_to(self.root)
            for name in filenames:
                if name.startswith("."):
                    continue
                key = (relative / name).as_posix()
                if key.startswith(prefix):
                    found.append(key)
        found.sort()
        return found[:limit] if limit is not None else found

    def scan(
        self, prefix: str, *, start_after: str | None = None, limit: int | None = None
    ) -> list[tuple[str, int]]:
        validate_prefix(prefix)
        after = start_after or ""
        found: list[tuple[str, int]] = []
        top = self.root / prefix.rstrip("/") if prefix.endswith("/") else self.root
        if not top.is_dir():
            return found
        for dirpath, dirnames, filenames in os.walk(top):
            relative = Path(dirpath).relative_to(self.root).as_posix()
            base = "" if relative == "." else relative + "/"
            # Every key below a folder that sorts before start_after does too: skip it.
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not d.startswith(".") and (base + d + "/") >= after[: len(base + d + "/")]
            )
            for name in filenames:
                key = base + name
                if name.startswith(".") or not key.startswith(prefix) or key <= after:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    found.append((key, (Path(dirpath) / name).stat().st_size))
        found.sort()
        return found[:limit] if limit is not None else found

    def location(self, key: str) -> str:
        return self._path(key).as_uri()

    def ensure_bucket_policy(self, tls_only: bool = True) -> dict[str, Any]:
        """A folder has no lifecycle, public access or encryption to set up."""
        self.ping()
        return {**self.describe(), "applied": {}, "note": "a local folder: nothing to set up"}

    def describe(self) -> dict[str, Any]:
        return {
            "store": "folder",
            "root": str(self.root),
            "signing_key": "IMGPIPE_SIGNING_KEY" if self._explicit_key else str(self.key_file),
            "presign_expiry_seconds": self.presign_expiry_seconds,
        }

    # signed URLs

    @property
    def key_file(self) -> Path:
        """Where the shared signing key lives when IMGPIPE_SIGNING_KEY is unset: outside the
        object folder, so that it is never served or copied as an object."""
        return self.root.parent / _SIGNING_KEY_FILE

    def _key(self) -> bytes:
        if self._signing_key is None:
            with self._key_lock:
                if self._signing_key is None:
                    self._signing_key = _shared_key(self.key_file)
        return self._signing_key

    def _signature(self, key: str, method: str, expires: int, max_bytes: int | None) -> str:
        message = f"{method.upper()}\n{key}\n{expires}\n{'' if max_bytes is None else max_bytes}"
        return hmac.new(self._key(), message.encode(), hashlib.sha256).hexdigest()

    def _signed_url(
        self, key: str, method: str, expires_in: int | None, max_bytes: int | None
    ) -> tuple[str, int]:
        self._path(key)
        lifetime = _clamp_expiry(expires_in, self.presign_expiry_seconds)
        expires = int(self._clock()) + lifetime
        params: dict[str, str | int] = {"method": method, "expires": expires}
        if max_bytes is not None:
            params["max_bytes"] = max_bytes
        params["signature"] = self._signature(key, method, expires, max_bytes)
        return f"{LOCAL_OBJECTS_PATH}{quote(key, safe='/')}?{urlencode(params)}", lifetime

    def verify_signature(
        self,
        key: str,
        method: str,
        expires: int | str,
        signature: str,
        max_bytes: int | str | None = None,
    ) -> bool:
        """True when a `/local-objects/{key}` request carries a signature this store made for
        that key and HTTP method, and it has not expired. Pass the query's `max_bytes` for PUT
        (it is signed, so a client cannot raise it); the server then enforces it on the body."""
        try:
            expires_at = int(expires)
            limit = None if max_bytes is None or max_bytes == "" else int(max_bytes)
            self._path(key)
        except (ValueError, TypeError, PermanentError):
            return False
        if expires_at < self._clock():
            return False
        expected = self._signature(key, method, expires_at, limit)
        return hmac.compare_digest(expected, str(signature))


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old bytes or the new ones, never a part; a crash leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _create_exclusively(path: Path, data: bytes) -> bool:
    """Link a complete temp file to `path` unless something is there: link(2) fails on an
    existing name atomically, so of two racing writers exactly one wins, and no reader ever
    sees a part of the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
    finally:
        Path(temp).unlink(missing_ok=True)
    _fsync_directory(path.parent)
    return True


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _shared_key(path: Path) -> bytes:
    """The signing key every process on this machine uses (API workers, CLI): read it, or
    create it once. Creation links a complete temp file into place, so two processes racing
    to create it both end up reading the same key."""
    with contextlib.suppress(FileNotFoundError):
        return _read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".signing-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_hex(32).encode())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_bytes().strip()
    if len(key) < 32:
        raise ConfigError(f"signing key file {path} is shorter than 32 bytes; delete it")
    return key


# --- S3 -----------------------------------------------------------------------------------

# A dead endpoint must fail within seconds: TransientError lets the caller retry later.
CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
TOTAL_ATTEMPTS = 3  # the first try and two retries
CONFLICT_ATTEMPTS = 6  # conditional writes that meet another in flight (S3's 409)
# botocore keeps 10 connections; a thread beyond that opens one per request and throws it
# away. Each ingest worker holds one, and so does each request thread of the upload API
# (Starlette's pool has 40).
MIN_POOL_CONNECTIONS = 48

_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion"})
_THROTTLED = frozenset(
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
# A bucket that is not there yet, or credentials refused, is an operator's fix away: the
# caller retries (a Kafka batch is replayed) instead of dead-lettering good images.
_NOT_READY = frozenset(
    [
        "NoSuchBucket",
        "AccessDenied",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "RequestTimeTooSkewed",
        "TokenRefreshRequired",
    ]
)
# What S3 answers when a bucket setting was never made.
_UNSET = frozenset(
    [
        "NoSuchLifecycleConfiguration",
        "NoSuchPublicAccessBlockConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchBucketPolicy",
        "NoSuchCORSConfiguration",
    ]
)

LIFECYCLE_ARCHIVE_ID = "imgpipe-renditions-to-deep-archive"
LIFECYCLE_UPLOADS_ID = "imgpipe-uploads-expire"
LIFECYCLE_MULTIPART_ID = "imgpipe-abort-incomplete-multipart"
LIFECYCLE_IDEMPOTENCY_ID = "imgpipe-idempotency-expire"
TLS_ONLY_SID = "ImgpipeDenyInsecureTransport"

PUBLIC_ACCESS_BLOCK: dict[str, bool] = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
DEFAULT_ENCRYPTION = "AES256"


def s3_client(
    endpoint_url: str | None, region: str | None, *, pool_connections: int = MIN_POOL_CONNECTIONS
) -> S3Client:
    """A boto3 S3 client that fails within seconds when S3 does not answer, and keeps a
    connection for each thread that uses it. Thread-safe: make one and share it."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    config = Config(
        signature_version="s3v4",
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": TOTAL_ATTEMPTS},
        max_pool_connections=max(MIN_POOL_CONNECTIONS, pool_connections),
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


def lifecycle_rules(settings: Settings) -> list[dict[str, Any]]:
    """The bucket's lifecycle rules, as S3's API (and the SAM template) state them."""
    url = settings.storage_url
    return _lifecycle_rules(
        split_s3_url(url)[1] if url.startswith("s3://") else "",
        archive_after_days=settings.archive_after_days,
        uploads_expire_days=settings.uploads_expire_days,
        abort_multipart_days=settings.abort_multipart_days,
        idempotency_expire_days=settings.idempotency_expire_days,
    )


def _lifecycle_rules(
    prefix: str,
    *,
    archive_after_days: int,
    uploads_expire_days: int,
    abort_multipart_days: int,
    idempotency_expire_days: int,
) -> list[dict[str, Any]]:
    return [
        {
            "ID": LIFECYCLE_ARCHIVE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": f"{prefix}renditions/"},
            "Transitions": [{"Days": archive_after_days, "StorageClass": "DEEP_ARCHIVE"}],
        },
        {
            "ID": LIFECYCLE_UPLOADS_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": f"{prefix}uploads/"},
            "Expiration": {"Days": uploads_expire_days},
        },
        {
            "ID": LIFECYCLE_IDEMPOTENCY_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": f"{prefix}idempotency/"},
            "Expiration": {"Days": idempotency_expire_days},
        },
        {
            "ID": LIFECYCLE_MULTIPART_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": prefix},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": abort_multipart_days},
        },
    ]


CORS_RULE_ID = "imgpipe-browser-uploads"


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


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


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
        archive_after_days: int = 7,
        uploads_expire_days: int = 1,
        abort_multipart_days: int = 1,
        idempotency_expire_days: int = 1,
        pool_connections: int = MIN_POOL_CONNECTIONS,
        cors: Sequence[dict[str, Any]] = (),
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self._region = region
        self.presign_expiry_seconds = presign_expiry_seconds
        self._lifecycle = {
            "archive_after_days": archive_after_days,
            "uploads_expire_days": uploads_expire_days,
            "abort_multipart_days": abort_multipart_days,
            "idempotency_expire_days": idempotency_expire_days,
        }
        self._pool_connections = pool_connections
        self._cors = [dict(rule) for rule in cors]
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
            archive_after_days=settings.archive_after_days,
            uploads_expire_days=settings.uploads_expire_days,
            abort_multipart_days=settings.abort_multipart_days,
            idempotency_expire_days=settings.idempotency_expire_days,
            pool_connections=2 * settings.ingest_workers,
            cors=cors_rules(settings),
        )

    # the client

    @property
    def client(self) -> S3Client:
        """The store's one boto3 client (thread-safe once made), made on first use so that
        importing this module does not import boto3."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    client = s3_client(
                        self.endpoint_url, self._region, pool_connections=self._pool_connections
                    )
                    self._region = client.meta.region_name
                    self._client = client
        return self._client

    @property
    def region(self) -> str:
        _ = self.client
        assert self._region is not None
        return self._region

    def _full(self, key: str) -> str:
        return self.prefix + validate_key(key)

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """S3's failures in imgpipe's taxonomy."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        try:
            yield
        except ClientError as exc:
            raise self._client_error(exc, key) from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise ConfigError(f"no AWS credentials for s3://{self.bucket}: {exc}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"storage unreachable (s3://{self.bucket}): {exc}") from exc

    def _client_error(self, exc: ClientError, key: str) -> Exception:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        where = f"s3://{self.bucket}/{self.prefix}{key}"
        if code in _NOT_FOUND or (status == 404 and code != "NoSuchBucket"):
            return NotFound(key)
        if code in _THROTTLED or status >= 500 or status == 429:
            return TransientError(
                f"storage busy or failing ({code or status}) at {where}", retry_after=2.0
            )
        if code in _NOT_READY or status == 403:
            return TransientError(
                f"storage refused ({code or status}) at {where}: {error.get('Message', '')}"
            )
        return PermanentError(
            ErrorCode.INVALID_REQUEST, f"storage refused {where}: {code} {error.get('Message', '')}"
        )

    # ObjectStore

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        full = self._full(key)
        if cache_control is None:
            cache_control = default_cache_control(key)
        extra: dict[str, Any] = {"CacheControl": cache_control} if cache_control else {}
        with self._errors(key):
            self.client.put_object(
                Bucket=self.bucket,
                Key=full,
                Body=data,
                ContentType=content_type,
                ServerSideEncryption="AES256",
                **extra,
            )

    def create(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> bool:
        """PutObject with If-None-Match: *. S3 answers 412 when the key exists, and 409
        ConditionalRequestConflict when another conditional write of it is in flight: that
        one is retried (after a short pause) until one of the two is settled."""
        from botocore.exceptions import ClientError

        full = self._full(key)
        if cache_control is None:
            cache_control = default_cache_control(key)
        extra: dict[str, Any] = {"CacheControl": cache_control} if cache_control else {}
        for attempt in range(CONFLICT_ATTEMPTS):
            with self._errors(key):
                try:
                    self.client.put_object(
                        Bucket=self.bucket,
                        Key=full,
                        Body=data,
                        ContentType=content_type,
                        ServerSideEncryption="AES256",
                        IfNoneMatch="*",
                        **extra,
                    )
                    return True
                except ClientError as exc:
                    code = str(exc.response.get("Error", {}).get("Code", ""))
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
                if exc.response.get("Error", {}).get("Code") != "InvalidObjectState":
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
        try:
            self.head(key)
        except NotFound:
            return False
        return True

    def presign_get(self, key: str, expires_in: int | None = None) -> str:
        full = self._full(key)
        lifetime = _clamp_expiry(expires_in, self.presign_expiry_seconds)
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
        lifetime = _clamp_expiry(expires_in, self.presign_expiry_seconds)
        with self._errors(key):
            url = self.client.generate_presigned_url(
                "put_object",
                Params={"Bucket": self.bucket, "Key": full, "ContentType": content_type},
                ExpiresIn=lifetime,
            )
        return PresignedUpload(
            method="PUT",
            url=url,
            headers={"Content-Type": content_type},
            fields={},
            expires_in=lifetime,
        )

    def presign_post(
        self, key: str, content_type: str, max_bytes: int, expires_in: int | None = None
    ) -> PresignedUpload:
        """A presigned POST policy: S3 itself refuses bodies over max_bytes or of another type.
        The client sends a multipart form: `fields`, then the file as the last field `file`."""
        full = self._full(key)
        lifetime = _clamp_expiry(expires_in, self.presign_expiry_seconds)
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
                code = exc.response.get("Error", {}).get("Code")
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

    # bucket set-up

    def _lifecycle_rules(self) -> list[dict[str, Any]]:
        return _lifecycle_rules(self.prefix, **self._lifecycle)

    def _desired_statement(self) -> dict[str, Any]:
        return tls_only_statement(self.bucket, _partition(self.region))

    def ensure_bucket_policy(self, tls_only: bool = True) -> dict[str, Any]:
        """Create the bucket if missing; apply public access block, default encryption, the
        TLS-only policy and the lifecycle rules, each only where it differs (so a second run
        changes nothing); then read everything back and raise ConfigError if S3 disagrees.
        Rules and policy statements that are not imgpipe's are kept.

        `tls_only=False` removes imgpipe's TLS-only statement instead: for S3-compatible
        servers reached over plain HTTP, which it would lock out (moto, which ignores policy
        conditions, refuses every object request once a Deny for Principal * is in place)."""
        changed: list[str] = []
        client = self.client
        with self._errors(""):
            if self._create_bucket_if_missing():
                changed.append("bucket")
            current = self.describe()

            if current["public_access_block"] != PUBLIC_ACCESS_BLOCK:
                client.put_public_access_block(
                    Bucket=self.bucket,
                    PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK,  # type: ignore[arg-type]
                )
                changed.append("public_access_block")

            if current["encryption"] != DEFAULT_ENCRYPTION:
                client.put_bucket_encryption(
                    Bucket=self.bucket,
                    ServerSideEncryptionConfiguration={
                        "Rules": [
                            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                )
                changed.append("encryption")

            policy = self._read_policy()
            others = [s for s in policy.get("Statement", []) if s.get("Sid") != TLS_ONLY_SID]
            ours = [s for s in policy.get("Statement", []) if s.get("Sid") == TLS_ONLY_SID]
            wanted = [self._desired_statement()] if tls_only else []
            if [_normal_statement(s) for s in ours] != [_normal_statement(s) for s in wanted]:
                if others or wanted:
                    new_policy = {
                        "Version": "2012-10-17",
                        **{k: v for k, v in policy.items() if k not in {"Version", "Statement"}},
                        "Statement": [*others, *wanted],
                    }
                    client.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(new_policy))
                else:
                    client.delete_bucket_policy(Bucket=self.bucket)
                changed.append("policy")

            desired_rules = self._lifecycle_rules()
            ids = {rule["ID"] for rule in desired_rules}
            existing, minimum = self._read_lifecycle()
            if [_normal_rule(r) for r in existing if r.get("ID") in ids] != [
                _normal_rule(r) for r in desired_rules
            ] or minimum not in (None, TRANSITION_DEFAULT_MINIMUM_SIZE):
                others = [r for r in existing if r.get("ID") not in ids]
                client.put_bucket_lifecycle_configuration(
                    Bucket=self.bucket,
                    LifecycleConfiguration=cast(
                        "BucketLifecycleConfigurationTypeDef", {"Rules": [*others, *desired_rules]}
                    ),
                    TransitionDefaultMinimumObjectSize=TRANSITION_DEFAULT_MINIMUM_SIZE,
                )
                changed.append("lifecycle")

            if _normal_cors(current["cors_rules"]) != _normal_cors(self._cors):
                if self._cors:
                    client.put_bucket_cors(
                        Bucket=self.bucket,
                        CORSConfiguration=cast(
                            "CORSConfigurationTypeDef", {"CORSRules": self._cors}
                        ),
                    )
                else:
                    client.delete_bucket_cors(Bucket=self.bucket)
                changed.append("cors")

            applied = self.describe()

        mismatches = self._mismatches(applied, desired_rules, wanted)
        if _normal_cors(applied["cors_rules"]) != _normal_cors(self._cors):
            mismatches.append(f"CORS rules are {applied['cors_rules']}")
        if mismatches:
            raise ConfigError(
                f"s3://{self.bucket}: read back differs from what was applied: "
                + "; ".join(mismatches)
            )
        return {**applied, "changed": changed}

    def _mismatches(
        self, applied: dict[str, Any], rules: list[dict[str, Any]], wanted: list[dict[str, Any]]
    ) -> list[str]:
        problems = []
        if applied["public_access_block"] != PUBLIC_ACCESS_BLOCK:
            problems.append(f"public access block is {applied['public_access_block']}")
        if applied["encryption"] != DEFAULT_ENCRYPTION:
            problems.append(f"default encryption is {applied['encryption']}")
        ours = [s for s in applied["policy"].get("Statement", []) if s.get("Sid") == TLS_ONLY_SID]
        if [_normal_statement(s) for s in ours] != [_normal_statement(s) for s in wanted]:
            problems.append(f"TLS-only statement is {ours}, not {wanted}")
        ids = {rule["ID"] for rule in rules}
        read = [_normal_rule(r) for r in applied["lifecycle_rules"] if r.get("ID") in ids]
        if read != [_normal_rule(r) for r in rules]:
            problems.append(f"lifecycle rules are {read}")
        # S3-compatible servers may not echo the minimum size; when they do, it must be ours.
        if applied["transition_default_minimum_size"] not in (
            None,
            TRANSITION_DEFAULT_MINIMUM_SIZE,
        ):
            problems.append(
                f"transition minimum size is {applied['transition_default_minimum_size']}"
            )
        return problems

    def _create_bucket_if_missing(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
                raise
        try:
            if self.region == "us-east-1":
                self.client.create_bucket(Bucket=self.bucket)
            else:
                self.client.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": self.region},  # type: ignore[typeddict-item]
                )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
            return False
        return True

    def _unless_unset(self, read: Callable[[], _T]) -> _T | None:
        """Reading a setting that was never made answers an error; that means None."""
        from botocore.exceptions import ClientError

        try:
            return read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _UNSET:
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
        client = self.client
        with self._errors(""):
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
        encryption = ",".join(sorted(a for a in algorithms if a)) or None
        return {
            "store": "s3",
            "bucket": self.bucket,
            "prefix": self.prefix,
            "region": self.region,
            "endpoint_url": self.endpoint_url,
            "public_access_block": public_access,
            "encryption": encryption,
            "policy": policy,
            "lifecycle_rules": lifecycle,
            "transition_default_minimum_size": minimum,
            "cors_rules": [dict(rule) for rule in cors["CORSRules"]] if cors else [],
            "presign_expiry_seconds": self.presign_expiry_seconds,
        }
