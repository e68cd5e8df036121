"""The one error taxonomy of imgpipe, shared by the pipeline, the repositories and both services."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable machine codes. Clients, dead-letter headers and the warehouse store these strings."""

    EMPTY = "empty"
    UNSUPPORTED_FORMAT = "unsupported_format"
    UNDECODABLE = "undecodable"
    TOO_LARGE = "too_large"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_MANY_FRAMES = "too_many_frames"
    DIMENSIONS_OUT_OF_RANGE = "dimensions_out_of_range"
    MALFORMED_RECORD = "malformed_record"
    FORBIDDEN_SOURCE = "forbidden_source"
    SOURCE_NOT_FOUND = "source_not_found"
    INVALID_REQUEST = "invalid_request"
    CHECKSUM_MISMATCH = "checksum_mismatch"


# One HTTP status per code: what the upload API answers for a refusal.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.EMPTY: 422,
    ErrorCode.UNSUPPORTED_FORMAT: 415,
    ErrorCode.UNDECODABLE: 422,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.TOO_MANY_PIXELS: 422,
    ErrorCode.TOO_MANY_FRAMES: 422,
    ErrorCode.DIMENSIONS_OUT_OF_RANGE: 422,
    ErrorCode.MALFORMED_RECORD: 400,
    ErrorCode.FORBIDDEN_SOURCE: 403,
    ErrorCode.SOURCE_NOT_FOUND: 404,
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.CHECKSUM_MISMATCH: 422,
}

TITLES: dict[ErrorCode, str] = {
    ErrorCode.EMPTY: "Empty image",
    ErrorCode.UNSUPPORTED_FORMAT: "Unsupported image format",
    ErrorCode.UNDECODABLE: "Image cannot be decoded",
    ErrorCode.TOO_LARGE: "Image too large",
    ErrorCode.TOO_MANY_PIXELS: "Too many pixels",
    ErrorCode.TOO_MANY_FRAMES: "Too many frames",
    ErrorCode.DIMENSIONS_OUT_OF_RANGE: "Dimensions out of range",
    ErrorCode.MALFORMED_RECORD: "Malformed record",
    ErrorCode.FORBIDDEN_SOURCE: "Source not allowed",
    ErrorCode.SOURCE_NOT_FOUND: "Source not found",
    ErrorCode.INVALID_REQUEST: "Invalid request",
    ErrorCode.CHECKSUM_MISMATCH: "Checksum mismatch",
}


class ImgpipeError(Exception):
    """Base of every error imgpipe raises on purpose."""


class PermanentError(ImgpipeError):
    """Bad input. Retrying cannot help: refuse it, record a `rejected` event, dead-letter it."""

    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    @property
    def title(self) -> str:
        return TITLES[self.code]


class TransientError(ImgpipeError):
    """A dependency is unreachable, throttled or timed out. Nothing is half-written; retry later.

    `detail` is for the log (it may name paths and driver errors); `dependency` is what a
    client may be told is unavailable ("storage", "warehouse"), when the raiser knows it."""

    def __init__(
        self, detail: str, *, retry_after: float = 1.0, dependency: str | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after
        self.dependency = dependency


class NotFound(ImgpipeError):
    """The object or image does not exist (for this customer)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"not found: {what}")
        self.what = what


@dataclass(frozen=True, slots=True)
class RestoreState:
    """Where an archived object stands, as S3's `Restore` header tells it."""

    storage_class: str
    ongoing: bool | None = None  # None: no restore was ever requested
    expiry: str | None = None  # HTTP date until which the restored copy stays readable

    @property
    def readable(self) -> bool:
        return self.ongoing is False


class Archived(ImgpipeError):
    """The object sits in an archive storage class and must be restored before it can be read."""

    def __init__(self, key: str, state: RestoreState) -> None:
        super().__init__(f"archived: {key} ({state.storage_class})")
        self.key = key
        self.state = state


class Forbidden(ImgpipeError):
    """The caller is known but may not read what it asked for (another customer's numbers)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"forbidden: {detail}")
        self.detail = detail


class UploadNotReceived(ImgpipeError):
    """A direct upload is completed before its object arrived. Nothing is recorded: completing
    it again once the object is sent succeeds."""

    def __init__(self, upload_id: str) -> None:
        super().__init__(f"upload {upload_id} has no object yet")
        self.upload_id = upload_id


class UploadClosed(ImgpipeError):
    """An object is sent to a direct upload that was completed already."""

    def __init__(self, upload_id: str) -> None:
        super().__init__(f"upload {upload_id} is completed")
        self.upload_id = upload_id


class ConfigError(ImgpipeError):
    """A setting is missing or wrong. Raised at start, naming the environment variable."""
