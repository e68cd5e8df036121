"""Opening an input: its decoder, its header read and the limits checked before any pixel."""

from __future__ import annotations

import importlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import cache

from PIL import Image, ImageFile, features

from core.errors import ErrorCode, PermanentError
from core.limits import Limits, refuse_if_out_of_range, refuse_if_too_many_frames

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


@contextmanager
def decoding(what: str) -> Iterator[None]:
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
def plugin(fmt: str) -> type[ImageFile.ImageFile] | None:
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


def _pillow_capped(limits: Limits) -> Limits:
    # Above Pillow's own bomb threshold its plugins warn (GIF frames, TIFF tiles) whatever we
    # allowed, so that threshold caps the configured one.
    ceiling = Image.MAX_IMAGE_PIXELS
    if ceiling is None or limits.max_pixels <= ceiling:
        return limits
    return replace(limits, max_pixels=ceiling)


def open_image(data: bytes, fmt: str, limits: Limits) -> tuple[ImageFile.ImageFile, int]:
    """The image, header read and limits checked, pixels not yet decoded; and its frame count."""
    decoder = plugin(fmt)
    if decoder is None:
        raise PermanentError(
            ErrorCode.UNSUPPORTED_FORMAT, f"{fmt} images cannot be decoded by this installation"
        )
    limits = _pillow_capped(limits)
    if fmt == "gif" and len(data) >= 13:
        refuse_if_out_of_range(*_gif_canvas(data), limits)
    with decoding(f"{fmt} header"):
        image = decoder(io.BytesIO(data))
    refuse_if_out_of_range(image.width, image.height, limits)
    with decoding(f"{fmt} frames"):
        frames = int(getattr(image, "n_frames", 1))
    refuse_if_too_many_frames(frames, limits)
    return image, frames
