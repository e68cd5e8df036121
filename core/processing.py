"""The image pipeline: bytes in, renditions and metadata out. Pure: no I/O, no mutable globals."""

from __future__ import annotations

import hashlib
import importlib
import io
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

from PIL import ExifTags, Image, ImageCms, ImageFile, features

from core.config import RenditionSpec, Settings
from core.errors import ErrorCode, PermanentError
from core.models import ImageMetadata, ProcessedImage, Rendition

WHITE = (255, 255, 255)
LANCZOS = Image.Resampling.LANCZOS
# reduce() by an integer factor first while the LANCZOS pass that follows still shrinks by at
# least this much, which hides the box filter's softness (Pillow advises 2). Just under 2 so
# that 2000 -> 256 reduces by 4, a fast path, rather than by 3: half the time, and within half
# a grey level on average of a direct LANCZOS.
REDUCING_GAP = 1.9

# format -> (Pillow plugin module, ImageFile class). The plugin class is instantiated directly
# instead of going through Image.open, whose decompression-bomb check warns or raises against a
# process-wide limit: imgpipe checks its own configured limits first and so never needs it.
_PLUGINS: dict[str, tuple[str, str]] = {
    "jpeg": ("PIL.JpegImagePlugin", "JpegImageFile"),
    "png": ("PIL.PngImagePlugin", "PngImageFile"),
    "webp": ("PIL.WebPImagePlugin", "WebPImageFile"),
    "gif": ("PIL.GifImagePlugin", "GifImageFile"),
    "tiff": ("PIL.TiffImagePlugin", "TiffImageFile"),
    "bmp": ("PIL.BmpImagePlugin", "BmpImageFile"),
    "avif": ("PIL.AvifImagePlugin", "AvifImageFile"),
    "heif": ("pillow_heif.as_plugin", "HeifImageFile"),
}

_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_CONTAINER_BRANDS = {b"mif1", b"msf1", b"miaf"}

# EXIF orientation -> the transpose that shows the image upright.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = {5, 6, 7, 8}

_TAG_MAKE = 0x010F
_TAG_MODEL = 0x0110
_TAG_DATETIME = 0x0132
_TAG_ORIENTATION = 0x0112
_TAG_DATETIME_ORIGINAL = 0x9003


# ---------------------------------------------------------------------------------------------
# Sniffing


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


# ---------------------------------------------------------------------------------------------
# Opening, with the limits checked before any pixel is decoded


@contextmanager
def _decoding(what: str) -> Iterator[None]:
    """Turn whatever a decoder raises on corrupt bytes into one refusal.

    Pillow's plugins raise OSError, SyntaxError, ValueError, EOFError, struct.error,
    IndexError, KeyError, ZeroDivisionError, MemoryError ... on malformed input: the caller must
    see a PermanentError, never any of those.
    """
    try:
        yield
    except PermanentError:
        raise
    except Image.DecompressionBombError as exc:
        raise PermanentError(ErrorCode.TOO_MANY_PIXELS, str(exc)) from None
    except Exception as exc:
        raise PermanentError(ErrorCode.UNDECODABLE, f"{what}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@cache
def _plugin(fmt: str) -> type[ImageFile.ImageFile] | None:
    """The decoder class of a format, or None where this installation cannot decode it."""
    module_name, class_name = _PLUGINS[fmt]
    if fmt == "avif" and not features.check_module("avif"):
        return None
    if fmt == "webp" and not features.check_module("webp"):
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    plugin: type[ImageFile.ImageFile] = getattr(module, class_name)
    return plugin


def _gif_canvas(data: bytes) -> tuple[int, int]:
    """The size Pillow will give a GIF: its screen, grown to hold the first frame's extent."""
    width, height = int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    pos = 13
    if len(data) > 10 and data[10] & 0x80:
        pos += 3 << ((data[10] & 7) + 1)
    while pos < len(data):
        marker = data[pos]
        if marker == 0x2C:  # image descriptor
            frame = data[pos + 1 : pos + 9]
            if len(frame) < 8:
                break
            x0, y0, w, h = (int.from_bytes(frame[i : i + 2], "little") for i in (0, 2, 4, 6))
            return max(width, x0 + w), max(height, y0 + h)
        if marker != 0x21:  # not an extension either: Pillow will complain on its own
            break
        pos += 2
        while pos < len(data) and data[pos]:
            pos += data[pos] + 1
        pos += 1
    return width, height


def _pixel_limit(settings: Settings) -> int:
    # Above Pillow's own bomb threshold its plugins warn (GIF frames, TIFF tiles) whatever we
    # allowed, so that threshold caps the configured one.
    ceiling = Image.MAX_IMAGE_PIXELS
    return settings.max_pixels if ceiling is None else min(settings.max_pixels, ceiling)


def _check_size(width: int, height: int, settings: Settings) -> None:
    if width < 1 or height < 1:
        raise PermanentError(ErrorCode.DIMENSIONS_OUT_OF_RANGE, f"{width}x{height} has no pixels")
    limit = _pixel_limit(settings)
    if width * height > limit:
        raise PermanentError(
            ErrorCode.TOO_MANY_PIXELS,
            f"{width}x{height} is {width * height} pixels, more than the limit of {limit}",
        )
    if max(width, height) > settings.max_side:
        raise PermanentError(
            ErrorCode.DIMENSIONS_OUT_OF_RANGE,
            f"{width}x{height} has a side longer than {settings.max_side}",
        )


def _open(data: bytes, fmt: str, settings: Settings) -> tuple[ImageFile.ImageFile, int]:
    """The image, header read and limits checked, pixels not yet decoded; and its frame count."""
    plugin = _plugin(fmt)
    if plugin is None:
        raise PermanentError(
            ErrorCode.UNSUPPORTED_FORMAT, f"{fmt} images cannot be decoded by this installation"
        )
    if fmt == "gif" and len(data) >= 13:
        _check_size(*_gif_canvas(data), settings)
    with _decoding(f"{fmt} header"):
        image = plugin(io.BytesIO(data))
    _check_size(image.width, image.height, settings)
    with _decoding(f"{fmt} frames"):
        frames = int(getattr(image, "n_frames", 1))
    if frames > settings.max_frames:
        raise PermanentError(
            ErrorCode.TOO_MANY_FRAMES,
            f"{frames} frames, more than the limit of {settings.max_frames}",
        )
    return image, frames


# ---------------------------------------------------------------------------------------------
# Size rule


def fit_size(width: int, height: int, longest: int) -> tuple[int, int]:
    """The size with `longest` as its longest side and the same aspect ratio (never upscaled)."""
    side = max(width, height)
    if side <= longest:
        return width, height
    scale = longest / side
    if width >= height:
        return longest, max(1, round(height * scale))
    return max(1, round(width * scale)), longest


def in_window(side: int, target: int, tolerance: float) -> bool:
    """Whether a longest side satisfies a rendition of `target` from a larger source."""
    return math.ceil((1 - tolerance) * target - 1e-9) <= side <= target


def jpeg_scale(width: int, height: int, target: int, tolerance: float) -> int:
    """The smallest JPEG DCT scale (1/8, 1/4, 1/2 or 1) whose decode still serves `target`.

    At that scale the decode either lands inside the size window (no resample at all) or is
    the smallest decode that still covers the target, to be resampled down once.
    """
    for scale in (8, 4, 2):
        if scale > min(width, height):
            continue
        side = max(-(-width // scale), -(-height // scale))
        if side >= target or in_window(side, target, tolerance):
            return scale
    return 1


@dataclass(frozen=True, slots=True)
class _Made:
    """An image the pipeline holds: the decoded source or a rendition, and whether upright."""

    image: Image.Image
    upright: bool

    @property
    def side(self) -> int:
        return max(self.image.size)


def _resample(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.size == size:
        return image
    return image.resize(size, LANCZOS, reducing_gap=REDUCING_GAP)


def _rendition_image(base: _Made, target: int, orientation: int) -> _Made:
    """The upright image of a rendition of longest side `target`, made from `base`.

    `base` is the decoded source or the rendition made just before: either larger than the
    target (resampled down once), or already inside the size window, or the whole source.
    """
    image = base.image
    if base.side > target:
        image = _resample(image, fit_size(*image.size, target))
    if not base.upright:
        image = _upright(image, orientation)
    return _Made(image, upright=True)


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    method = _ORIENTATION.get(orientation)
    return image.transpose(method) if method is not None else image


# ---------------------------------------------------------------------------------------------
# Colour: everything becomes 8-bit sRGB, L, RGB, LA or RGBA


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


_PROFILE_SPACES = {"RGB ": ("RGB",), "CMYK": ("CMYK",), "GRAY": ("L",)}


def _icc_profile(icc: bytes | None) -> tuple[ImageCms.ImageCmsProfile | None, str | None]:
    if not icc:
        return None, None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(profile).strip() or None
    except Exception:  # a broken profile is ignored, as browsers do, not a reason to refuse
        return None, None
    return profile, description


def _to_srgb(
    image: Image.Image, profile: ImageCms.ImageCmsProfile | None, description: str | None
) -> Image.Image:
    """8-bit sRGB (or grey), alpha kept; ICC profiles honoured, 16-bit scaled, palettes expanded."""
    mode = image.mode
    if mode in {"P", "PA"}:
        has_alpha = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif mode in ("RGB", "L") and "transparency" in image.info:
        # One colour marked transparent (PNG tRNS): a real alpha channel from here on.
        image = image.convert("RGBA" if mode == "RGB" else "LA")
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        image = _sixteen_bit_to_l(image)
    elif mode == "F":
        image = image.convert("L")
    elif mode == "La":
        image = image.convert("LA")
    elif mode in ("RGBa", "RGBA;16B"):
        image = image.convert("RGBA")
    elif mode in ("RGBX", "YCbCr", "HSV", "RGB;16B"):
        image = image.convert("RGB")
    elif mode == "LAB":
        lab = ImageCms.createProfile("LAB")
        converted = ImageCms.profileToProfile(image, lab, _srgb_profile(), outputMode="RGB")
        assert converted is not None
        image, profile = converted, None
    if profile is not None and not (description or "").lower().startswith("srgb"):
        converted = _apply_profile(image, profile)
        if converted is not None:
            return converted
    if image.mode == "CMYK":
        return image.convert("RGB")
    if image.mode not in ("L", "LA", "RGB", "RGBA"):
        return image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return image


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    # Pillow's own conversion clips at 255; 16-bit grey must be scaled down instead.
    wide = image if image.mode == "I" else image.convert("I")
    lo, hi = cast(tuple[float, float], wide.getextrema())
    if image.mode == "I" and 0 <= lo <= hi <= 255:
        return wide.convert("L")
    return wide.point(lambda value: value / 257).convert("L")


def _apply_profile(image: Image.Image, profile: ImageCms.ImageCmsProfile) -> Image.Image | None:
    """The image converted from its embedded profile to sRGB, or None if they do not match."""
    space = str(getattr(profile.profile, "xcolor_space", "")).ljust(4)[:4]
    base_modes = _PROFILE_SPACES.get(space, ())
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    base = image.convert(image.mode[:-1]) if alpha is not None else image
    if base.mode not in base_modes:
        return None
    try:
        transform = ImageCms.buildTransform(
            profile,
            _srgb_profile(),
            base.mode,
            "RGB",
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
        )
        converted = ImageCms.applyTransform(base, transform)
    except Exception:
        return None
    assert converted is not None
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    )


def _flatten(image: Image.Image) -> Image.Image:
    """Alpha composited onto white: what a format without alpha shows."""
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, WHITE)
        background.paste(image, mask=image.getchannel("A"))
        return background
    if image.mode == "LA":
        background = Image.new("L", image.size, 255)
        background.paste(image.getchannel("L"), mask=image.getchannel("A"))
        return background
    return image


# ---------------------------------------------------------------------------------------------
# Metadata


def perceptual_hash(image: Image.Image) -> str:
    """64-bit difference hash (dHash) as 16 hex digits: near-identical pictures differ in few bits.

    Each bit says whether a cell of a 9x8 grey thumbnail is brighter than its right neighbour.
    """
    grey = _flatten(image).convert("L").resize((9, 8), Image.Resampling.BOX)
    cells = grey.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            left, right = cells[row * 9 + col], cells[row * 9 + col + 1]
            bits = (bits << 1) | (left > right)
    return f"{bits:016x}"


@dataclass(frozen=True, slots=True)
class _Exif:
    orientation: int = 1
    make: str | None = None
    model: str | None = None
    taken_at: datetime | None = None
    has_gps: bool = False


def _read_exif(image: Image.Image) -> _Exif:
    """The EXIF fields imgpipe keeps. Malformed EXIF is ignored, never a reason to refuse."""
    try:
        exif = image.getexif()
        if not exif:
            return _Exif()
        orientation = exif.get(_TAG_ORIENTATION, 1)
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo) if ExifTags.IFD.GPSInfo in exif else {}
        taken = _exif_time(sub.get(_TAG_DATETIME_ORIGINAL)) or _exif_time(exif.get(_TAG_DATETIME))
        return _Exif(
            orientation=orientation if isinstance(orientation, int) else 1,
            make=_exif_text(exif.get(_TAG_MAKE)),
            model=_exif_text(exif.get(_TAG_MODEL)),
            taken_at=taken,
            has_gps=bool(gps),
        )
    except Exception:
        return _Exif()


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


# ---------------------------------------------------------------------------------------------
# Encoding


def _encode(image: Image.Image, spec: RenditionSpec) -> bytes:
    out = io.BytesIO()
    if spec.format == "jpeg":
        image = _flatten(image)
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


# ---------------------------------------------------------------------------------------------
# The pipeline


def process(data: bytes, settings: Settings) -> ProcessedImage:
    """Every rendition of `settings.renditions` (in that order) and the source's metadata.

    Raises PermanentError for anything that is not an acceptable image; nothing else.
    """
    started = time.perf_counter()
    if not data:
        raise PermanentError(ErrorCode.EMPTY, "the image has no bytes")
    if len(data) > settings.max_bytes:
        raise PermanentError(
            ErrorCode.TOO_LARGE, f"{len(data)} bytes, more than the limit of {settings.max_bytes}"
        )
    fmt = sniff_format(data)
    specs = settings.renditions
    decoded, source = _decode(data, fmt, settings)
    if all(spec.format == "jpeg" for spec in specs):
        decoded = _flatten(decoded)  # resample three channels, not four, when all are JPEG
    orientation = source.exif.orientation

    # Largest first, each from the one made before it (the smallest larger image there is),
    # encoded at once: only one decoded-size image is alive at a time, which bounds the peak
    # memory to about two of them.
    current = _Made(decoded, upright=orientation == 1)
    del decoded
    made: dict[str, Rendition] = {}
    for spec in sorted(specs, key=lambda s: s.longest_side, reverse=True):
        current = _rendition_image(current, spec.longest_side, orientation)
        made[spec.name] = _rendition(spec, current.image)

    exif = source.exif
    metadata = ImageMetadata(
        sha256=hashlib.sha256(data).hexdigest(),
        phash=perceptual_hash(current.image),
        format=fmt,
        mode=source.mode,
        width=source.height if orientation in _SWAPS_AXES else source.width,
        height=source.width if orientation in _SWAPS_AXES else source.height,
        frames=source.frames,
        has_alpha=source.has_alpha,
        bytes_in=len(data),
        camera_make=exif.make,
        camera_model=exif.model,
        taken_at=exif.taken_at,
        has_gps=exif.has_gps,
        icc_profile=source.icc_profile,
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
    exif: _Exif
    icc_profile: str | None


def _decode(data: bytes, fmt: str, settings: Settings) -> tuple[Image.Image, _Source]:
    """8-bit sRGB pixels, not yet upright, at the smallest size that serves the renditions."""
    image, frames = _open(data, fmt, settings)
    width, height = image.size
    mode = image.mode
    has_alpha = _has_alpha(image)
    with _decoding(f"{fmt} data"):
        if fmt == "jpeg":
            largest = max(spec.longest_side for spec in settings.renditions)
            scale = jpeg_scale(width, height, largest, settings.size_tolerance)
            if scale > 1:
                image.draft("RGB", (width // scale, height // scale))
        image.load()
        exif = _read_exif(image)
        profile, icc_name = _icc_profile(image.info.get("icc_profile"))
        decoded = _to_srgb(image, profile, icc_name)
    if exif.orientation not in _ORIENTATION:
        exif = replace(exif, orientation=1)
    source = _Source(width, height, mode, has_alpha, frames, exif, icc_name)
    return decoded, source


def _rendition(spec: RenditionSpec, image: Image.Image) -> Rendition:
    return Rendition(
        name=spec.name,
        width=image.width,
        height=image.height,
        format=spec.format,
        content_type=spec.content_type,
        extension=spec.extension,
        data=_encode(image, spec),
    )
