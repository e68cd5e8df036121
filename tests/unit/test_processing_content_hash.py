"""The content hash: the same picture under other metadata hashes alike; another picture not."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from core.config import Settings
from core.processing import process
from tests import images

PHOTO = images.photo_at(96, 64, "chelsea")
PHOTO.info.clear()  # no profile of the photograph's file rides into the files made of it


def content(data: bytes) -> str:
    value = process(data, Settings().processing).metadata.content_sha256
    assert value is not None
    return value


def jpeg(image: Image.Image = PHOTO, **options: object) -> bytes:
    return images.encode(image, "JPEG", quality=90, **options)


def with_comment(data: bytes, text: bytes) -> bytes:
    """A COM segment put right after SOI, as some editors do."""
    return data[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + data[2:]


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_with_chunk_before_iend(data: bytes, chunk: bytes) -> bytes:
    return data[:-12] + chunk + data[-12:]  # IEND is the last 12 bytes


def png_with_idat_split(data: bytes) -> bytes:
    """The same compressed pixels, cut into two IDAT chunks."""
    at = data.index(b"IDAT") - 4
    (length,) = struct.unpack(">I", data[at : at + 4])
    payload = data[at + 8 : at + 8 + length]
    half = len(payload) // 2
    split = png_chunk(b"IDAT", payload[:half]) + png_chunk(b"IDAT", payload[half:])
    return data[:at] + split + data[at + 12 + length :]


def changed_pixel(image: Image.Image) -> Image.Image:
    """The image with one pixel made the opposite of its colour."""
    other = image.copy()
    pixel = other.getpixel((10, 10))
    assert isinstance(pixel, tuple)
    other.putpixel((10, 10), tuple(255 - int(value) for value in pixel))
    return other


# --- JPEG: the coded image, without APPn and COM ------------------------------------------


def test_jpeg_rewrapped_with_other_exif_xmp_and_comments_has_the_same_content_hash() -> None:
    plain = jpeg()
    rewrapped = [
        jpeg(exif=images.exif_block(make="Canon", model="R5", gps=True)),
        jpeg(exif=images.exif_block(make="Nikon", taken_at="2020:01:01 00:00:00")),
        jpeg(xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>', comment=b"edited"),
        with_comment(plain, b"a comment before everything"),
        plain + b"trailing bytes after the image",
        jpeg(exif=images.exif_block(orientation=1)),  # orientation 1 is no orientation
    ]
    for data in rewrapped:
        assert hashlib.sha256(data).digest() != hashlib.sha256(plain).digest()
        # Only the wrapping differs: from the first quantisation table on, the bytes agree.
        coded = plain[plain.index(b"\xff\xdb") :]
        assert data[data.index(b"\xff\xdb") :].startswith(coded[:-2])
        assert content(data) == content(plain)
    assert content(plain).startswith("jpeg:")


@pytest.mark.parametrize(
    "options",
    [{"progressive": True}, {"restart_marker_blocks": 4}, {"subsampling": 0}],
    ids=["progressive", "restart_markers", "no_subsampling"],
)
def test_jpeg_content_hash_covers_every_scan_of_any_layout(options: dict[str, object]) -> None:
    plain = images.encode(PHOTO, "JPEG", **options)
    tagged = images.encode(PHOTO, "JPEG", exif=images.exif_block(make="Canon"), **options)
    assert content(with_comment(tagged, b"x")) == content(plain)
    assert content(images.encode(changed_pixel(PHOTO), "JPEG", **options)) != content(plain)


def test_jpeg_with_another_orientation_is_another_picture() -> None:
    plain = jpeg()
    hashes = {content(jpeg(exif=images.exif_block(orientation=o))) for o in range(1, 9)}
    assert len(hashes) == 8
    assert content(plain) in hashes


def test_jpeg_with_another_icc_profile_is_another_picture() -> None:
    plain = jpeg()
    adobe = jpeg(icc_profile=images.adobe_rgb_profile())
    other = jpeg(
        icc_profile=images.rgb_matrix_profile(
            "Other primaries", (0.6, 0.3, 0.02), (0.2, 0.6, 0.07), (0.15, 0.07, 0.7), 2.2
        )
    )
    assert len({content(plain), content(adobe), content(other)}) == 3


def test_jpeg_with_one_pixel_changed_is_another_picture() -> None:
    assert content(jpeg(changed_pixel(PHOTO))) != content(jpeg())


# --- PNG: the image chunks, without text, time or EXIF ------------------------------------


def png(image: Image.Image = PHOTO, **options: object) -> bytes:
    return images.encode(image, "PNG", **options)


def test_png_rewrapped_with_text_time_and_exif_chunks_has_the_same_content_hash() -> None:
    plain = png()
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "edited")
    text.add_text("Author", "someone", zip=True)
    text.add_itxt("Description", "über", lang="de")
    rewrapped = [
        png(pnginfo=text),
        png(exif=images.exif_block(make="Canon", gps=True)),
        png_with_chunk_before_iend(plain, png_chunk(b"tIME", bytes([7, 232, 1, 2, 3, 4, 5]))),
        png_with_chunk_before_iend(plain, png_chunk(b"tEXt", b"Software\0a tool")),
        png_with_idat_split(plain),
    ]
    for data in rewrapped:
        assert data != plain
        assert Image.open(io.BytesIO(data)).tobytes() == PHOTO.tobytes()
        assert content(data) == content(plain)
    assert content(plain).startswith("png:")


def test_png_with_another_orientation_icc_profile_or_pixel_is_another_picture() -> None:
    plain = content(png())
    assert content(png(exif=images.exif_block(orientation=6))) != plain
    assert content(png(icc_profile=images.adobe_rgb_profile())) != plain
    assert content(png(changed_pixel(PHOTO))) != plain
    assert content(png(PHOTO.convert("L"))) != plain


# --- other formats: the decoded pixels, upright -------------------------------------------


def test_tiff_and_webp_with_other_metadata_hash_their_pixels_alike() -> None:
    tiff = images.encode(PHOTO, "TIFF")
    tagged_tiff = images.encode(PHOTO, "TIFF", tiffinfo={315: "an artist", 33432: "(c) x"})
    assert tiff != tagged_tiff
    assert content(tiff) == content(tagged_tiff)
    assert content(tiff).startswith("pixels:")
    webp = images.encode(PHOTO, "WEBP", lossless=True)
    tagged_webp = images.encode(PHOTO, "WEBP", lossless=True, exif=images.exif_block(make="X"))
    assert content(webp) == content(tagged_webp) == content(tiff)  # the same pixels
    assert content(images.encode(changed_pixel(PHOTO), "TIFF")) != content(tiff)


def test_pixels_are_hashed_upright_so_a_stored_rotation_is_the_same_picture() -> None:
    upright = images.encode(PHOTO, "TIFF")
    stored = PHOTO.transpose(Image.Transpose.ROTATE_90)  # what orientation 6 turns upright
    rotated = images.encode(stored, "TIFF", exif=images.exif_block(orientation=6))
    assert content(rotated) == content(upright)
    unrotated = images.encode(stored, "TIFF")
    assert content(unrotated) != content(upright)


def test_animations_are_hashed_as_their_bytes_under_a_label_of_their_own() -> None:
    data = images.gif_animated(frames=3)
    value = content(data)
    assert value.startswith("bytes:")
    assert value != "bytes:" + hashlib.sha256(data).hexdigest()  # the kind is hashed in too
    assert len({value.split(":")[0] for value in (value, content(jpeg()), content(png()))}) == 3
