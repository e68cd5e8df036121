"""The pipeline's contract: what it accepts, what it refuses and why, sizes, metadata, outputs."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, datetime

import numpy as np
import pytest
from PIL import Image

from core.config import RenditionSpec, Settings
from core.errors import ErrorCode, PermanentError
from core.models import Rendition
from core.processing import (
    LANCZOS,
    REDUCING_GAP,
    ProcessingPolicy,
    fit_size,
    in_window,
    jpeg_scale,
    perceptual_hash,
    process,
    sniff_format,
)
from tests import images

SMALL = (
    RenditionSpec(name="display", longest_side=64, quality=90),
    RenditionSpec(name="thumb", longest_side=16, quality=90),
)


def small_policy(**overrides: object) -> ProcessingPolicy:
    return Settings(renditions=SMALL, **overrides).processing  # type: ignore[arg-type]


def decode(rendition: Rendition) -> Image.Image:
    image = Image.open(io.BytesIO(rendition.data))
    image.load()
    return image


def refusal(data: bytes, policy: ProcessingPolicy | None = None) -> PermanentError:
    with pytest.raises(PermanentError) as caught:
        process(data, policy or Settings().processing)
    return caught.value


def jpeg_options(spec: RenditionSpec) -> dict[str, object]:
    return {"quality": spec.quality, "progressive": spec.progressive, "optimize": spec.optimize}


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    return float(
        np.abs(np.asarray(a.convert("RGB"), float) - np.asarray(b.convert("RGB"), float)).mean()
    )


@pytest.fixture(scope="module")
def photo_12mp() -> bytes:
    return images.mosaic_jpeg(4000, 3000, seed=1)


# --- sniffing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("JPEG", "jpeg"),
        ("PNG", "png"),
        ("WEBP", "webp"),
        ("GIF", "gif"),
        ("TIFF", "tiff"),
        ("BMP", "bmp"),
        ("AVIF", "avif"),
        ("HEIF", "heif"),
    ],
)
def test_format_is_sniffed_from_the_bytes(fmt: str, expected: str) -> None:
    data = images.in_format(fmt)
    assert sniff_format(data) == expected
    assert process(data, small_policy()).metadata.format == expected


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (images.TEXT, "text"),
        (images.SVG, "SVG"),
        (images.PDF_HEADER, "PDF"),
        (images.HTML, "HTML"),
        (b"\x00\x00\x01\x00\x01\x00\x10\x10" + b"\x00" * 40, "ICO"),
        (bytes(range(256)), "unknown"),
    ],
)
def test_non_images_are_refused_as_unsupported_format(data: bytes, what: str) -> None:
    error = refusal(data)
    assert error.code is ErrorCode.UNSUPPORTED_FORMAT
    assert what in error.detail
    assert error.http_status == 415


def test_zero_bytes_are_refused_as_empty() -> None:
    assert refusal(b"").code is ErrorCode.EMPTY
    with pytest.raises(PermanentError) as caught:
        sniff_format(b"")
    assert caught.value.code is ErrorCode.EMPTY


# --- limits, before any pixel is decoded -----------------------------------------------------


def test_input_over_max_bytes_is_refused_as_too_large() -> None:
    data = images.in_format("PNG")
    assert refusal(data, small_policy(max_bytes=len(data) - 1)).code is ErrorCode.TOO_LARGE
    assert process(data, small_policy(max_bytes=len(data))).metadata.bytes_in == len(data)


def test_png_header_declaring_100000_by_100000_is_refused_without_decoding() -> None:
    # The file holds 64 bytes of pixel data: had it been decoded, it would fail as undecodable.
    error = refusal(images.png_header_declaring(100_000, 100_000))
    assert error.code is ErrorCode.TOO_MANY_PIXELS
    assert "100000x100000" in error.detail


def test_pixel_limit_is_the_configured_one() -> None:
    data = images.jpeg_photo(300, 200)
    assert refusal(data, small_policy(max_pixels=59_999)).code is ErrorCode.TOO_MANY_PIXELS
    assert process(data, small_policy(max_pixels=60_000)).metadata.width == 300


def test_bomb_beyond_pillows_own_threshold_is_refused_without_a_warning() -> None:
    # 10000 x 10000 is past Pillow's 89 MP warning threshold; pytest turns that warning into an
    # error (pyproject filterwarnings), so this passes only if the warning never escapes.
    allowed = small_policy(max_pixels=200_000_000)
    assert refusal(images.png_header_declaring(10_000, 10_000), allowed).code is (
        ErrorCode.TOO_MANY_PIXELS
    )


def test_gif_whose_first_frame_outgrows_its_screen_is_refused_as_too_many_pixels() -> None:
    error = refusal(images.gif_frame_beyond_screen(screen=10, frame=20_000))
    assert error.code is ErrorCode.TOO_MANY_PIXELS


def test_side_over_max_side_is_refused_as_dimensions_out_of_range() -> None:
    error = refusal(images.png_header_declaring(30_000, 10))
    assert error.code is ErrorCode.DIMENSIONS_OUT_OF_RANGE
    data = images.jpeg_photo(300, 200)
    assert refusal(data, small_policy(max_side=299)).code is ErrorCode.DIMENSIONS_OUT_OF_RANGE


def test_animation_with_more_frames_than_max_frames_is_refused() -> None:
    data = images.gif_animated(frames=5)
    assert refusal(data, small_policy(max_frames=4)).code is ErrorCode.TOO_MANY_FRAMES
    assert process(data, small_policy(max_frames=5)).metadata.frames == 5


# --- corrupt input ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "AVIF", "HEIF"])
def test_truncated_image_is_refused_as_undecodable(fmt: str) -> None:
    data = images.truncated(images.in_format(fmt, 200, 150), 0.5)
    assert refusal(data).code is ErrorCode.UNDECODABLE


def test_truncated_12mp_jpeg_is_refused_as_undecodable(photo_12mp: bytes) -> None:
    error = refusal(images.truncated(photo_12mp, 0.7))
    assert error.code is ErrorCode.UNDECODABLE
    assert error.http_status == 422


def test_header_only_jpeg_is_refused_as_undecodable() -> None:
    assert refusal(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00").code is ErrorCode.UNDECODABLE


# --- the size rule ---------------------------------------------------------------------------


def test_12mp_jpeg_decodes_at_half_scale_straight_into_the_display_window(
    photo_12mp: bytes,
) -> None:
    result = process(photo_12mp, Settings().processing)
    display, thumb = result.renditions
    assert (display.name, display.width, display.height) == ("display", 2000, 1500)
    assert (thumb.name, thumb.width, thumb.height) == ("thumb", 256, 192)
    # No resample: the display is exactly the JPEG decoder's half-scale output, re-encoded.
    reference = Image.open(io.BytesIO(photo_12mp))
    reference.draft("RGB", (2000, 1500))
    expected = io.BytesIO()
    reference.save(expected, "JPEG", **jpeg_options(Settings().renditions[0]))
    assert display.data == expected.getvalue()


def test_thumbnail_is_made_from_the_display_rendition(photo_12mp: bytes) -> None:
    result = process(photo_12mp, Settings().processing)
    display = decode(result.renditions[0])
    from_display = Image.open(io.BytesIO(photo_12mp))
    from_display.draft("RGB", (2000, 1500))
    thumb = from_display.resize((256, 192), LANCZOS, reducing_gap=REDUCING_GAP)
    expected = io.BytesIO()
    thumb.save(expected, "JPEG", **jpeg_options(Settings().renditions[1]))
    assert result.renditions[1].data == expected.getvalue()
    assert display.size == (2000, 1500)


def test_zero_tolerance_gives_exact_target_sizes(photo_12mp: bytes) -> None:
    result = process(photo_12mp, Settings(size_tolerance=0).processing)
    assert [(r.width, r.height) for r in result.renditions] == [(2048, 1536), (256, 192)]
    # One high-quality resample of the full image: close to a direct LANCZOS of the original.
    original = Image.open(io.BytesIO(photo_12mp)).convert("RGB")
    reference = original.resize((2048, 1536), LANCZOS)
    assert mean_difference(decode(result.renditions[0]), reference) < 3.0


@pytest.mark.parametrize(
    ("size", "tolerance"),
    [
        ((4000, 3000), 0.05),
        ((3000, 4000), 0.05),
        ((4000, 3000), 0.0),
        ((2100, 1400), 0.05),
        ((2100, 1400), 0.0),
        ((5000, 900), 0.05),
        ((6000, 4000), 0.05),
        ((1000, 3000), 0.2),
        ((2049, 2049), 0.01),
        ((9000, 200), 0.05),
    ],
)
def test_every_rendition_obeys_the_size_rule(size: tuple[int, int], tolerance: float) -> None:
    width, height = size
    data = images.encode(images.mosaic_image(width, height), "JPEG", quality=80)
    result = process(data, Settings(size_tolerance=tolerance).processing)
    for spec, rendition in zip(Settings().renditions, result.renditions, strict=True):
        longest = max(rendition.width, rendition.height)
        assert longest <= spec.longest_side
        assert longest >= (1 - tolerance) * spec.longest_side - 1e-9
        # Aspect ratio kept to within the rounding of one pixel.
        assert abs(rendition.width / rendition.height - width / height) <= (
            2 * max(width / height, 1) / min(rendition.width, rendition.height)
        )
        assert (rendition.width >= rendition.height) == (width >= height)


def test_small_source_is_never_upscaled() -> None:
    data = images.jpeg_photo(300, 200)
    display, thumb = process(data, Settings().processing).renditions
    assert (display.width, display.height) == (300, 200)
    assert (thumb.width, thumb.height) == (256, 171)


def test_non_jpeg_large_source_is_resampled_to_the_exact_target() -> None:
    data = images.encode(images.mosaic_image(3000, 2000), "PNG", compress_level=1)
    display, thumb = process(data, Settings().processing).renditions
    assert (display.width, display.height) == (2048, 1365)
    assert (thumb.width, thumb.height) == (256, 171)


def test_rendition_order_follows_the_settings_not_the_sizes() -> None:
    specs = (
        RenditionSpec(name="tiny", longest_side=16),
        RenditionSpec(name="big", longest_side=64),
        RenditionSpec(name="mid", longest_side=32, format="webp"),
    )
    result = process(images.jpeg_photo(300, 200), Settings(renditions=specs).processing)
    assert [(r.name, max(r.width, r.height)) for r in result.renditions] == [
        ("tiny", 16),
        ("big", 64),
        ("mid", 32),
    ]


def test_jpeg_scale_picks_the_smallest_decode_that_serves_the_target() -> None:
    assert jpeg_scale(4000, 3000, 2048, 0.05) == 2  # 2000 lands in [1946, 2048]
    assert jpeg_scale(4000, 3000, 2048, 0.0) == 1  # 2000 < 2048: full decode, then resample
    assert jpeg_scale(8192, 6144, 2048, 0.0) == 4  # 2048 exactly
    assert jpeg_scale(6000, 4000, 2048, 0.05) == 2  # 3000 covers; 1500 would not
    assert jpeg_scale(16000, 9000, 2048, 0.05) == 8  # 2000 lands at 1/8
    assert jpeg_scale(12000, 9000, 2048, 0.05) == 4  # 3000 covers; 1500 would not
    assert jpeg_scale(1000, 800, 2048, 0.05) == 1


def test_size_helpers_keep_aspect_and_window() -> None:
    assert fit_size(4000, 3000, 2048) == (2048, 1536)
    assert fit_size(3000, 4000, 256) == (192, 256)
    assert fit_size(100, 50, 256) == (100, 50)
    assert fit_size(10000, 3, 256) == (256, 1)
    assert in_window(1946, 2048, 0.05)
    assert not in_window(1945, 2048, 0.05)
    assert in_window(2048, 2048, 0.0)
    assert not in_window(2047, 2048, 0.0)


# --- outputs ---------------------------------------------------------------------------------


def test_outputs_carry_no_exif_gps_xmp_or_icc() -> None:
    exif = images.exif_block(make="Canon", model="EOS R5", taken_at="2024:05:01 10:00:00", gps=True)
    source = images.photo_at(400, 300)
    data = images.encode(
        source,
        "JPEG",
        quality=90,
        exif=exif,
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>',
        icc_profile=images.adobe_rgb_profile(),
    )
    specs = (*SMALL, RenditionSpec(name="web", longest_side=32, format="webp"))
    for rendition in process(data, Settings(renditions=specs).processing).renditions:
        image = decode(rendition)
        assert not image.getexif()
        assert "exif" not in image.info
        assert "xmp" not in image.info
        assert "icc_profile" not in image.info
        assert b"Exif\x00\x00" not in rendition.data
        assert b"xmpmeta" not in rendition.data
        assert b"Canon" not in rendition.data


def test_jpeg_outputs_are_progressive_and_carry_the_configured_quality() -> None:
    progressive = tuple(spec.model_copy(update={"progressive": True}) for spec in SMALL)
    result = process(images.jpeg_photo(400, 300), Settings(renditions=progressive).processing)
    for rendition in result.renditions:
        image = decode(rendition)
        assert image.format == "JPEG"
        assert image.info.get("progressive") == 1 or image.info.get("progression") == 1
        assert rendition.content_type == "image/jpeg"
        assert rendition.extension == "jpg"


@pytest.mark.parametrize(
    ("progressive", "optimize"), [(False, False), (False, True), (True, False), (True, True)]
)
def test_jpeg_outputs_are_encoded_with_their_renditions_options(
    progressive: bool, optimize: bool
) -> None:
    spec = RenditionSpec(
        name="display", longest_side=64, quality=77, progressive=progressive, optimize=optimize
    )
    data = images.jpeg_photo(400, 300)
    (rendition,) = process(data, Settings(renditions=(spec,)).processing).renditions
    image = decode(rendition)
    assert bool(image.info.get("progressive") or image.info.get("progression")) is progressive
    # The same pixels saved with the same options by Pillow itself: byte for byte.
    source = Image.open(io.BytesIO(data))
    source.draft("RGB", (100, 75))
    expected = io.BytesIO()
    source.resize((64, 48), LANCZOS, reducing_gap=REDUCING_GAP).save(
        expected, "JPEG", quality=77, progressive=progressive, optimize=optimize
    )
    assert rendition.data == expected.getvalue()


def test_webp_and_avif_renditions_are_encoded_as_configured() -> None:
    specs = (
        RenditionSpec(name="w", longest_side=64, format="webp", quality=80, webp_method=2),
        RenditionSpec(name="a", longest_side=48, format="avif", quality=60),
    )
    policy = Settings(renditions=specs).processing
    webp, avif = process(images.jpeg_photo(400, 300), policy).renditions
    assert decode(webp).format == "WEBP"
    assert (webp.content_type, webp.extension, webp.width) == ("image/webp", "webp", 64)
    assert decode(avif).format == "AVIF"
    assert (avif.content_type, avif.extension, avif.width) == ("image/avif", "avif", 48)


# --- metadata --------------------------------------------------------------------------------


def test_metadata_describes_the_source() -> None:
    data = images.jpeg_photo(
        640,
        480,
        make="FUJIFILM",
        model="X-T5",
        taken_at="2023:08:14 17:45:09",
        gps=True,
        orientation=6,
    )
    result = process(data, small_policy())
    meta = result.metadata
    assert meta.sha256 == hashlib.sha256(data).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{16}", meta.phash)
    assert (meta.format, meta.mode, meta.frames, meta.has_alpha) == ("jpeg", "RGB", 1, False)
    assert (meta.width, meta.height) == (480, 640)  # after orientation 6
    assert meta.bytes_in == len(data)
    assert (meta.camera_make, meta.camera_model) == ("FUJIFILM", "X-T5")
    assert meta.taken_at == datetime(2023, 8, 14, 17, 45, 9, tzinfo=UTC)
    assert meta.has_gps is True
    assert meta.icc_profile is None
    assert result.processing_ms > 0
    assert result.bytes_out == sum(len(r.data) for r in result.renditions)


def test_image_without_exif_has_empty_camera_fields() -> None:
    meta = process(images.in_format("PNG"), small_policy()).metadata
    assert (meta.camera_make, meta.camera_model, meta.taken_at, meta.has_gps) == (
        None,
        None,
        None,
        False,
    )


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_malformed_exif_is_ignored_not_fatal() -> None:
    source = images.photo_at(100, 80)
    data = images.encode(source, "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    meta = process(data, small_policy()).metadata
    assert meta.camera_make is None
    assert meta.width == 100


def test_icc_profile_description_is_recorded() -> None:
    meta = process(images.adobe_rgb_jpeg((90, 160, 110)), small_policy()).metadata
    assert meta.icc_profile == "Adobe RGB (1998) compatible"


def _hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def test_perceptual_hash_matches_resized_and_recompressed_copies_of_a_photo() -> None:
    photo = images.photo_image("astronaut")
    copies = [
        images.encode(photo, "PNG"),
        images.encode(photo.resize((300, 300), LANCZOS), "JPEG", quality=60),
        images.encode(photo.resize((200, 200), LANCZOS), "WEBP", quality=50),
    ]
    hashes = [process(data, small_policy()).metadata.phash for data in copies]
    assert all(_hamming(hashes[0], other) <= 6 for other in hashes[1:])


def test_perceptual_hash_tells_different_photos_apart() -> None:
    hashes = {
        name: process(images.encode(images.photo_image(name), "PNG"), small_policy()).metadata.phash
        for name in ("astronaut", "coffee", "chelsea", "rocket")
    }
    values = list(hashes.values())
    for i, first in enumerate(values):
        for second in values[i + 1 :]:
            assert _hamming(first, second) >= 12


def test_perceptual_hash_of_a_picture_is_its_dhash() -> None:
    # A left-to-right brightening ramp: every cell is darker than its right neighbour (0 bits);
    # reversed, every bit is set.
    ramp = Image.linear_gradient("L").rotate(90).resize((90, 80))
    assert perceptual_hash(ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT)) == "ffffffffffffffff"
    assert perceptual_hash(ramp) == "0000000000000000"


# --- real photographs ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "motorcycle_left"])
def test_real_photograph_renditions_look_like_the_photograph(name: str) -> None:
    photo = images.photo_image(name)
    data = images.encode(photo, "JPEG", quality=92)
    specs = (
        RenditionSpec(name="display", longest_side=256, quality=90),
        RenditionSpec(name="thumb", longest_side=64, quality=90),
    )
    result = process(data, Settings(renditions=specs, size_tolerance=0).processing)
    for rendition in result.renditions:
        reference = photo.resize((rendition.width, rendition.height), LANCZOS)
        mirrored = reference.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        # Two JPEG generations apart from the reference, and far from a mirrored copy.
        assert mean_difference(decode(rendition), reference) < 7.0
        assert mean_difference(decode(rendition), mirrored) > 15.0


def test_camera_jpeg_in_adobe_rgb_is_converted_to_srgb() -> None:
    data = images.photo_bytes(images.CAMERA_JPEG)
    result = process(data, Settings().processing)
    assert result.metadata.icc_profile == "Adobe RGB (1998)"
    original = Image.open(io.BytesIO(data)).convert("RGB")
    assert (result.metadata.width, result.metadata.height) == original.size
    display = result.renditions[0]
    assert (display.width, display.height) == original.size  # smaller than 2048: kept
    in_srgb = Image.fromarray(images.adobe_rgb_array_to_srgb(np.asarray(original)))
    # One JPEG generation (q85) from the reference conversion; twice as far from the raw values.
    assert mean_difference(decode(display), in_srgb) < 4.5
    assert mean_difference(decode(display), original) > 1.5 * mean_difference(
        decode(display), in_srgb
    )


# --- optional decoders -----------------------------------------------------------------------


def test_heif_is_decoded_without_registering_a_global_opener() -> None:
    result = process(images.in_format("HEIF"), small_policy())
    assert result.metadata.format == "heif"
    assert "HEIF" not in Image.OPEN  # processing leaves Pillow's registry as it found it


def test_format_without_an_installed_decoder_is_unsupported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import core.processing.decode

    monkeypatch.setattr(core.processing.decode, "plugin", lambda fmt: None)
    error = refusal(images.in_format("HEIF"))
    assert error.code is ErrorCode.UNSUPPORTED_FORMAT
    assert "heif" in error.detail
