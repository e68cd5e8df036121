"""The pipeline: bytes in, renditions and metadata out. Pure (no I/O, no mutable globals) but
for the capture of libtiff's fd 2 messages around a compressed TIFF's decode."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace

from PIL import Image

from core.errors import ErrorCode, PermanentError
from core.limits import refuse_if_too_large
from core.models import ImageMetadata, ProcessedImage, Rendition
from core.processing.colour import flatten, icc_profile, keeps_profile, to_srgb
from core.processing.colour import has_alpha as has_alpha_channel
from core.processing.containers import layout
from core.processing.decode import decoding, open_image
from core.processing.encode import Carried, encode
from core.processing.hashes import content_hash, perceptual_hash
from core.processing.libtiff import libtiff_messages
from core.processing.metadata import Exif, kept_exif, read_exif, removed_metadata
from core.processing.placeholder import placeholder
from core.processing.policy import ProcessingPolicy, RenditionSpec
from core.processing.sizes import ORIENTATION, SWAPS_AXES, Made, jpeg_scale, rendition_image
from core.processing.sniff import sniff_format


def process(data: bytes, policy: ProcessingPolicy) -> ProcessedImage:
    """Every rendition of `policy.renditions` (in that order) and the source's metadata.

    Raises PermanentError for anything that is not an acceptable image; nothing else.
    """
    started = time.perf_counter()
    if not data:
        raise PermanentError(ErrorCode.EMPTY, "the image has no bytes")
    refuse_if_too_large(len(data), policy.limits)
    fmt = sniff_format(data)
    specs = policy.renditions
    decoded, source = _decode(data, fmt, policy)
    if not any(spec.output.alpha for spec in specs):
        decoded = flatten(decoded)  # resample three channels, not four, when no output keeps alpha
    orientation = source.exif.orientation

    # Largest first, each from the one made before it (the smallest larger image there is),
    # encoded at once: only one decoded-size image is alive at a time, which bounds the peak
    # memory to about two of them.
    current = Made(decoded, upright=orientation == 1)
    del decoded
    made: dict[str, Rendition] = {}
    for spec in sorted(specs, key=lambda s: s.longest_side, reverse=True):
        current = rendition_image(current, spec.longest_side, orientation)
        made[spec.name] = _rendition(spec, current.image, source.carried)

    exif = source.exif
    shown = placeholder(current.image)  # from the smallest rendition: cheap
    metadata = ImageMetadata(
        sha256=hashlib.sha256(data).hexdigest(),
        phash=perceptual_hash(current.image),
        format=fmt,
        mode=source.mode,
        width=source.height if orientation in SWAPS_AXES else source.width,
        height=source.width if orientation in SWAPS_AXES else source.height,
        frames=source.frames,
        has_alpha=source.has_alpha,
        bytes_in=len(data),
        camera_make=exif.make,
        camera_model=exif.model,
        taken_at=exif.taken_at,
        has_gps=exif.has_gps,
        icc_profile=source.icc_profile,
        content_sha256=source.content_hash,
        thumbhash=shown.thumbhash,
        dominant_color=shown.dominant_color,
        metadata_removed=source.removed,
    )
    elapsed = (time.perf_counter() - started) * 1000
    renditions = tuple(made[spec.name] for spec in specs)
    return ProcessedImage(metadata=metadata, renditions=renditions, processing_ms=elapsed)


@dataclass(frozen=True, slots=True)
class _Source:
    """What the header and the decoder told of the source, its pixels aside."""

    width: int
    height: int
    mode: str
    has_alpha: bool
    frames: int
    exif: Exif
    icc_profile: str | None
    content_hash: str
    carried: Carried  # what renditions keep of its metadata
    removed: tuple[str, ...]  # what they do not


def _decode(data: bytes, fmt: str, policy: ProcessingPolicy) -> tuple[Image.Image, _Source]:
    """8-bit sRGB pixels, not yet upright, at the smallest size that serves the renditions."""
    image, frames = open_image(data, fmt, policy.limits)
    width, height = image.size
    mode = image.mode
    has_alpha = has_alpha_channel(image)
    with decoding(f"{fmt} data"):
        if fmt == "jpeg":
            scale = jpeg_scale(width, height, policy.largest_side, policy.size_tolerance)
            if scale > 1:
                image.draft("RGB", (width // scale, height // scale))
            # The whole file fed to the decoder at once: in Pillow's 64 KiB reads each pass
            # copies what the decoder left over, ~2% of a 12 MP decode for nothing.
            image.decodermaxblock = max(image.decodermaxblock, len(data))
        with libtiff_messages(image, f"{fmt} data"):
            image.load()
        exif = read_exif(image)
        if exif.orientation not in ORIENTATION:
            exif = replace(exif, orientation=1)
        icc = image.info.get("icc_profile") or None
        profile, icc_name = icc_profile(icc)
        keep_icc = policy.metadata.icc == "keep" and keeps_profile(image, profile)
        structure = layout(data, fmt)
        # A JPEG's pixels may be decoded at a reduced scale, and only a first frame is: those
        # are hashed as coded, or as bytes.
        full_pixels = image if fmt != "jpeg" and frames == 1 else None
        hashed = content_hash(data, structure, full_pixels, exif.orientation, icc)
        kept = policy.metadata.keep_exif
        carried = Carried(exif=kept_exif(image, kept), icc=icc if keep_icc else None)
        removed = removed_metadata(image, data, structure, kept, keep_icc)
        decoded = to_srgb(image, None if keep_icc else profile, icc_name)
    source = _Source(
        width, height, mode, has_alpha, frames, exif, icc_name, hashed, carried, removed
    )
    return decoded, source


def _rendition(spec: RenditionSpec, image: Image.Image, carried: Carried) -> Rendition:
    return Rendition(
        name=spec.name,
        width=image.width,
        height=image.height,
        format=spec.format,
        content_type=spec.content_type,
        extension=spec.extension,
        data=encode(image, spec, carried),
    )
