"""What the pipeline is asked to make, as frozen values built once from the settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from PIL import ExifTags
from pydantic import BaseModel, Field, field_validator, model_validator

from core.limits import Limits
from core.processing.formats import OUTPUT_FORMATS, OutputFormat

if TYPE_CHECKING:
    from core.config import Settings


JPEG_FLAGS = ("progressive", "optimize")
COMPACT_FORM = "name:side[:format[:quality]][:progressive][:optimize]"


class RenditionSpec(BaseModel):
    """One output the pipeline makes of every image."""

    model_config = {"frozen": True}

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    longest_side: int = Field(ge=16, le=16384)
    format: str = "jpeg"  # a name of OUTPUT_FORMATS
    quality: int = Field(default=85, ge=1, le=100)
    # WebP encoder effort (0 fast .. 6 small). 4 is libwebp's default; 2 costs half the time.
    webp_method: int = Field(default=4, ge=0, le=6)
    # JPEG only. Progressive scans cost ~6x a baseline encode for ~6% fewer bytes, and Huffman
    # optimisation ~2x for 0.5-2% (bench/processing.py's encoder table): both off unless asked.
    progressive: bool = False
    optimize: bool = False

    @field_validator("format")
    @classmethod
    def _known_and_available(cls, value: str) -> str:
        row = OUTPUT_FORMATS.get(value)
        if row is None:
            raise ValueError(f"{value!r} is not one of {', '.join(OUTPUT_FORMATS)}")
        if not row.available():
            raise ValueError(f"{value} renditions cannot be encoded by this installation's Pillow")
        return value

    @model_validator(mode="after")
    def _jpeg_options_on_jpeg(self) -> RenditionSpec:
        if self.format != "jpeg" and (self.progressive or self.optimize):
            raise ValueError(f"progressive and optimize are JPEG options, not {self.format}")
        return self

    @classmethod
    def compact_fields(cls, item: str) -> dict[str, Any]:
        """The fields of `name:side[:format[:quality]][:progressive][:optimize]`."""
        name, _, rest = item.partition(":")
        parts = rest.split(":") if rest else []
        if not parts or len(parts) > 5:
            raise ValueError(f"rendition {item!r} is not {COMPACT_FORM}")
        fields: dict[str, Any] = {"name": name, "longest_side": parts[0]}
        flags = parts[1:]
        if flags and flags[0] not in JPEG_FLAGS:
            fields["format"] = flags.pop(0)
        if flags and flags[0].isdigit():
            fields["quality"] = flags.pop(0)
        for flag in flags:
            if flag not in JPEG_FLAGS or flag in fields:
                raise ValueError(f"rendition {item!r}: {flag!r} is not a flag of {COMPACT_FORM}")
            fields[flag] = True
        return fields

    @classmethod
    def parse_list(cls, value: Any) -> Any:
        """Renditions as the environment gives them: a JSON list, or compact specs separated by
        commas. Anything else is left to validation."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [cls.compact_fields(item) for item in map(str.strip, text.split(",")) if item]

    @staticmethod
    def distinct(specs: tuple[RenditionSpec, ...]) -> tuple[RenditionSpec, ...]:
        """The specs, if there is at least one and no name repeats; ValueError otherwise."""
        names = [spec.name for spec in specs]
        if not names:
            raise ValueError("at least one rendition is needed")
        if len(set(names)) != len(names):
            raise ValueError(f"rendition names repeat: {names}")
        return specs

    @property
    def compact(self) -> str:
        """The spec in the compact form, every field but webp_method spelt out."""
        flags = [flag for flag in JPEG_FLAGS if getattr(self, flag)]
        return ":".join([self.name, str(self.longest_side), self.format, str(self.quality), *flags])

    @property
    def output(self) -> OutputFormat:
        return OUTPUT_FORMATS[self.format]

    @property
    def extension(self) -> str:
        return self.output.extension

    @property
    def content_type(self) -> str:
        return self.output.media_type


IccPolicy = Literal["convert", "keep"]

# EXIF fields no rendition keeps, whatever is configured: where the picture was taken (GPS*),
# the numbers that identify a camera or a lens (*SerialNumber), and the maker's notes, opaque
# and often holding both. Orientation is applied to the pixels: kept, it would turn them twice.
_NEVER_KEPT = {"MakerNote", "Orientation", "GPSInfo", "ExifOffset", "InteropOffset"}
_EXIF_NAMES = {tag.name.lower(): tag for tag in ExifTags.Base}


def exif_field(name: str) -> tuple[str, int]:
    """The name and tag of an EXIF field renditions may keep; ValueError for any other."""
    if name.lower().startswith("gps"):
        raise ValueError(f"{name}: GPS fields are never kept")
    if "serialnumber" in name.lower():
        raise ValueError(f"{name}: serial numbers are never kept")
    tag = _EXIF_NAMES.get(name.lower())
    if tag is None:
        raise ValueError(f"{name!r} is not the name of an EXIF field (such as Copyright)")
    if tag.name in _NEVER_KEPT:
        raise ValueError(f"{tag.name} is never kept")
    return tag.name, tag.value


@dataclass(frozen=True, slots=True)
class MetadataPolicy:
    """What renditions keep of the source's metadata; everything else is stripped."""

    keep_exif: tuple[int, ...]  # EXIF tags, each passed by exif_field
    icc: IccPolicy  # convert: pixels to sRGB, no profile; keep: RGB pixels keep theirs


@dataclass(frozen=True, slots=True)
class ProcessingPolicy:
    """All that `process` is told: limits, renditions (in their order), tolerance, metadata."""

    limits: Limits
    renditions: tuple[RenditionSpec, ...]
    size_tolerance: float
    metadata: MetadataPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> ProcessingPolicy:
        metadata = MetadataPolicy(
            keep_exif=tuple(exif_field(name)[1] for name in settings.metadata_keep_exif),
            icc=settings.metadata_icc,
        )
        return cls(
            Limits.from_settings(settings), settings.renditions, settings.size_tolerance, metadata
        )

    @property
    def largest_side(self) -> int:
        return max(spec.longest_side for spec in self.renditions)
