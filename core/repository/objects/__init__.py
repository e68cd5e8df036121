"""Object storage: the port, its two adapters, and the one that `IMGPIPE_STORAGE_URL` names.

* `port`: the `ObjectStore` protocol, `ObjectInfo`, `PresignedUpload`, key rules, the
  Restore header.
* `folder` (with `files`): `file://DIR`, the embedded default; signed URLs served by the API.
* `s3` (with `s3_api`, the client and error mapping every S3 caller shares): `s3://bucket/prefix`.
* `provisioning`: the bucket's set-up for `imgpipe storage setup`; not part of the port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.repository.objects.folder import LOCAL_OBJECTS_PATH, FolderStore
from core.repository.objects.port import (
    ARCHIVE_CLASSES,
    ObjectInfo,
    ObjectStore,
    PresignedUpload,
    RestoreTier,
    parse_restore_header,
    validate_key,
    validate_prefix,
)
from core.repository.objects.s3 import S3Store

if TYPE_CHECKING:
    from core.config import Settings

__all__ = [
    "ARCHIVE_CLASSES",
    "LOCAL_OBJECTS_PATH",
    "FolderStore",
    "ObjectInfo",
    "ObjectStore",
    "PresignedUpload",
    "RestoreTier",
    "S3Store",
    "open_object_store",
    "parse_restore_header",
    "validate_key",
    "validate_prefix",
]


def open_object_store(settings: Settings) -> ObjectStore:
    """The adapter that `settings.storage_url` names. Build it once per process and reuse it."""
    url = settings.storage_url
    if url.startswith("file://"):
        return FolderStore.from_settings(settings)
    if url.startswith("s3://"):
        return S3Store.from_settings(settings)
    raise ConfigError(f"IMGPIPE_STORAGE_URL: unsupported scheme in {url!r}")
