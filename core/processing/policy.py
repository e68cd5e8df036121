"""What the pipeline is asked to make, as frozen values built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, field_validator

from core.limits import Limits
from core.processing.formats import OUTPUT_FORMATS, OutputFormat

if TYPE_CHECKING:
    from core.config import Settings


class RenditionSpec(BaseModel):
    """One output the pipeline makes of every image."""

    model_config = {"frozen": True}

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    longest_side: int = Field(ge=16, le=16384)
    format: str = "jpeg"  # a name of OUTPUT_FORMATS
    quality: int = Field(default=85, ge=1, le=100)
    # WebP encoder effort (0 fast .. 6 small). 4 is libwebp's default; 2 costs half the time.
    webp_method: int = Field(default=4, ge=0, le=6)

    @field_validator("format")
    @classmethod
    def _known_and_available(cls, value: str) -> str:
        row = OUTPUT_FORMATS.get(value)
        if row is None:
            raise ValueError(f"{value!r} is not one of {', '.join(OUTPUT_FORMATS)}")
        if not row.available():
            raise ValueError(f"{value} renditions cannot be encoded by this installation's Pillow")
        return value

    @property
    def output(self) -> OutputFormat:
        return OUTPUT_FORMATS[self.format]

    @property
    def extension(self) -> str:
        return self.output.extension

    @property
    def content_type(self) -> str:
        return self.output.media_type


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
