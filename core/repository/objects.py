"""Object storage: one ObjectStore protocol, a local-folder adapter and an S3 adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from core.errors import RestoreState

if TYPE_CHECKING:
    from core.config import Settings

RestoreTier = Literal["Bulk", "Standard"]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str | None
    last_modified: datetime | None
    storage_class: str  # "STANDARD", "DEEP_ARCHIVE", ...
    restore: RestoreState | None  # set when the object is in an archive class

    @property
    def archived(self) -> bool:
        return self.storage_class in {"GLACIER", "DEEP_ARCHIVE"}

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

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None: ...

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

    def restore(self, key: str, days: int, tier: RestoreTier = "Bulk") -> None: ...

    def delete(self, key: str) -> None: ...

    def ping(self) -> None:
        """Raises TransientError when storage does not answer."""
        ...


def open_object_store(settings: Settings) -> ObjectStore:
    """The adapter that `settings.storage_url` names."""
    raise NotImplementedError
