"""What the pipeline reads of a source's EXIF: orientation, camera, time taken, GPS presence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PIL import ExifTags, Image

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
