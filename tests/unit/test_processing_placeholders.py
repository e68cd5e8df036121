"""Placeholders: the ThumbHash decodes to the picture's average colour; the dominant colour."""

from __future__ import annotations

import base64
import math
import re

import numpy as np
import pytest
from PIL import Image

from core.config import Settings
from core.processing import RenditionSpec, process
from core.processing.placeholder import dominant_color, thumbhash
from tests import images


def decode_thumbhash(text: str) -> tuple[int, int, np.ndarray]:
    """Width, height and RGBA pixels (floats 0..1) of a ThumbHash, by the format's reference
    decoding (Evan Wallace's thumbHashToRGBA), written here independently of the encoder."""
    data = base64.b64decode(text)
    header24 = data[0] | data[1] << 8 | data[2] << 16
    header16 = data[3] | data[4] << 8
    l_dc = (header24 & 63) / 63
    p_dc = (header24 >> 6 & 63) / 31.5 - 1
    q_dc = (header24 >> 12 & 63) / 31.5 - 1
    l_scale = (header24 >> 18 & 31) / 31
    has_alpha = bool(header24 >> 23)
    p_scale = (header16 >> 3 & 63) / 63
    q_scale = (header16 >> 9 & 63) / 63
    landscape = bool(header16 >> 15)
    lx = max(3, (5 if has_alpha else 7) if landscape else header16 & 7)
    ly = max(3, header16 & 7 if landscape else (5 if has_alpha else 7))
    a_dc = (data[5] & 15) / 15 if has_alpha else 1.0
    a_scale = (data[5] >> 4) / 15 if has_alpha else 0.0
    start = 6 if has_alpha else 5
    index = 0

    def channel(nx: int, ny: int, scale: float) -> list[tuple[int, int, float]]:
        nonlocal index
        terms = []
        for cy in range(ny):
            cx = 0 if cy else 1
            while cx * ny < nx * (ny - cy):
                nibble = data[start + (index >> 1)] >> ((index & 1) << 2) & 15
                terms.append((cx, cy, (nibble / 7.5 - 1) * scale))
                index += 1
                cx += 1
        return terms

    l_ac = channel(lx, ly, l_scale)
    p_ac = channel(3, 3, p_scale * 1.25)  # the reference boosts saturation a little
    q_ac = channel(3, 3, q_scale * 1.25)
    a_ac = channel(5, 5, a_scale) if has_alpha else []

    # The reference decodes at 32 pixels on the longer side, from the terms' aspect ratio.
    ratio = lx / ly
    width = round(32 if ratio > 1 else 32 * ratio)
    height = round(32 / ratio if ratio > 1 else 32)
    pixels = np.zeros((height, width, 4))
    for y in range(height):
        for x in range(width):

            def at(terms: list[tuple[int, int, float]], x: int = x, y: int = y) -> float:
                return sum(
                    value
                    * math.cos(math.pi / width * (x + 0.5) * cx)
                    * math.cos(math.pi / height * (y + 0.5) * cy)
                    * 2
                    for cx, cy, value in terms
                )

            luma, p, q, a = l_dc + at(l_ac), p_dc + at(p_ac), q_dc + at(q_ac), a_dc + at(a_ac)
            blue = luma - 2 / 3 * p
            red = (3 * luma - blue + q) / 2
            green = red - q
            pixels[y, x] = [min(1.0, max(0.0, v)) for v in (red, green, blue, a)]
    return width, height, pixels


def mean_visible_colour(pixels: np.ndarray) -> np.ndarray:
    """The alpha-weighted average RGB (0..1) of RGBA pixels given as floats 0..1."""
    alpha = pixels[..., 3:4]
    return np.asarray((pixels[..., :3] * alpha).sum(axis=(0, 1)) / alpha.sum())


def rgba_floats(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGBA"), float) / 255


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket", "motorcycle_left"])
def test_thumbhash_of_a_photograph_decodes_to_its_average_colour(name: str) -> None:
    photo = images.photo_image(name)
    result = process(images.encode(photo, "JPEG", quality=92), Settings().processing)
    assert result.metadata.thumbhash is not None
    width, height, decoded = decode_thumbhash(result.metadata.thumbhash)
    expected = mean_visible_colour(rgba_floats(photo))
    # The DC terms carry 6 bits each: the decoded average is within a few levels of 255.
    assert np.abs(mean_visible_colour(decoded) - expected).max() < 6 / 255
    assert decoded[..., 3].min() == 1.0  # opaque
    # The placeholder keeps the picture's orientation, landscape or portrait.
    assert (width > height) == (photo.width > photo.height)


def test_thumbhash_of_a_transparent_image_decodes_to_its_visible_colour_and_alpha() -> None:
    pixels = np.zeros((48, 64, 4), dtype=np.uint8)
    pixels[:, 32:] = (30, 90, 200, 255)  # left half transparent
    source = images.encode(Image.fromarray(pixels), "PNG")
    # WebP keeps alpha, so the smallest rendition (the placeholder's source) has it too.
    specs = (
        RenditionSpec(name="display", longest_side=2048),
        RenditionSpec(name="thumb", longest_side=256, format="webp"),
    )
    result = process(source, Settings(renditions=specs).processing)
    assert result.metadata.thumbhash is not None
    _, _, decoded = decode_thumbhash(result.metadata.thumbhash)
    assert np.abs(mean_visible_colour(decoded) - np.array([30, 90, 200]) / 255).max() < 8 / 255
    left, right = decoded[:, : decoded.shape[1] // 4, 3], decoded[:, -decoded.shape[1] // 4 :, 3]
    assert left.mean() < 0.25 < 0.75 < right.mean()


def test_thumbhash_refuses_an_image_over_100_pixels_a_side() -> None:
    with pytest.raises(ValueError, match="100x100"):
        thumbhash(Image.new("RGB", (101, 10)))


def test_thumbhash_header_of_a_flat_image_is_the_reference_encoding() -> None:
    # A flat mid-grey 8x8: luma 128/255 (DC round(63 * 0.502) = 32), no colour difference (DC
    # 31.5 + 0, rounded half up: 32, for both), no variation (every scale 0), 7 luma terms a side.
    text = thumbhash(Image.new("RGB", (8, 8), (128, 128, 128)))
    data = base64.b64decode(text)
    header24 = 32 | 32 << 6 | 32 << 12
    header16 = 7
    assert data[:5] == bytes(
        [header24 & 255, header24 >> 8 & 255, header24 >> 16, header16 & 255, header16 >> 8]
    )
    # Decoded, it is flat: the colour of those quantised DC terms.
    luma, p, q = 32 / 63, 32 / 31.5 - 1, 32 / 31.5 - 1
    blue = luma - 2 / 3 * p
    red = (3 * luma - blue + q) / 2
    _, _, decoded = decode_thumbhash(text)
    assert np.abs(decoded[..., :3] - np.array([red, red - q, blue])).max() < 1e-9


@pytest.mark.parametrize(
    ("colour", "expected"),
    [((200, 30, 30), "#c81e1e"), ((10, 120, 250), "#0a78fa"), ((255, 255, 255), "#ffffff")],
)
def test_dominant_colour_is_the_colour_most_of_the_picture_has(
    colour: tuple[int, int, int], expected: str
) -> None:
    image = Image.new("RGB", (16, 12), colour)
    image.paste((0, 0, 0), (0, 0, 5, 12))  # a third of it black
    assert dominant_color(image) == expected


def test_dominant_colour_ignores_transparent_pixels_and_is_none_when_nothing_shows() -> None:
    image = Image.new("RGBA", (16, 12), (0, 0, 0, 0))
    image.paste((0, 160, 60, 255), (12, 0, 16, 12))  # a quarter shows
    assert dominant_color(image) == "#00a03c"
    assert dominant_color(Image.new("RGBA", (4, 4), (255, 0, 0, 0))) is None


def test_every_processed_image_has_a_placeholder_and_a_dominant_colour() -> None:
    for data in (
        images.in_format("PNG"),
        images.png_la(),
        images.gif_animated(),
        images.cmyk_jpeg(),
        images.png_16bit(),
    ):
        meta = process(data, Settings().processing).metadata
        assert meta.thumbhash is not None
        assert len(base64.b64decode(meta.thumbhash)) <= 25
        assert meta.dominant_color is not None
        assert re.fullmatch(r"#[0-9a-f]{6}", meta.dominant_color)


def test_dominant_colour_of_a_photograph_is_one_of_its_colours() -> None:
    photo = images.photo_at(256, 192, "coffee")
    meta = process(images.encode(photo, "PNG"), Settings().processing).metadata
    assert meta.dominant_color is not None
    colour = np.array([int(meta.dominant_color[i : i + 2], 16) for i in (1, 3, 5)])
    distances = np.abs(np.asarray(photo, int) - colour).sum(axis=2)
    assert (distances < 30).mean() > 0.05  # a colour a good part of the photograph has
