"""Real odd files (tests/data/images, made by ImageMagick, ExifTool, jpegtran and Pillow): each
quirk that uploads bring is handled, one test a file."""

from __future__ import annotations

import hashlib
import io
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from core.config import Settings
from core.models import ProcessedImage
from core.processing import RenditionSpec, process
from tests import images

FOLDER = Path(__file__).parents[1] / "data" / "images"
# A JPEG and a WebP (which keeps alpha) of every file, at its own size.
JPEG_AND_WEBP = (
    RenditionSpec(name="jpeg", longest_side=2048, quality=95),
    RenditionSpec(name="webp", longest_side=2048, format="webp", quality=95),
)


def data(name: str) -> bytes:
    return (FOLDER / name).read_bytes()


def run(name: str, **settings: object) -> ProcessedImage:
    policy = Settings(renditions=JPEG_AND_WEBP, **settings).processing  # type: ignore[arg-type]
    return process(data(name), policy)


def pixels(result: ProcessedImage, index: int, mode: str = "RGB") -> np.ndarray:
    with Image.open(io.BytesIO(result.renditions[index].data)) as image:
        return np.asarray(image.convert(mode), float)


@cache
def astronaut() -> np.ndarray:
    """The picture the astronaut files were made of."""
    photo = images.photo_image("astronaut").resize((96, 64), Image.Resampling.LANCZOS)
    return np.asarray(photo, float)


def test_the_folder_stays_small() -> None:
    assert sum(path.stat().st_size for path in FOLDER.iterdir()) < 200_000


def test_adobe_cmyk_jpeg_is_shown_in_its_colours_not_inverted() -> None:
    result = run("cmyk-adobe.jpg")
    assert result.metadata.mode == "CMYK"
    shown = pixels(result, 0)
    assert np.abs(shown - astronaut()).mean() < 10
    assert np.abs(shown - (255 - astronaut())).mean() > 100


def test_16_bit_rgb_png_keeps_its_colours_in_8_bits() -> None:
    result = run("rgb-16bit.png")
    coffee = images.photo_image("coffee").resize((96, 64), Image.Resampling.LANCZOS)
    reference = np.asarray(coffee.resize((64, 43), Image.Resampling.LANCZOS), float)
    assert (result.metadata.width, result.metadata.height) == (64, 43)
    assert np.abs(pixels(result, 1) - reference).mean() < 6


def test_palette_png_with_partial_alpha_keeps_each_entrys_alpha() -> None:
    result = run("palette-alpha.png")
    assert (result.metadata.mode, result.metadata.has_alpha) == ("P", True)
    with Image.open(FOLDER / "palette-alpha.png") as source:
        entries = np.asarray(source.convert("RGBA"), float)[..., 3]
    assert len(np.unique(entries)) >= 4  # several levels, not one transparent colour
    assert np.abs(pixels(result, 1, "RGBA")[..., 3] - entries).max() <= 1
    jpeg = pixels(result, 0)
    assert np.abs(jpeg[:6] - 255).max() <= 6  # fully transparent: white in a JPEG


def test_exiftool_rotated_jpeg_is_shown_upright() -> None:
    result = run("exif-rotated.jpg")
    assert (result.metadata.width, result.metadata.height) == (96, 64)
    for index in (0, 1):
        shown = pixels(result, index)
        assert shown.shape == (64, 96, 3)
        for quadrant, (y, x) in {
            "top_left": (16, 24),
            "top_right": (16, 72),
            "bottom_left": (48, 24),
            "bottom_right": (48, 72),
        }.items():
            assert np.abs(shown[y, x] - images.QUADRANTS[quadrant]).max() < 16, quadrant


def test_animated_gif_with_frames_of_other_sizes_shows_its_first_frame() -> None:
    result = run("animated.gif")
    assert (result.metadata.frames, result.metadata.width, result.metadata.height) == (3, 40, 30)
    assert np.abs(pixels(result, 0) - (220, 30, 30)).max() < 16
    assert result.metadata.content_sha256 is not None
    assert result.metadata.content_sha256.startswith("bytes:")


def test_grey_and_alpha_png_keeps_its_grey_and_its_alpha_ramp() -> None:
    result = run("grey-alpha.png")
    assert (result.metadata.mode, result.metadata.has_alpha) == ("LA", True)
    webp = pixels(result, 1, "RGBA")
    assert webp[:, :4, 3].mean() < 20 < 235 < webp[:, -4:, 3].mean()
    opaque = webp[..., 3] > 200
    assert np.abs(webp[opaque][:, :3] - 90).max() < 6


def test_adobe_rgb_jpeg_is_converted_to_srgb_or_keeps_its_profile_when_asked() -> None:
    expected = images.adobe_rgb_to_srgb((90, 160, 110))
    converted = run("adobe-rgb.jpg")
    assert converted.metadata.icc_profile == "Compatible with Adobe RGB (1998)"
    assert np.abs(pixels(converted, 0)[24, 32] - expected).max() <= 4
    kept = run("adobe-rgb.jpg", metadata_icc="keep")
    profile = Image.open(FOLDER / "adobe-rgb.jpg").info["icc_profile"]
    for rendition in kept.renditions:
        with Image.open(io.BytesIO(rendition.data)) as image:
            assert image.info["icc_profile"] == profile
    assert np.abs(pixels(kept, 0)[24, 32] - (90, 160, 110)).max() <= 4
    assert "icc" not in (kept.metadata.metadata_removed or ())


def test_grey_profile_is_converted_even_when_profiles_are_kept() -> None:
    # Only an RGB profile can stay beside the pixels of every output (WebP has no grey mode).
    result = run("grey-profile.jpg", metadata_icc="keep")
    assert result.metadata.icc_profile == "Gray"
    assert "icc" in (result.metadata.metadata_removed or ())
    for rendition in result.renditions:
        with Image.open(io.BytesIO(rendition.data)) as image:
            assert "icc_profile" not in image.info


def test_progressive_jpeg_is_decoded_like_its_picture() -> None:
    with Image.open(FOLDER / "progressive.jpg") as image:
        assert image.info.get("progressive") == 1
    result = run("progressive.jpg")
    assert np.abs(pixels(result, 0) - astronaut()).mean() < 8


def test_restart_markers_are_scan_data_for_the_content_hash() -> None:
    source = data("restart-markers.jpg")
    assert any(bytes([0xFF, 0xD0 + n]) in source for n in range(8))
    with_comment = source[:2] + b"\xff\xfe\x00\x05hi!" + source[2:]
    policy = Settings().processing
    assert (
        process(with_comment, policy).metadata.content_sha256
        == process(source, policy).metadata.content_sha256
    )


def test_lzw_tiff_with_alpha_keeps_its_alpha() -> None:
    result = run("lzw-alpha.tif")
    assert (result.metadata.format, result.metadata.has_alpha) == ("tiff", True)
    assert np.abs(pixels(result, 1, "RGBA")[..., 3] - 153).max() <= 1  # 60%


def test_32_bit_bmp_keeps_its_alpha() -> None:
    result = run("alpha-32bit.bmp")
    assert (result.metadata.format, result.metadata.has_alpha) == ("bmp", True)
    assert np.abs(pixels(result, 1, "RGBA")[..., 3] - 128).max() <= 1  # 50%


def test_a_camera_jpegs_copyright_and_artist_are_kept_and_the_rest_stripped() -> None:
    result = run("camera-metadata.jpg")
    for rendition in result.renditions:
        with Image.open(io.BytesIO(rendition.data)) as image:
            exif = image.getexif()
            assert dict(exif) == {0x8298: "(c) 2024 A. Photographer", 0x013B: "A. Photographer"}
            assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
        for secret in (b"1234567890", b"012345678901", b"0000c0ffee", b"orbit", b"Canon"):
            assert secret not in rendition.data
    removed = set(result.metadata.metadata_removed or ())
    assert {
        "gps",
        "exif:MakerNote",
        "exif:BodySerialNumber",
        "exif:LensSerialNumber",
        "exif:CameraOwnerName",
        "exif:thumbnail",
        "xmp",
        "iptc",
        "comment",
    } <= removed
    assert not removed & {"exif:Copyright", "exif:Artist"}


def test_a_camera_jpeg_whose_metadata_exiftool_edited_is_the_same_picture() -> None:
    original, edited = data("camera-metadata.jpg"), data("camera-metadata-edited.jpg")
    assert hashlib.sha256(original).digest() != hashlib.sha256(edited).digest()
    policy = Settings().processing
    first, second = process(original, policy).metadata, process(edited, policy).metadata
    assert first.content_sha256 == second.content_sha256
    assert first.content_sha256 is not None
    assert first.content_sha256.startswith("jpeg:")
    assert "gps" in (first.metadata_removed or ())
    assert "gps" not in (second.metadata_removed or ())


def test_a_png_given_text_time_and_xmp_chunks_by_exiftool_is_the_same_picture() -> None:
    policy = Settings().processing
    plain = process(data("plain.png"), policy).metadata
    tagged = process(data("plain-with-text.png"), policy).metadata
    assert plain.content_sha256 == tagged.content_sha256
    assert plain.metadata_removed == ()
    assert tagged.metadata_removed == ("text", "time", "xmp")


@pytest.mark.parametrize("name", sorted(p.name for p in FOLDER.iterdir() if p.suffix != ".md"))
def test_every_odd_file_gets_renditions_a_placeholder_and_a_content_hash(name: str) -> None:
    meta = run(name).metadata
    assert meta.thumbhash
    assert meta.content_sha256
    assert meta.dominant_color
