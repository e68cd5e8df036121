"""Test images, made on the fly: real photographs from scikit-image's data and crafted oddities.

Every function returns encoded bytes (what an upload or a Kafka record carries) unless its name
says `image`. Shared by the pipeline, API and stream tests:

    from tests import images
    data = images.jpeg_photo(4000, 3000)
    data = images.png_rgba(64, 48)
"""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# Real photographs shipped inside the scikit-image wheel (no download at test time).
PHOTOS = ("astronaut", "coffee", "chelsea", "motorcycle_left", "hubble_deep_field", "rocket")
CAMERA_JPEG = "rocket"  # a JPEG as a camera wrote it, read as a file, not re-encoded

TEXT = b"Hello, this is not an image.\nJust some text.\n"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
PDF_HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
HTML = b"<!DOCTYPE html><html><body>no</body></html>"


def photo_path(name: str) -> Path:
    """The file of a bundled photograph (`name` from PHOTOS)."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    for suffix in (".png", ".jpg"):
        path = folder / f"{name}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(f"no photograph {name!r} in {folder}")


@cache
def _photo_pixels(name: str) -> bytes:
    return photo_path(name).read_bytes()


@cache
def _photo_rgb(name: str) -> Image.Image:
    # Decoded once per session: the stream tests build hundreds of images from these.
    with Image.open(io.BytesIO(_photo_pixels(name))) as image:
        return image.convert("RGB")


def photo_image(name: str = "coffee") -> Image.Image:
    """A real photograph, decoded to RGB (a copy: callers may change it)."""
    return _photo_rgb(name).copy()


def photo_bytes(name: str = CAMERA_JPEG) -> bytes:
    """A photograph's file exactly as shipped."""
    return _photo_pixels(name)


def mosaic_image(width: int, height: int, *, seed: int = 0) -> Image.Image:
    """A `width` x `height` composite of real photographs, tiled at their native resolution.

    Large photos (12 MP and more) for the size rule and the benchmark; `seed` changes the
    order and offsets of the tiles, so different seeds give different pictures.
    """
    tiles = [_photo_rgb(name) for name in PHOTOS]  # only read: pasted and transposed copies
    order = [tiles[(i + seed) % len(tiles)] for i in range(len(tiles))]
    canvas = Image.new("RGB", (width, height))
    y, row, index = -((seed * 37) % 97), 0, 0
    while y < height:
        x, row_height = -((seed * 53 + row * 131) % 211), 0
        while x < width:
            tile = order[index % len(order)]
            if (index + seed) % 3 == 1:
                tile = tile.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            canvas.paste(tile, (x, y))
            x += tile.width
            row_height = max(row_height, tile.height)
            index += 1
        y += row_height
        row += 1
    return canvas


def photo_at(width: int, height: int, name: str = "coffee") -> Image.Image:
    """A photograph resized to exactly `width` x `height` (small sizes), or a mosaic (large)."""
    if width * height > 1_000_000:
        return mosaic_image(width, height)
    return photo_image(name).resize((width, height), Image.Resampling.LANCZOS)


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    """An image saved in a Pillow format ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "AVIF")."""
    out = io.BytesIO()
    if fmt.upper() == "HEIF":
        import pillow_heif

        pillow_heif.from_pillow(image).save(out, **options)
    else:
        image.save(out, fmt, **options)
    return out.getvalue()


def exif_block(
    *,
    orientation: int | None = None,
    make: str | None = None,
    model: str | None = None,
    taken_at: str | None = None,
    gps: bool = False,
) -> bytes:
    """EXIF bytes with the given fields (taken_at as "YYYY:MM:DD HH:MM:SS")."""
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if make is not None:
        exif[0x010F] = make
    if model is not None:
        exif[0x0110] = model
    if taken_at is not None:
        exif.get_ifd(0x8769)[0x9003] = taken_at
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)})
    return exif.tobytes()


def jpeg_photo(
    width: int,
    height: int,
    *,
    quality: int = 90,
    progressive: bool = False,
    name: str = "coffee",
    **exif: Any,
) -> bytes:
    """A JPEG of a real photograph at `width` x `height`; keyword arguments go to exif_block."""
    options: dict[str, Any] = {"quality": quality, "progressive": progressive}
    if exif:
        options["exif"] = exif_block(**exif)
    return encode(photo_at(width, height, name), "JPEG", **options)


def mosaic_jpeg(
    width: int = 4000, height: int = 3000, *, seed: int = 0, quality: int = 90
) -> bytes:
    """A large JPEG photo composite, e.g. 12 MP for the size rule and the benchmark."""
    return encode(mosaic_image(width, height, seed=seed), "JPEG", quality=quality)


# --- orientation -----------------------------------------------------------------------------

QUADRANTS = {
    "top_left": (230, 30, 30),
    "top_right": (30, 200, 30),
    "bottom_left": (30, 30, 230),
    "bottom_right": (240, 240, 240),
}


def upright_marker(width: int = 120, height: int = 80) -> np.ndarray:
    """The picture a viewer must see: four flat colour quadrants, as a height x width x 3 array."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    h2, w2 = height // 2, width // 2
    pixels[:h2, :w2] = QUADRANTS["top_left"]
    pixels[:h2, w2:] = QUADRANTS["top_right"]
    pixels[h2:, :w2] = QUADRANTS["bottom_left"]
    pixels[h2:, w2:] = QUADRANTS["bottom_right"]
    return pixels


def stored_for_orientation(upright: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores so that EXIF `orientation` displays `upright`.

    Derived from the EXIF definition of where the stored 0th row and 0th column belong:
    1 top/left, 2 top/right, 3 bottom/right, 4 bottom/left, 5 left/top, 6 right/top,
    7 right/bottom, 8 left/bottom.
    """
    stored = {
        1: lambda d: d,
        2: lambda d: d[:, ::-1],
        3: lambda d: d[::-1, ::-1],
        4: lambda d: d[::-1, :],
        5: lambda d: d.transpose(1, 0, 2),
        6: lambda d: np.rot90(d, 1),
        7: lambda d: d[::-1, ::-1].transpose(1, 0, 2),
        8: lambda d: np.rot90(d, -1),
    }[orientation](upright)
    return np.ascontiguousarray(stored)


def oriented_jpeg(orientation: int, width: int = 120, height: int = 80) -> bytes:
    """A JPEG whose pixels are stored for `orientation`; shown upright it is upright_marker()."""
    stored = stored_for_orientation(upright_marker(width, height), orientation)
    return encode(
        Image.fromarray(stored),
        "JPEG",
        quality=95,
        subsampling=0,
        exif=exif_block(orientation=orientation),
    )


# --- colour and alpha ------------------------------------------------------------------------


def png_rgba(width: int = 64, height: int = 48) -> bytes:
    """RGBA PNG: left half fully transparent (black underneath), right half opaque red."""
    pixels = np.zeros((height, width, 4), dtype=np.uint8)
    pixels[:, width // 2 :] = (220, 20, 20, 255)
    return encode(Image.fromarray(pixels), "PNG")


def png_la(width: int = 64, height: int = 48) -> bytes:
    """Grey + alpha PNG: left half transparent (black underneath), right half opaque grey 90."""
    pixels = np.zeros((height, width, 2), dtype=np.uint8)
    pixels[:, width // 2 :] = (90, 255)
    return encode(Image.fromarray(pixels), "PNG")


def png_colour_key(mode: str = "RGB", width: int = 64, height: int = 48) -> bytes:
    """RGB or L PNG whose black is marked transparent (tRNS): left half black, right opaque."""
    key: int | tuple[int, int, int] = (0, 0, 0) if mode == "RGB" else 0
    opaque: int | tuple[int, int, int] = (200, 10, 10) if mode == "RGB" else 90
    image = Image.new(mode, (width, height), key)
    image.paste(opaque, (width // 2, 0, width, height))
    return encode(image, "PNG", transparency=key)


def palette_image_with_transparency(width: int = 64, height: int = 48) -> Image.Image:
    """P image: index 0 transparent (black), index 1 opaque green; left half 0, right half 1."""
    image = Image.new("P", (width, height), 0)
    image.putpalette([0, 0, 0, 20, 180, 40] + [0] * (256 * 3 - 6))
    image.paste(1, (width // 2, 0, width, height))
    image.info["transparency"] = 0
    return image


def png_palette_transparent(width: int = 64, height: int = 48) -> bytes:
    return encode(palette_image_with_transparency(width, height), "PNG", transparency=0)


def gif_transparent(width: int = 64, height: int = 48) -> bytes:
    return encode(palette_image_with_transparency(width, height), "GIF", transparency=0)


def png_16bit(
    width: int = 64, height: int = 48, *, left: int = 0x2000, right: int = 0xE000
) -> bytes:
    """16-bit grey PNG, left half `left`, right half `right` (of 65535)."""
    pixels = np.full((height, width), left, dtype=np.uint16)
    pixels[:, width // 2 :] = right
    return encode(Image.fromarray(pixels), "PNG")


def cmyk_jpeg(width: int = 64, height: int = 48, colour: tuple[int, ...] = (255, 0, 0, 0)) -> bytes:
    """A CMYK JPEG of one ink colour (default pure cyan)."""
    return encode(Image.new("CMYK", (width, height), colour), "JPEG", quality=95)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(x: float, y: float, z: float) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + _s15(x) + _s15(y) + _s15(z)


def _desc_tag(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\x00"
    return (
        b"desc\x00\x00\x00\x00"
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + b"\x00" * 8  # no Unicode description
        + b"\x00" * 3  # no ScriptCode description
        + b"\x00" * 67
    )


def rgb_matrix_profile(
    description: str,
    red: tuple[float, float, float],
    green: tuple[float, float, float],
    blue: tuple[float, float, float],
    gamma: float,
) -> bytes:
    """An ICC v2 display profile (matrix + gamma) from D50-adapted primaries."""
    d50 = (0.9642, 1.0, 0.8249)
    curve = b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(gamma * 256)) + b"\x00\x00"
    tags = [
        (b"desc", _desc_tag(description)),
        (b"cprt", b"text\x00\x00\x00\x00No copyright, test data\x00"),
        (b"wtpt", _xyz_tag(*d50)),
        (b"rXYZ", _xyz_tag(*red)),
        (b"gXYZ", _xyz_tag(*green)),
        (b"bXYZ", _xyz_tag(*blue)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        padded = data + b"\x00" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"\x00" * 4
        + bytes([2, 0x10, 0, 0])
        + b"mntrRGB XYZ "
        + b"\x00" * 12
        + b"acsp"
        + b"\x00" * 24
        + struct.pack(">I", 0)
        + _s15(d50[0])
        + _s15(d50[1])
        + _s15(d50[2])
        + b"\x00" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


ADOBE_RGB_GAMMA = 563 / 256


def adobe_rgb_profile() -> bytes:
    """An Adobe RGB (1998)-compatible ICC profile (its published D50-adapted colorants)."""
    return rgb_matrix_profile(
        "Adobe RGB (1998) compatible",
        (0.60974, 0.31111, 0.01947),
        (0.20528, 0.62567, 0.06087),
        (0.14919, 0.06322, 0.74457),
        ADOBE_RGB_GAMMA,
    )


def adobe_rgb_jpeg(colour: tuple[int, int, int], width: int = 64, height: int = 48) -> bytes:
    """A flat JPEG whose pixel values `colour` are Adobe RGB, with the profile embedded."""
    return encode(
        Image.new("RGB", (width, height), colour),
        "JPEG",
        quality=98,
        subsampling=0,
        icc_profile=adobe_rgb_profile(),
    )


def adobe_rgb_to_srgb(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """Reference colorimetry, independent of any colour engine: Adobe RGB -> XYZ (D65) -> sRGB."""
    red, green, blue = (int(v) for v in adobe_rgb_array_to_srgb(np.array(colour, dtype=np.uint8)))
    return red, green, blue


def adobe_rgb_array_to_srgb(pixels: np.ndarray) -> np.ndarray:
    """adobe_rgb_to_srgb over an array whose last axis is RGB (uint8 in, uint8 out)."""
    to_xyz = np.array(
        [
            [0.5767309, 0.1855540, 0.1881852],
            [0.2973769, 0.6273491, 0.0752741],
            [0.0270343, 0.0706872, 0.9911085],
        ]
    )
    to_srgb = np.array(
        [
            [3.2404542, -1.5371385, -0.4985314],
            [-0.9692660, 1.8760108, 0.0415560],
            [0.0556434, -0.2040259, 1.0572252],
        ]
    )
    linear = (pixels.astype(float) / 255.0) ** ADOBE_RGB_GAMMA
    srgb_linear = np.clip(linear @ (to_srgb @ to_xyz).T, 0.0, 1.0)
    encoded = np.where(
        srgb_linear <= 0.0031308,
        12.92 * srgb_linear,
        1.055 * srgb_linear ** (1 / 2.4) - 0.055,
    )
    result: np.ndarray = np.round(encoded * 255).astype(np.uint8)
    return result


# --- several frames, other formats -----------------------------------------------------------

FRAME_COLOURS = ((220, 30, 30), (30, 200, 30), (30, 30, 220), (240, 240, 40))


def gif_animated(frames: int = 3, width: int = 40, height: int = 30) -> bytes:
    """An animated GIF whose frame i is flat FRAME_COLOURS[i % 4]; frame 0 is red."""
    images = [
        Image.new("RGB", (width, height), FRAME_COLOURS[i % len(FRAME_COLOURS)]).convert("P")
        for i in range(frames)
    ]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=100)


def in_format(fmt: str, width: int = 96, height: int = 64, *, name: str = "chelsea") -> bytes:
    """A real photograph encoded as `fmt` (JPEG, PNG, WEBP, GIF, TIFF, BMP, AVIF, HEIF)."""
    image = photo_at(width, height, name)
    options: dict[str, Any] = {}
    if fmt.upper() in ("JPEG", "WEBP", "AVIF", "HEIF"):
        options["quality"] = 90
    return encode(image, fmt, **options)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def png_header_declaring(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` RGB but carries almost no pixel data (a bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def gif_frame_beyond_screen(screen: int = 10, frame: int = 20_000) -> bytes:
    """A GIF with a tiny logical screen whose first frame claims `frame` x `frame` pixels."""
    header = b"GIF89a" + struct.pack("<HHBBB", screen, screen, 0x80, 0, 0) + b"\x00" * 6
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, frame, frame, 0)
    data = b"\x02\x02\x44\x01\x00"  # a minimal LZW stream
    return header + descriptor + data + b";"


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first `keep` fraction of `data`, as an interrupted upload leaves it."""
    return data[: max(1, int(len(data) * keep))]
