"""Photo-like pictures for `imgpipe demo`, drawn with Pillow: a sky gradient, a sun, layered
hills, trees and houses, in sizes, orientations and formats as real uploads bring them.

Drawn from a seed, so the same seed gives the same bytes (and so the same image ids)."""

from __future__ import annotations

import io
import math
import random
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageDraw, ImageOps

CAMERAS = (
    ("Canon", "EOS R6"),
    ("NIKON CORPORATION", "NIKON Z 6_2"),
    ("SONY", "ILCE-7M4"),
    ("Apple", "iPhone 15"),
    ("Google", "Pixel 8"),
    ("FUJIFILM", "X-T5"),
)

# (width, height, weight): phone and camera photos, with some larger than the display size.
SIZES: tuple[tuple[int, int, float], ...] = (
    (1600, 1200, 5),
    (1200, 1600, 3),
    (1024, 768, 4),
    (2400, 1600, 2),
    (800, 600, 3),
    (640, 640, 2),
    (1920, 1080, 3),
)

# (format, weight): mostly JPEG, as in real traffic.
FORMATS: tuple[tuple[str, float], ...] = (
    ("jpeg", 12),
    ("png", 3),
    ("webp", 3),
    ("gif", 1),
    ("tiff", 1),
)

SKIES = (
    ((38, 92, 168), (188, 220, 245)),  # day
    ((246, 140, 72), (252, 218, 158)),  # sunset
    ((24, 36, 82), (118, 92, 158)),  # dusk
    ((104, 148, 190), (228, 236, 242)),  # haze
)


@dataclass(frozen=True, slots=True)
class Photo:
    """An encoded picture, as a client would send it."""

    data: bytes
    format: str
    width: int
    height: int
    content_type: str


def _size(rng: random.Random) -> tuple[int, int]:
    width, height, _ = rng.choices(SIZES, weights=[s[2] for s in SIZES])[0]
    return width, height


def _format(rng: random.Random) -> str:
    return rng.choices(FORMATS, weights=[f[1] for f in FORMATS])[0][0]


def _shade(color: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    r, g, b = (max(0, min(255, round(c * factor))) for c in color)
    return (r, g, b)


def draw(seed: int, width: int, height: int) -> Image.Image:
    """A landscape: gradient sky, sun, three ridges of hills, trees and a few houses."""
    rng = random.Random(seed)  # noqa: S311 - pictures, not secrets
    top, bottom = rng.choice(SKIES)
    # One column coloured and then widened: a full-size resize would cost 10x as much.
    column = Image.linear_gradient("L").resize((1, height), Image.Resampling.BILINEAR)
    sky = ImageOps.colorize(column, top, bottom).convert("RGB")
    image = sky.resize((width, height), Image.Resampling.NEAREST)
    pen = ImageDraw.Draw(image)

    radius = rng.randint(height // 16, height // 9)
    sun_x, sun_y = rng.randint(radius, width - radius), rng.randint(radius, height // 2)
    pen.ellipse(
        (sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius),
        fill=rng.choice([(255, 236, 170), (255, 250, 230), (255, 200, 120)]),
    )

    base_green = rng.choice([(62, 122, 64), (92, 130, 58), (70, 104, 84), (120, 110, 70)])
    for ridge in range(3):
        level = height * (0.55 + 0.13 * ridge)
        amplitude = height * rng.uniform(0.04, 0.10)
        waves = rng.uniform(1.0, 3.0)
        phase = rng.uniform(0, math.tau)
        points = [
            (x, level - amplitude * math.sin(phase + waves * math.tau * x / width))
            for x in range(0, width + 40, 40)
        ]
        color = _shade(base_green, 0.75 + 0.2 * ridge)
        pen.polygon([*points, (width, height), (0, height)], fill=color)

        if ridge == 2:
            for _ in range(rng.randint(3, 9)):
                tx = rng.randint(0, width)
                ty = round(level + rng.uniform(0, height * 0.15))
                size = rng.randint(height // 20, height // 9)
                pen.polygon(
                    [(tx, ty - size), (tx - size // 3, ty), (tx + size // 3, ty)],
                    fill=_shade(base_green, 0.45),
                )
                pen.rectangle(
                    (tx - size // 20, ty, tx + size // 20, ty + size // 6), fill=(90, 60, 40)
                )
            for _ in range(rng.randint(0, 3)):
                hx = rng.randint(0, width - 80)
                hy = round(level + rng.uniform(height * 0.02, height * 0.2))
                w = rng.randint(width // 18, width // 9)
                h = round(w * 0.7)
                wall = rng.choice([(232, 222, 204), (204, 120, 90), (240, 240, 236)])
                pen.rectangle((hx, hy - h, hx + w, hy), fill=wall)
                pen.polygon(
                    [
                        (hx - w // 10, hy - h),
                        (hx + w // 2, hy - h - w // 2),
                        (hx + w + w // 10, hy - h),
                    ],
                    fill=(120, 50, 40),
                )
                pen.rectangle(
                    (hx + w // 5, hy - h // 2, hx + w // 5 + w // 6, hy - h // 4),
                    fill=(250, 226, 140),
                )
    return image


def _exif(rng: random.Random, taken_at: datetime) -> bytes:
    make, model = rng.choice(CAMERAS)
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    exif.get_ifd(0x8769)[0x9003] = taken_at.strftime("%Y:%m:%d %H:%M:%S")
    return exif.tobytes()


def photo(seed: int, taken_at: datetime, *, fmt: str | None = None) -> Photo:
    """The picture for `seed`, encoded as a client would send it (JPEGs with camera EXIF)."""
    rng = random.Random(seed)  # noqa: S311 - pictures, not secrets
    width, height = _size(rng)
    chosen = fmt or _format(rng)
    image = draw(seed, width, height)
    if chosen in {"png", "gif", "tiff"}:
        # Graphics-like formats come smaller in practice.
        image = image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    if chosen == "jpeg":
        image.save(out, "JPEG", quality=94, exif=_exif(rng, taken_at))
    elif chosen == "png":
        image.save(out, "PNG", compress_level=1)
    elif chosen == "webp":
        image.save(out, "WEBP", quality=90, method=2)
    elif chosen == "gif":
        image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(out, "GIF")
    elif chosen == "tiff":
        image.save(out, "TIFF", compression="tiff_deflate")
    else:
        raise ValueError(f"no encoder for {chosen}")
    return Photo(out.getvalue(), chosen, image.width, image.height, f"image/{chosen}")


# --- bad inputs, as clients really send them ------------------------------------------------------


def truncated(data: bytes) -> bytes:
    """The first third of an encoded image: a cut-off transfer."""
    return data[: max(64, len(data) // 3)]


def oversized_png_header(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG that announces more pixels than any limit allows (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    b'<circle cx="32" cy="32" r="30" fill="teal"/></svg>'
)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
TEXT = b"Hello! Please find the photos attached.\n"
