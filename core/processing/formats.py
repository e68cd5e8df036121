"""The output formats, one row each: what Pillow calls it, how it is named and served, what it
holds, how it is saved, and whether this installation can encode it."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    from core.processing.policy import RenditionSpec


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """One format renditions may be encoded in."""

    name: str  # as configured: IMGPIPE_RENDITIONS=thumb:256:<name>
    pillow_name: str
    extension: str
    media_type: str
    alpha: bool  # keeps an alpha channel; otherwise transparency is flattened onto white
    modes: tuple[str, ...]  # the modes it is handed in (others are converted to RGB or RGBA)
    save_options: Callable[[RenditionSpec], dict[str, Any]]  # Pillow save() keywords

    def available(self) -> bool:
        """Whether the installed Pillow can encode this format."""
        return can_encode(self.pillow_name)


def _jpeg_options(spec: RenditionSpec) -> dict[str, Any]:
    return {"quality": spec.quality, "progressive": spec.progressive, "optimize": spec.optimize}


def _webp_options(spec: RenditionSpec) -> dict[str, Any]:
    return {"quality": spec.quality, "method": spec.webp_method}


def _avif_options(spec: RenditionSpec) -> dict[str, Any]:
    return {"quality": spec.quality}


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    row.name: row
    for row in (
        OutputFormat("jpeg", "JPEG", "jpg", "image/jpeg", False, ("L", "RGB"), _jpeg_options),
        OutputFormat("webp", "WEBP", "webp", "image/webp", True, ("RGB", "RGBA"), _webp_options),
        OutputFormat("avif", "AVIF", "avif", "image/avif", True, ("RGB", "RGBA"), _avif_options),
    )
}

# Every media type a rendition may have, for API documents that list them.
OUTPUT_MEDIA_TYPES: tuple[str, ...] = tuple(row.media_type for row in OUTPUT_FORMATS.values())


@cache
def can_encode(pillow_name: str) -> bool:
    """Whether one pixel saves in this format: a Pillow may decode a format it cannot write
    (AVIF without an encoder, WebP without libwebp)."""
    try:
        Image.new("RGB", (1, 1)).save(io.BytesIO(), pillow_name)
    except Exception:  # KeyError, OSError, ImportError ...: not here
        return False
    return True
