"""Encoding a rendition in its output format, with only the metadata the policy keeps."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from core.processing.colour import flatten
from core.processing.policy import RenditionSpec


@dataclass(frozen=True, slots=True)
class Carried:
    """What renditions carry of the source's metadata: kept EXIF fields, a kept ICC profile."""

    exif: bytes | None = None
    icc: bytes | None = None


def encode(image: Image.Image, spec: RenditionSpec, carried: Carried) -> bytes:
    """The rendition's bytes: the image in the modes its format takes, saved as the row says."""
    output = spec.output
    if not output.alpha:
        image = flatten(image)
    if image.mode not in output.modes:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    image.info = {}  # nothing of the source rides along but what is passed below
    options = output.save_options(spec)
    if carried.exif:
        options["exif"] = carried.exif
    if carried.icc:
        options["icc_profile"] = carried.icc
    out = io.BytesIO()
    image.save(out, output.pillow_name, **options)
    return out.getvalue()
