"""The pipeline's pixels: orientation, colour management, bit depth, palettes, alpha, frames."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.config import RenditionSpec, Settings
from core.models import Rendition
from core.processing import process
from tests import images

JPEG_AND_WEBP = (
    RenditionSpec(name="display", longest_side=64, quality=95),
    RenditionSpec(name="web", longest_side=64, format="webp", quality=95),
    RenditionSpec(name="thumb", longest_side=16, quality=95),
)


def renditions(data: bytes, specs: tuple[RenditionSpec, ...] = JPEG_AND_WEBP) -> list[Image.Image]:
    return [decode(r) for r in process(data, Settings(renditions=specs).processing).renditions]


def decode(rendition: Rendition) -> Image.Image:
    image = Image.open(io.BytesIO(rendition.data))
    image.load()
    return image


def at(image: Image.Image, x: int, y: int) -> tuple[int, ...]:
    value = image.getpixel((x, y))
    assert value is not None
    return tuple(int(v) for v in value) if isinstance(value, tuple) else (int(value),)


def close(values: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return len(values) == len(expected) and all(
        abs(int(a) - int(b)) <= tolerance for a, b in zip(values, expected, strict=True)
    )


def quadrant_centres(size: tuple[int, int]) -> dict[str, tuple[int, int]]:
    width, height = size
    return {
        "top_left": (width // 4, height // 4),
        "top_right": (3 * width // 4, height // 4),
        "bottom_left": (width // 4, 3 * height // 4),
        "bottom_right": (3 * width // 4, 3 * height // 4),
    }


# --- EXIF orientation ------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_rendition_of_each_exif_orientation_shows_the_picture_upright(orientation: int) -> None:
    data = images.oriented_jpeg(orientation, width=120, height=80)
    result = process(data, Settings(renditions=JPEG_AND_WEBP).processing)
    assert (result.metadata.width, result.metadata.height) == (120, 80)
    for rendition in result.renditions:
        image = decode(rendition).convert("RGB")
        assert image.width > image.height  # landscape, as the viewer sees it
        for quadrant, point in quadrant_centres(image.size).items():
            assert close(at(image, *point), images.QUADRANTS[quadrant], 16), (
                rendition.name,
                quadrant,
            )


def test_orientation_is_applied_to_a_12mp_photo_decoded_at_reduced_scale() -> None:
    stored = images.stored_for_orientation(np.asarray(images.mosaic_image(4000, 3000)), 6)
    data = images.encode(
        Image.fromarray(stored), "JPEG", quality=90, exif=images.exif_block(orientation=6)
    )
    result = process(data, Settings().processing)
    display, thumb = result.renditions
    assert (display.width, display.height) == (2000, 1500)
    assert (thumb.width, thumb.height) == (256, 192)
    expected = images.mosaic_image(4000, 3000).resize((256, 192), Image.Resampling.LANCZOS)
    difference = np.abs(np.asarray(decode(thumb), float) - np.asarray(expected, float)).mean()
    assert difference < 6.0


# --- colour ----------------------------------------------------------------------------------


@pytest.mark.parametrize("colour", [(90, 160, 110), (200, 60, 40), (40, 80, 200), (128, 128, 128)])
def test_adobe_rgb_jpeg_is_converted_to_srgb(colour: tuple[int, int, int]) -> None:
    expected = images.adobe_rgb_to_srgb(colour)
    for image in renditions(images.adobe_rgb_jpeg(colour)):
        pixel = at(image.convert("RGB"), image.width // 2, image.height // 2)
        assert close(pixel, expected, 4), (pixel, expected)


def test_adobe_rgb_conversion_changes_saturated_colours() -> None:
    # Guards the test above against a reference that happens to equal the input.
    assert images.adobe_rgb_to_srgb((90, 160, 110))[0] < 30


def test_cmyk_jpeg_becomes_rgb() -> None:
    for colour, expected in [((255, 0, 0, 0), (0, 255, 255)), ((0, 255, 0, 0), (255, 0, 255))]:
        policy = Settings(renditions=JPEG_AND_WEBP).processing
        result = process(images.cmyk_jpeg(colour=colour), policy)
        assert result.metadata.mode == "CMYK"
        for rendition in result.renditions:
            image = decode(rendition).convert("RGB")
            assert close(at(image, image.width // 2, image.height // 2), expected, 10)


def test_16_bit_png_is_scaled_to_8_bits_not_clipped() -> None:
    result = process(
        images.png_16bit(left=0x2000, right=0xE000), Settings(renditions=JPEG_AND_WEBP).processing
    )
    assert result.metadata.mode.startswith("I")
    for rendition in result.renditions:
        image = decode(rendition).convert("L")
        assert close(at(image, image.width // 8, image.height // 2), (0x20,), 4)
        assert close(at(image, 7 * image.width // 8, image.height // 2), (0xE0,), 4)


# --- alpha -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "opaque"),
    [
        (images.png_rgba(), (220, 20, 20)),
        (images.png_la(), (90, 90, 90)),
        (images.png_palette_transparent(), (20, 180, 40)),
        (images.gif_transparent(), (20, 180, 40)),
        (images.png_colour_key("RGB"), (200, 10, 10)),
        (images.png_colour_key("L"), (90, 90, 90)),
    ],
    ids=["rgba_png", "la_png", "palette_png", "transparent_gif", "rgb_trns_png", "l_trns_png"],
)
def test_transparent_areas_are_white_in_jpeg_and_transparent_in_webp(
    data: bytes, opaque: tuple[int, int, int]
) -> None:
    result = process(data, Settings(renditions=JPEG_AND_WEBP).processing)
    assert result.metadata.has_alpha
    display, web, thumb = (decode(r) for r in result.renditions)
    for jpeg in (display, thumb):
        rgb = jpeg.convert("RGB")
        assert close(at(rgb, rgb.width // 8, rgb.height // 2), (255, 255, 255), 6)
        assert close(at(rgb, 7 * rgb.width // 8, rgb.height // 2), opaque, 12)
    rgba = web.convert("RGBA")
    assert web.mode == "RGBA"
    assert at(rgba, rgba.width // 8, rgba.height // 2)[3] == 0
    right = at(rgba, 7 * rgba.width // 8, rgba.height // 2)
    assert right[3] == 255
    assert close(right[:3], opaque, 12)


def test_alpha_survives_in_avif() -> None:
    specs = (RenditionSpec(name="a", longest_side=64, format="avif", quality=90),)
    (image,) = renditions(images.png_rgba(), specs)
    rgba = image.convert("RGBA")
    assert at(rgba, 4, 24)[3] < 10
    assert at(rgba, 60, 24)[3] > 245


def test_opaque_image_has_no_alpha() -> None:
    result = process(images.jpeg_photo(80, 60), Settings(renditions=JPEG_AND_WEBP).processing)
    assert not result.metadata.has_alpha
    assert decode(result.renditions[1]).mode == "RGB"


# --- frames and modes ------------------------------------------------------------------------


def test_animated_gif_renditions_show_the_first_frame() -> None:
    result = process(images.gif_animated(frames=3), Settings(renditions=JPEG_AND_WEBP).processing)
    assert result.metadata.frames == 3
    for rendition in result.renditions:
        image = decode(rendition).convert("RGB")
        assert close(at(image, image.width // 2, image.height // 2), (220, 30, 30), 16)


def test_progressive_jpeg_input_is_decoded_like_a_baseline_one() -> None:
    baseline = renditions(images.jpeg_photo(400, 300, quality=95))
    progressive = renditions(images.jpeg_photo(400, 300, quality=95, progressive=True))
    for a, b in zip(baseline, progressive, strict=True):
        assert a.size == b.size
        difference = np.abs(np.asarray(a, float) - np.asarray(b, float)).mean()
        assert difference < 1.5


@pytest.mark.parametrize("mode", ["L", "1", "RGB", "CMYK", "I;16", "LA", "RGBA", "P"])
def test_every_tiff_mode_becomes_8_bit_output(mode: str) -> None:
    photo = images.photo_at(64, 48)
    source = photo.convert("RGBA").convert(mode) if mode != "I;16" else photo.convert("I;16")
    result = process(images.encode(source, "TIFF"), Settings(renditions=JPEG_AND_WEBP).processing)
    display = decode(result.renditions[0])
    assert display.mode in ("L", "RGB")
    assert display.size == (64, 48)
    if mode not in ("1", "I;16"):
        reference = source.convert("RGBA").convert("RGB").convert(display.mode)
        difference = np.abs(np.asarray(display, float) - np.asarray(reference, float)).mean()
        assert difference < 8.0
