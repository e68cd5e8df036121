"""Encoding a rendition in its output format, with nothing of the source's metadata."""

from __future__ import annotations

import io

from PIL import Image

from core.processing.colour import flatten
from core.processing.policy import RenditionSpec


def encode(image: Image.Image, spec: RenditionSpec) -> bytes:
    out = io.BytesIO()
    if spec.format == "jpeg":
        image = flatten(image)
        image.info = {}  # no EXIF, XMP, ICC or comment rides along
        image.save(out, "JPEG", quality=spec.quality, progressive=True, optimize=True)
    else:
        if image.mode in ("L", "LA"):
            image = image.convert("RGBA" if image.mode == "LA" else "RGB")
        image.info = {}
        if spec.format == "webp":
            image.save(out, "WEBP", quality=spec.quality, method=spec.webp_method)
        else:
            image.save(out, "AVIF", quality=spec.quality)
    return out.getvalue()
