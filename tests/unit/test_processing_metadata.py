"""The metadata policy: what renditions keep (copyright, artist), what never (GPS, serial
numbers, maker notes), ICC converted or kept, and the list of what was stripped."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

import numpy as np
import pytest
from PIL import ExifTags, Image, PngImagePlugin

from core.config import load_settings
from core.models import ImageMetadata, ProcessedImage, Rendition
from core.processing import RenditionSpec, process
from tests import images

EXIF_IFD = ExifTags.IFD.Exif
COPYRIGHT, ARTIST, DESCRIPTION = 0x8298, 0x013B, 0x010E
MAKER_NOTE, BODY_SERIAL, LENS_SERIAL = 0x927C, 0xA431, 0xA435


@pytest.fixture(autouse=True)
def _no_imgpipe_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in [v for v in os.environ if v.startswith("IMGPIPE_")]:
        monkeypatch.delenv(variable)


def camera_exif() -> bytes:
    """What a camera writes: who and whose, where, and what identifies the camera."""
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS R5"
    exif[COPYRIGHT] = "(c) 2024 A. Photographer"
    exif[ARTIST] = "A. Photographer"
    exif[DESCRIPTION] = "A cat on a mat"
    sub = exif.get_ifd(EXIF_IFD)
    sub[0x9003] = "2024:05:01 10:00:00"
    sub[MAKER_NOTE] = b"Canon\0maker note with serial 123456 and a location"
    sub[BODY_SERIAL] = "012345678901"
    sub[LENS_SERIAL] = "0000c0ffee"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)}
    )
    return exif.tobytes()


def camera_jpeg(**options: object) -> bytes:
    return images.encode(
        images.photo_at(120, 80),
        "JPEG",
        quality=90,
        exif=camera_exif(),
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>',
        comment=b"shot on a sunny day",
        **options,
    )


def run(data: bytes, **settings: object) -> ProcessedImage:
    specs = (
        RenditionSpec(name="display", longest_side=64),
        RenditionSpec(name="web", longest_side=48, format="webp"),
        RenditionSpec(name="thumb", longest_side=32, format="avif"),
    )
    return process(data, load_settings(renditions=specs, **settings).processing)


def rendition_exif(rendition: Rendition) -> dict[int, object]:
    with Image.open(io.BytesIO(rendition.data)) as image:
        exif = image.getexif()
        return {**exif, **exif.get_ifd(EXIF_IFD)}


def test_renditions_keep_copyright_and_artist_and_nothing_else_by_default() -> None:
    result = run(camera_jpeg())
    for rendition in result.renditions:
        kept = rendition_exif(rendition)
        assert kept == {COPYRIGHT: "(c) 2024 A. Photographer", ARTIST: "A. Photographer"}
        assert b"123456" not in rendition.data  # the maker note's serial
        assert b"012345678901" not in rendition.data
        assert b"xmpmeta" not in rendition.data
        assert b"sunny day" not in rendition.data


def test_what_was_stripped_is_listed_per_image() -> None:
    removed = run(camera_jpeg()).metadata.metadata_removed
    assert removed is not None
    assert {
        "gps",
        "exif:MakerNote",
        "exif:BodySerialNumber",
        "exif:LensSerialNumber",
        "exif:Make",
        "exif:Model",
        "exif:ImageDescription",
        "exif:DateTimeOriginal",
        "xmp",
        "comment",
    } <= set(removed)
    assert "exif:Copyright" not in removed
    assert "exif:Artist" not in removed
    assert list(removed) == sorted(removed)


def test_configured_fields_are_kept_and_the_others_listed_as_stripped() -> None:
    result = run(camera_jpeg(), metadata_keep_exif="ImageDescription,copyright")
    for rendition in result.renditions:
        assert rendition_exif(rendition) == {
            DESCRIPTION: "A cat on a mat",
            COPYRIGHT: "(c) 2024 A. Photographer",
        }
    removed = result.metadata.metadata_removed or ()
    assert "exif:Artist" in removed
    assert "exif:ImageDescription" not in removed


def test_keeping_nothing_leaves_renditions_without_exif() -> None:
    result = run(camera_jpeg(), metadata_keep_exif="")
    for rendition in result.renditions:
        assert rendition_exif(rendition) == {}
        assert b"Exif\0\0" not in rendition.data
    assert {"exif:Copyright", "exif:Artist"} <= set(result.metadata.metadata_removed or ())


def test_the_recorded_camera_fields_do_not_depend_on_the_policy() -> None:
    meta = run(camera_jpeg(), metadata_keep_exif="").metadata
    assert (meta.camera_make, meta.camera_model, meta.has_gps) == ("Canon", "EOS R5", True)
    assert meta.taken_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_field_names_are_read_in_any_case_and_kept_in_the_standards_spelling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IMGPIPE_METADATA_KEEP_EXIF", "copyright, ARTIST,imagedescription")
    assert load_settings().metadata_keep_exif == ["Copyright", "Artist", "ImageDescription"]


# --- ICC: converted to sRGB (default) or kept ---------------------------------------------

ADOBE_GREEN = (90, 160, 110)


def test_by_default_an_icc_profile_is_converted_away_and_listed_as_stripped() -> None:
    result = run(images.adobe_rgb_jpeg(ADOBE_GREEN))
    assert "icc" in (result.metadata.metadata_removed or ())
    for rendition in result.renditions:
        with Image.open(io.BytesIO(rendition.data)) as image:
            assert "icc_profile" not in image.info
            centre = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
        assert isinstance(centre, tuple)
        expected = images.adobe_rgb_to_srgb(ADOBE_GREEN)
        assert np.abs(np.subtract(centre, expected)).max() <= 6


def test_a_kept_icc_profile_rides_with_the_unconverted_pixels() -> None:
    profile = images.adobe_rgb_profile()
    result = run(images.adobe_rgb_jpeg(ADOBE_GREEN), metadata_icc="keep")
    assert "icc" not in (result.metadata.metadata_removed or ())
    for rendition in result.renditions:
        with Image.open(io.BytesIO(rendition.data)) as image:
            assert image.info.get("icc_profile") == profile
            centre = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
        assert isinstance(centre, tuple)
        assert np.abs(np.subtract(centre, ADOBE_GREEN)).max() <= 6


# --- what each container may carry --------------------------------------------------------


def test_an_image_without_metadata_has_nothing_stripped() -> None:
    plain = images.photo_at(64, 48)
    plain.info.clear()  # not even the photograph's own profile
    for fmt in ("PNG", "JPEG", "WEBP", "TIFF", "GIF", "BMP"):
        assert run(images.encode(plain, fmt)).metadata.metadata_removed == (), fmt


def test_png_text_time_xmp_and_exif_chunks_are_listed_as_stripped() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "hello")
    info.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta xmlns:x="adobe:ns:meta/"/>')
    data = images.encode(images.photo_at(64, 48), "PNG", pnginfo=info, exif=camera_exif())
    time_chunk = b"\x00\x00\x00\x07tIME\x07\xe8\x01\x02\x03\x04\x05\x8d\x8a\xd2\xd5"
    data = data[:-12] + time_chunk + data[-12:]
    removed = set(run(data).metadata.metadata_removed or ())
    assert {"text", "xmp", "time", "gps", "exif:MakerNote"} <= removed


def test_bytes_after_a_jpeg_and_its_previews_are_listed_as_stripped() -> None:
    data = images.encode(images.photo_at(64, 48), "JPEG") + b"a maker's trailer"
    assert run(data).metadata.metadata_removed == ("trailer",)
    zeros = images.encode(images.photo_at(64, 48), "JPEG") + bytes(64)
    assert run(zeros).metadata.metadata_removed == ()


def test_manifests_written_before_these_fields_still_read() -> None:
    meta = run(camera_jpeg()).metadata
    document = meta.to_json()
    assert isinstance(document["metadata_removed"], list)
    assert ImageMetadata.from_json(document) == meta
    older = {
        key: value
        for key, value in document.items()
        if key not in {"content_sha256", "thumbhash", "dominant_color", "metadata_removed"}
    }
    old = ImageMetadata.from_json(older)
    assert (old.content_sha256, old.thumbhash, old.dominant_color) == (None, None, None)
    assert old.metadata_removed is None  # not recorded then: unknown, not "nothing"
