"""The input limits and their refusals, each written once: bytes, pixels, sides, frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import ErrorCode, PermanentError

if TYPE_CHECKING:
    from core.config import Settings


@dataclass(frozen=True, slots=True)
class Limits:
    """The most an input may be: bytes, width * height, longest side, frames."""

    max_bytes: int
    max_pixels: int
    max_side: int
    max_frames: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.max_bytes, settings.max_pixels, settings.max_side, settings.max_frames)


def refuse_if_too_large(size: int, limit: int | Limits, what: str | None = None) -> None:
    """Refuse `size` bytes over the byte limit as TOO_LARGE; `what` names the input if given."""
    max_bytes = limit.max_bytes if isinstance(limit, Limits) else limit
    if size > max_bytes:
        subject = f"{what}: " if what else ""
        raise PermanentError(
            ErrorCode.TOO_LARGE, f"{subject}{size} bytes is over the limit of {max_bytes}"
        )


def refuse_if_out_of_range(width: int, height: int, limits: Limits) -> None:
    """Refuse a size with no pixels, more than max_pixels, or a side longer than max_side."""
    if width < 1 or height < 1:
        raise PermanentError(ErrorCode.DIMENSIONS_OUT_OF_RANGE, f"{width}x{height} has no pixels")
    if width * height > limits.max_pixels:
        raise PermanentError(
            ErrorCode.TOO_MANY_PIXELS,
            f"{width}x{height} is {width * height} pixels, more than the limit of "
            f"{limits.max_pixels}",
        )
    if max(width, height) > limits.max_side:
        raise PermanentError(
            ErrorCode.DIMENSIONS_OUT_OF_RANGE,
            f"{width}x{height} has a side longer than {limits.max_side}",
        )


def refuse_if_too_many_frames(frames: int, limits: Limits) -> None:
    if frames > limits.max_frames:
        detail = f"{frames} frames, more than the limit of {limits.max_frames}"
        raise PermanentError(ErrorCode.TOO_MANY_FRAMES, detail)
