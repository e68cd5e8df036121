"""The storage port: what imgpipe needs of object storage, and the key rules every adapter keeps.

Keys are relative paths such as `renditions/thumb/<id>.jpg`. A key that is empty, absolute,
holds `.` or `..` segments, backslashes, control characters or NUL, or is longer than S3
allows, is refused by every adapter with `PermanentError(INVALID_REQUEST)`: keys can come
from outside (upload ids, stream records), so a bad one is bad input, not a programming error.

Errors: a missing key is `NotFound`; reading an archived object that is not restored is
`Archived` (carrying its `RestoreState`); anything that a retry may cure (network, timeouts,
5xx, throttling, a bucket not set up yet, credentials refused) is `TransientError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, Protocol

from core.errors import ErrorCode, NotFound, PermanentError, RestoreState

RestoreTier = Literal["Bulk", "Standard"]

ARCHIVE_CLASSES: Final = frozenset({"GLACIER", "DEEP_ARCHIVE"})
MAX_KEY_BYTES: Final = 1024


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

    @classmethod
    def signed_put(cls, url: str, content_type: str, expires_in: int) -> PresignedUpload:
        """A PUT to a signed URL; the signed Content-Type must be sent as signed."""
        return cls("PUT", url, {"Content-Type": content_type}, {}, expires_in)


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
        """Raises TransientError when storage cannot take a write now (unreachable, full)."""
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


def found_by_head(head: Callable[[str], ObjectInfo], key: str) -> bool:
    """Whether `head(key)` finds an object: how every store answers `exists`."""
    try:
        head(key)
    except NotFound:
        return False
    return True


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


def clamp_expiry(expires_in: int | None, limit: int) -> int:
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
