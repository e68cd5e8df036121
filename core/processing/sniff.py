"""What an input is, by its magic numbers: the accepted formats, and a name for everything else."""

from __future__ import annotations

from core.errors import ErrorCode, PermanentError

_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_CONTAINER_BRANDS = {b"mif1", b"msf1", b"miaf"}


def sniff_format(data: bytes) -> str:
    """The image format the bytes are, by their magic numbers; refuses everything else.

    Returns one of "jpeg", "png", "webp", "gif", "tiff", "bmp", "avif", "heif".
    """
    if not data:
        raise PermanentError(ErrorCode.EMPTY, "the image has no bytes")
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "tiff"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[4:8] == b"ftyp":
        brand = _isobmff_brand(data)
        if brand:
            return brand
    raise PermanentError(
        ErrorCode.UNSUPPORTED_FORMAT, f"{_describe(head)} is not a supported image"
    )


def _isobmff_brand(data: bytes) -> str | None:
    """AVIF or HEIF, from the ftyp box's major and compatible brands."""
    box_size = int.from_bytes(data[0:4], "big")
    end = min(max(box_size, 16), 4096, len(data))
    major = data[8:12]
    compatible = {data[i : i + 4] for i in range(16, end - 3, 4)}
    if major in _AVIF_BRANDS or (major in _CONTAINER_BRANDS and compatible & _AVIF_BRANDS):
        return "avif"
    if major in _HEIF_BRANDS or (major in _CONTAINER_BRANDS and compatible & _HEIF_BRANDS):
        return "heif"
    return None


def _describe(head: bytes) -> str:
    """A name for bytes that are not an accepted image, for the refusal's detail."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"%pdf"):
        return "PDF"
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "SVG"
    if text.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    if text.startswith(b"<?xml"):
        return "XML"
    if head[4:8] == b"ftyp":
        return f"ISO media ({head[8:12].decode('latin-1')!r})"
    if head.startswith((b"\x00\x00\x01\x00", b"\x00\x00\x02\x00")):
        return "ICO"
    try:
        text_head = head.decode("utf-8")
    except UnicodeDecodeError:
        return "data of unknown format"
    if all(ch.isprintable() or ch in "\t\r\n\f" for ch in text_head):
        return "text"
    return "data of unknown format"
