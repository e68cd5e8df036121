"""The folder store: objects as files under one directory, the embedded default (`file://DIR`).

Writes are atomic (a temp file beside the target, fsync, rename; see `files`). Presigned URLs
are paths the upload API serves (`/local-objects/{key}?...`), signed with HMAC-SHA256; see
`FolderStore.verify_signature`. Besides the port's key rules, the folder store refuses
segments that start with a dot: it keeps its temp files and `.meta/` sidecars under such names.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import hmac
import json
import mimetypes
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from core.errors import ConfigError, ErrorCode, NotFound, PermanentError, TransientError
from core.layout import default_cache_control
from core.repository.objects.files import (
    TempSweeper,
    create_exclusively,
    temp_file,
    write_atomically,
    write_durably,
)
from core.repository.objects.port import (
    ObjectInfo,
    PresignedUpload,
    RestoreTier,
    clamp_expiry,
    found_by_head,
    validate_key,
    validate_prefix,
)

if TYPE_CHECKING:
    from core.config import Settings

# Where the upload API serves the folder store's signed URLs.
LOCAL_OBJECTS_PATH: Final = "/local-objects/"

_META_DIR: Final = ".meta"
_SIGNING_KEY_FILE: Final = "signing.key"
# One block: an empty file needs no data block, so only a write with bytes meets a full disk.
PING_PROBE: Final = b"imgpipe readiness probe\n".ljust(4096, b".")


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
        self.sweeper = TempSweeper(
            self.root, also=lambda: list(self.key_file.parent.glob(".signing*.tmp"))
        )
        self.sweeper.sweep_if_due()  # what writers killed before this start left behind

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
            write_atomically(path, data)
        except OSError as exc:
            raise TransientError(f"cannot write {key!r} under {self.root}: {exc}") from exc
        self.sweeper.sweep_if_due()

    def _write_meta(
        self, key: str, data: bytes, content_type: str, cache_control: str | None
    ) -> None:
        meta = {
            "content_type": content_type,
            "cache_control": default_cache_control(key) if cache_control is None else cache_control,
            "etag": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        }
        write_atomically(self._meta_path(key), json.dumps(meta).encode())

    def create(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> bool:
        path = self._path(key)
        try:
            created = create_exclusively(path, data)
            if created:
                # After the link: a loser of the race must not rewrite the winner's metadata.
                # Until it lands, head() derives the ETag and type from the object itself.
                self._write_meta(key, data, content_type, cache_control)
        except OSError as exc:
            raise TransientError(f"cannot write {key!r} under {self.root}: {exc}") from exc
        self.sweeper.sweep_if_due()
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
        return found_by_head(self.head, key)

    def presign_get(self, key: str, expires_in: int | None = None) -> str:
        return self._signed_url(key, "GET", expires_in, max_bytes=None)[0]

    def presign_put(
        self, key: str, content_type: str, max_bytes: int, expires_in: int | None = None
    ) -> PresignedUpload:
        url, lifetime = self._signed_url(key, "PUT", expires_in, max_bytes=max_bytes)
        return PresignedUpload.signed_put(url, content_type, lifetime)

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
        """Writes, syncs and removes a one-block probe: a full disk fails here, as every write
        would, where creating an empty file still succeeds."""
        try:
            with temp_file(self.root, "ping") as (handle, _):
                write_durably(handle, PING_PROBE)
        except OSError as exc:
            raise TransientError(f"object folder {self.root} is not writable: {exc}") from exc
        self.sweeper.sweep_if_due()

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
        top, base = (self.root / prefix, prefix) if prefix.endswith("/") else (self.root, "")
        if not top.is_dir():
            return []
        found: list[tuple[str, int]] = []
        for key in _keys_in_order(top, base, prefix, start_after or "", limit):
            if limit is not None and len(found) >= limit:
                break
            with contextlib.suppress(FileNotFoundError):  # removed since its folder was read
                found.append((key, (self.root / key).stat().st_size))
        return found

    def location(self, key: str) -> str:
        return self._path(key).as_uri()

    # signed URLs

    @property
    def key_file(self) -> Path:
        """Where the shared signing key lives when IMGPIPE_SIGNING_KEY is unset: outside the
        object folder, so that it is never served or copied as an object."""
        return self.root.parent / _SIGNING_KEY_FILE

    @property
    def signing_key_source(self) -> str:
        """Where the signing key comes from, for reports (never the key itself)."""
        return "IMGPIPE_SIGNING_KEY" if self._explicit_key else str(self.key_file)

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
        lifetime = clamp_expiry(expires_in, self.presign_expiry_seconds)
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


def _shared_key(path: Path) -> bytes:
    """The signing key every process on this machine uses (API workers, CLI): read it, or
    create it once. Creation links a complete private temp file into place, so two processes
    racing to create it both end up reading the same key."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        create_exclusively(path, secrets.token_hex(32).encode(), mode=0o600)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_bytes().strip()
    if len(key) < 32:
        raise ConfigError(f"signing key file {path} is shorter than 32 bytes; delete it")
    return key


def _keys_in_order(
    folder: Path, base: str, prefix: str, after: str, batch: int | None
) -> Iterator[str]:
    """The keys below `folder` (named `base`) that start with `prefix` and sort after `after`,
    in key order, holding at most `batch` names of a folder at a time: an hour of facts is one
    folder of tens of thousands, and a scan wants the first thousand after a key."""
    cursor = ""  # the last entry of `folder` taken (a folder's name ends with "/")
    while True:
        entries = _entries(folder, base, prefix, after, cursor)
        chosen = sorted(entries) if batch is None else heapq.nsmallest(batch, entries)
        for name in chosen:
            if name.endswith("/"):
                yield from _keys_in_order(folder / name[:-1], base + name, prefix, after, batch)
            else:
                yield base + name
        if batch is None or len(chosen) < batch:
            return
        cursor = chosen[-1]


def _entries(folder: Path, base: str, prefix: str, after: str, cursor: str) -> Iterator[str]:
    """The names in `folder` after `cursor` that may hold a key the scan wants. A folder sorts
    as its name and "/": every key below it sorts where that name does among its neighbours."""
    with os.scandir(folder) as found:
        for entry in found:
            if entry.name.startswith("."):
                continue  # temp files and .meta sidecars
            if entry.is_dir(follow_symlinks=False):
                name = entry.name + "/"
                path = base + name
                wanted = path.startswith(prefix) or prefix.startswith(path)
                if name > cursor and wanted and path >= after[: len(path)]:
                    yield name
            elif entry.name > cursor and not entry.is_dir():  # a link to a folder is neither
                key = base + entry.name
                if key > after and key.startswith(prefix):
                    yield entry.name
