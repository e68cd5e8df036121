"""Whatever the bytes, the pipeline returns renditions or raises PermanentError, in bounded time."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.config import RenditionSpec, Settings
from core.errors import PermanentError
from core.models import ProcessedImage
from core.processing import process
from tests import images

# Pillow tells of the damage it skips over in corrupt TIFF/EXIF data; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")

# Small outputs and tight limits: a mutated header that claims a huge image is refused by the
# limits, and one that claims a modest one is decoded quickly.
FUZZ_SETTINGS = Settings(
    renditions=(
        RenditionSpec(name="display", longest_side=48),
        RenditionSpec(name="web", longest_side=32, format="webp", webp_method=0),
        RenditionSpec(name="thumb", longest_side=16),
    ),
    max_pixels=4_000_000,
    max_side=4096,
    max_frames=20,
)

# Each example must finish well inside this; hypothesis fails an example that does not.
PER_EXAMPLE = settings(
    deadline=timedelta(seconds=4),
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


@cache
def seeds() -> tuple[bytes, ...]:
    """Small valid images of every accepted format and the odd modes."""
    return (
        images.in_format("JPEG", 48, 32),
        images.jpeg_photo(48, 32, progressive=True, orientation=6, make="X", gps=True),
        images.in_format("PNG", 40, 30),
        images.png_rgba(24, 16),
        images.png_palette_transparent(24, 16),
        images.png_16bit(24, 16),
        images.gif_animated(frames=3, width=20, height=12),
        images.in_format("WEBP", 40, 30),
        images.in_format("TIFF", 40, 30),
        images.in_format("BMP", 40, 30),
        images.in_format("AVIF", 40, 30),
        images.in_format("HEIF", 40, 30),
        images.cmyk_jpeg(24, 16),
        images.adobe_rgb_jpeg((90, 160, 110), 24, 16),
    )


def outcome(data: bytes) -> ProcessedImage | PermanentError:
    try:
        return process(data, FUZZ_SETTINGS.processing)
    except PermanentError as refused:
        return refused


def check(result: ProcessedImage | PermanentError) -> None:
    if isinstance(result, PermanentError):
        event(f"refused: {result.code}")
        assert result.code and result.detail
        return
    event("processed")
    assert len(result.renditions) == 3
    for rendition in result.renditions:
        assert rendition.data
        assert 1 <= max(rendition.width, rendition.height) <= 48


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "splice"]))
        # Mostly past the magic number, so that the decoders, not the sniffer, meet the damage.
        low = min(draw(st.sampled_from([0, 12, 12, 12])), max(0, len(data) - 1))
        position = draw(st.integers(low, max(low, len(data) - 1)))
        if kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[position] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01]))
        elif kind == "truncate":
            del data[position:]
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif kind == "splice":
            other = draw(st.sampled_from(seeds()))
            data[position:] = other[draw(st.integers(0, len(other) - 1)) :]
    return bytes(data)


@PER_EXAMPLE
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_are_processed_or_refused_permanently(data: bytes) -> None:
    check(outcome(data))


@PER_EXAMPLE
@given(
    st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"II*\x00", b"BM"]),
    st.binary(max_size=2048),
)
def test_bytes_behind_a_valid_magic_number_are_processed_or_refused(
    magic: bytes, rest: bytes
) -> None:
    check(outcome(magic + rest))


@settings(PER_EXAMPLE, max_examples=400)
@given(mutated_images())
def test_mutated_valid_images_are_processed_or_refused_permanently(data: bytes) -> None:
    check(outcome(data))


def test_every_fuzz_seed_is_a_valid_image() -> None:
    for data in seeds():
        assert isinstance(outcome(data), ProcessedImage)
