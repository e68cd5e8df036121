"""Hashes of a picture: the 64-bit perceptual hash, and the metadata-blind content hash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from PIL import Image

from core.processing.colour import flatten
from core.processing.containers import APP0, APP15, COM, Layout, Segment
from core.processing.sizes import upright

_BAND_BYTES = 1 << 20
# Bumped if what the content hash covers ever changes: old and new hashes must not meet.
CONTENT_HASH_VERSION = b"imgpipe content hash 1"

# PNG chunks that make the picture: header, palette, transparency, pixels, colour and the
# animation frames. iCCP is left out because the profile itself is folded in, not its name.
_PNG_PICTURE = {
    b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"cICP", b"mDCv",
    b"cLLi", b"acTL", b"fcTL", b"fdAT",
}  # fmt: skip


def perceptual_hash(image: Image.Image) -> str:
    """64-bit difference hash (dHash) as 16 hex digits: near-identical pictures differ in few bits.

    Each bit says whether a cell of a 9x8 grey thumbnail is brighter than its right neighbour.
    """
    grey = flatten(image).convert("L").resize((9, 8), Image.Resampling.BOX)
    cells = grey.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            left, right = cells[row * 9 + col], cells[row * 9 + col + 1]
            bits = (bits << 1) | (left > right)
    return f"{bits:016x}"


def content_hash(
    data: bytes,
    layout: Layout,
    source: Image.Image | None,
    orientation: int,
    icc: bytes | None,
) -> str:
    """`kind:sha256hex` of the picture whatever metadata wraps it.

    jpeg: the coded image (frame, tables, scans) without APPn and COM segments; png: the image
    chunks without text, time or EXIF; pixels: `source` decoded (mode, size, palette, pixels,
    upright), for other formats (pass None when the decoded pixels are not the full source's);
    bytes: the file itself, when none of those applies. The EXIF orientation and the ICC
    profile are part of the picture and folded into every kind; the kind is too, so that two
    kinds never collide.
    """
    parts: Iterator[bytes | memoryview]
    if layout.segments:
        kind, parts = "jpeg", _jpeg_picture(data, layout.segments)
    elif layout.chunks:
        kind, parts = "png", _png_picture(data, layout)
    elif source is not None:
        kind, parts = "pixels", _pixels(upright(source, orientation))
    else:
        kind, parts = "bytes", iter((memoryview(data),))
    digest = hashlib.sha256(CONTENT_HASH_VERSION)
    profile = icc or b""
    digest.update(f"\0{kind}\0orientation {orientation}\0icc {len(profile)}\0".encode())
    digest.update(profile)
    for part in parts:
        digest.update(part)
    return f"{kind}:{digest.hexdigest()}"


def _jpeg_picture(data: bytes, segments: tuple[Segment, ...]) -> Iterator[memoryview]:
    # Adobe's APP14 stays in: its transform flag says how to read CMYK and YCCK scans.
    view = memoryview(data)
    for segment in segments:
        marker = segment.marker
        if marker == COM or (APP0 <= marker <= APP15 and not _adobe(data, segment)):
            continue
        yield view[segment.start : segment.end]


def _adobe(data: bytes, segment: Segment) -> bool:
    return segment.marker == APP15 - 1 and data.startswith(b"Adobe", segment.start + 4)


def _png_picture(data: bytes, layout: Layout) -> Iterator[bytes | memoryview]:
    # Each chunk as type, length and payload; the IDAT payloads as one stream, so that the same
    # compressed pixels cut into other chunk sizes hash alike.
    view = memoryview(data)
    idat_done = False
    for chunk in layout.chunks:
        if chunk.kind not in _PNG_PICTURE:
            continue
        if chunk.kind == b"IDAT":
            if idat_done:
                continue
            idat = [c for c in layout.chunks if c.kind == b"IDAT"]
            total = sum(c.end - c.start for c in idat)
            yield b"IDAT" + total.to_bytes(8, "big")
            for part in idat:
                yield view[part.start : part.end]
            idat_done = True
            continue
        yield chunk.kind + (chunk.end - chunk.start).to_bytes(8, "big")
        yield view[chunk.start : chunk.end]


def _pixels(image: Image.Image) -> Iterator[bytes]:
    palette = bytes(image.getpalette() or []) if image.mode in ("P", "PA") else b""
    transparency = repr(image.info.get("transparency")).encode()
    yield f"{image.mode}\0{image.width}x{image.height}\0".encode()
    yield len(palette).to_bytes(8, "big") + palette
    yield len(transparency).to_bytes(8, "big") + transparency
    # Band by band, the same bytes as tobytes() without a second copy of a large image.
    width, height = image.size
    rows = max(1, _BAND_BYTES // max(1, width * len(image.getbands())))
    for top in range(0, height, rows):
        yield image.crop((0, top, width, min(height, top + rows))).tobytes()
