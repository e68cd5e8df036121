"""Encoding a rendition in its output format, with nothing of the source's metadata."""

from __future__ import annotations

import io

from PIL import Image

from core.processing.colour import flatten
from core.processing.policy import RenditionSpec


def encode(image: Image.Image, spec: RenditionSpec) -> bytes:
    """The rendition's bytes: the image in the modes its format takes, saved as the row says."""
    output = spec.output
    if not output.alpha:
        image = flatten(image)
    if image.mode not in output.modes:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    image.info = {}  # no EXIF, XMP, ICC or comment rides along
    out = io.BytesIO()
    image.save(out, output.pillow_name, **output.save_options(spec))
    return out.getvalue()
