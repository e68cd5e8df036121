"""The source's metadata: the EXIF fields imgpipe records, those renditions keep, and what is
stripped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PIL import ExifTags, Image

from core.processing.containers import APP0, APP15, Layout

_TAG_MAKE = 0x010F
_TAG_MODEL = 0x0110
_TAG_DATETIME = 0x0132
_TAG_ORIENTATION = 0x0112
_TAG_DATETIME_ORIGINAL = 0x9003


@dataclass(frozen=True, slots=True)
class Exif:
    orientation: int = 1
    make: str | None = None
    model: str | None = None
    taken_at: datetime | None = None
    has_gps: bool = False


def read_exif(image: Image.Image) -> Exif:
    """The EXIF fields imgpipe keeps. Malformed EXIF is ignored, never a reason to refuse."""
    try:
        exif = image.getexif()
        if not exif:
            return Exif()
        orientation = exif.get(_TAG_ORIENTATION, 1)
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo) if ExifTags.IFD.GPSInfo in exif else {}
        taken = _exif_time(sub.get(_TAG_DATETIME_ORIGINAL)) or _exif_time(exif.get(_TAG_DATETIME))
        return Exif(
            orientation=orientation if isinstance(orientation, int) else 1,
            make=_exif_text(exif.get(_TAG_MAKE)),
            model=_exif_text(exif.get(_TAG_MODEL)),
            taken_at=taken,
            has_gps=bool(gps),
        )
    except Exception:
        return Exif()


def _exif_text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:128] or None


def _exif_time(value: Any) -> datetime | None:
    text = _exif_text(value)
    if not text:
        return None
    try:
        # EXIF stores local time without a zone; it is kept as if it were UTC.
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


# Tags that describe how the pixels are stored, not the picture's story: a rendition re-encodes
# the pixels, so losing them is not stripping metadata. Orientation is applied, not lost; the
# pointers to the other IFDs, XMP, IPTC and ICC tags are told by the sections they hold.
_STRUCTURE = {
    254, 255, 256, 257, 258, 259, 262, 266, 273, 274, 277, 278, 279, 282, 283, 284, 296, 297,
    301, 317, 318, 319, 320, 322, 323, 324, 325, 338, 339, 347, 513, 514, 529, 530, 531, 532,
    700, 33723, 34377, 34665, 34675, 34853, 40965,
    36864, 37121, 40960, 40961, 40962, 40963,  # Exif version, components, colour space, size
}  # fmt: skip
_TIFF_SECTIONS = {700: "xmp", 33723: "iptc", 34377: "iptc"}  # 34675, the ICC profile: info
_XMP_KEYS = ("xmp", "XML:com.adobe.xmp")


def kept_exif(image: Image.Image, tags: tuple[int, ...]) -> bytes | None:
    """An EXIF block of the source's values of `tags` (the policy's), or None if it has none."""
    if not tags:
        return None
    try:
        source = image.getexif()
        sub = source.get_ifd(ExifTags.IFD.Exif)
    except Exception:  # malformed EXIF: nothing to keep
        return None
    kept = Image.Exif()
    for tag in tags:
        if tag in source:
            kept[tag] = source[tag]
        elif tag in sub:
            kept.get_ifd(ExifTags.IFD.Exif)[tag] = sub[tag]
    return kept.tobytes() if kept or kept.get_ifd(ExifTags.IFD.Exif) else None


def removed_metadata(
    image: Image.Image, data: bytes, layout: Layout, kept: tuple[int, ...], icc_kept: bool
) -> tuple[str, ...]:
    """What of the source's metadata no rendition carries, sorted: "gps", "exif:<Field>" for
    each EXIF field ("exif:thumbnail": its preview), "xmp", "iptc", "icc", "comment", "text"
    and "time" (PNG), "mpf" (JPEG previews), "appN" (other JPEG application data), "trailer"
    (bytes after the image)."""
    found = _exif_removed(image, set(kept))
    info = image.info
    if any(key in info for key in _XMP_KEYS):
        found.add("xmp")
    if info.get("icc_profile") and not icc_kept:
        found.add("icc")
    if info.get("comment"):
        found.add("comment")
    if layout.segments:
        found |= _jpeg_removed(data, layout)
    elif layout.chunks:
        found |= _png_removed(data, layout)
    return tuple(sorted(found))


def _exif_removed(image: Image.Image, kept: set[int]) -> set[str]:
    try:
        exif = image.getexif()
        sections = [dict(exif), exif.get_ifd(ExifTags.IFD.Exif)]
        gps = ExifTags.IFD.GPSInfo in exif and bool(exif.get_ifd(ExifTags.IFD.GPSInfo))
        thumbnail = bool(exif.get_ifd(ExifTags.IFD.IFD1))
    except Exception:  # malformed EXIF is stripped whole
        return {"exif"} if image.info.get("exif") else set()
    found = {"gps"} if gps else set()
    if thumbnail:
        found.add("exif:thumbnail")  # a preview that may still show what was edited away
    for section in sections:
        for tag in section:
            if tag in _TIFF_SECTIONS:
                found.add(_TIFF_SECTIONS[tag])
            elif tag not in _STRUCTURE and tag not in kept:
                found.add(f"exif:{ExifTags.TAGS.get(tag, f'0x{tag:04X}')}")
    return found


def _jpeg_removed(data: bytes, layout: Layout) -> set[str]:
    found: set[str] = set()
    for segment in layout.segments:
        marker = segment.marker
        if not APP0 <= marker <= APP15:
            continue
        head = data[segment.start + 4 : segment.start + 40]
        if marker == APP0 or (marker == APP0 + 14 and head.startswith(b"Adobe")):
            continue  # JFIF density, Adobe colour transform: how to read the pixels
        if marker == APP0 + 1 and head.startswith((b"Exif\0", b"http://ns.adobe.com/")):
            continue  # EXIF and XMP, told above
        if marker == APP0 + 2 and head.startswith(b"ICC_PROFILE\0"):
            continue
        if marker == APP0 + 2 and head.startswith(b"MPF\0"):
            found.add("mpf")
        elif marker == APP0 + 13:
            found.add("iptc")
        else:
            found.add(f"app{marker - APP0}")
    end = layout.segments[-1].end
    if end < len(data) and data[end:].strip(b"\0"):  # zeros: padding, not data
        found.add("trailer")
    return found


def _png_removed(data: bytes, layout: Layout) -> set[str]:
    names = {b"tEXt": "text", b"zTXt": "text", b"iTXt": "text", b"tIME": "time"}
    found: set[str] = set()
    for chunk in layout.chunks:
        name = names.get(chunk.kind)
        if name == "text" and data.startswith(b"XML:com.adobe.xmp\0", chunk.start):
            name = "xmp"
        if name:
            found.add(name)
    return found
