"""What the pipeline is asked to make, as frozen values built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from core.limits import Limits

if TYPE_CHECKING:
    from core.config import Settings

OutputFormat = Literal["jpeg", "webp", "avif"]


class RenditionSpec(BaseModel):
    """One output the pipeline makes of every image."""

    model_config = {"frozen": True}

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    longest_side: int = Field(ge=16, le=16384)
    format: OutputFormat = "jpeg"
    quality: int = Field(default=85, ge=1, le=100)
    # WebP encoder effort (0 fast .. 6 small). 4 is libwebp's default; 2 costs half the time.
    webp_method: int = Field(default=4, ge=0, le=6)

    @property
    def extension(self) -> str:
        return {"jpeg": "jpg", "webp": "webp", "avif": "avif"}[self.format]

    @property
    def content_type(self) -> str:
        return f"image/{self.format}"


@dataclass(frozen=True, slots=True)
class ProcessingPolicy:
    """All that `process` is told: the limits, the renditions (in their order), the tolerance."""

    limits: Limits
    renditions: tuple[RenditionSpec, ...]
    size_tolerance: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ProcessingPolicy:
        return cls(Limits.from_settings(settings), settings.renditions, settings.size_tolerance)

    @property
    def largest_side(self) -> int:
        return max(spec.longest_side for spec in self.renditions)
