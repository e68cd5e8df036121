"""The output-format table: one row per format feeds renditions, the encoder and the API."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

import core.processing.formats
from core.config import load_settings
from core.errors import ConfigError
from core.processing import OUTPUT_FORMATS, OUTPUT_MEDIA_TYPES, RenditionSpec, process
from core.processing.formats import can_encode
from tests import images


@pytest.fixture(autouse=True)
def _no_imgpipe_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in [v for v in os.environ if v.startswith("IMGPIPE_")]:
        monkeypatch.delenv(variable)


@pytest.mark.parametrize("name", list(OUTPUT_FORMATS))
def test_a_rendition_takes_its_extension_media_type_and_encoder_from_its_row(name: str) -> None:
    row = OUTPUT_FORMATS[name]
    spec = RenditionSpec(name="r", longest_side=32, format=name)
    assert (spec.extension, spec.content_type) == (row.extension, row.media_type)
    policy = load_settings(renditions=[spec]).processing
    (rendition,) = process(images.png_rgba(48, 32), policy).renditions
    assert (rendition.extension, rendition.content_type) == (row.extension, row.media_type)
    with Image.open(io.BytesIO(rendition.data)) as decoded:
        assert decoded.format == row.pillow_name
        # Transparency survives exactly where the row says the format keeps it.
        assert ("A" in decoded.getbands()) is row.alpha


def test_the_media_types_of_every_row_are_importable_for_the_api() -> None:
    assert OUTPUT_MEDIA_TYPES == ("image/jpeg", "image/webp", "image/avif")


def test_this_installation_encodes_each_format_of_the_table_and_nothing_unknown() -> None:
    assert all(row.available() for row in OUTPUT_FORMATS.values())
    assert not can_encode("NO-SUCH-FORMAT")


def test_a_rendition_in_a_format_pillow_cannot_encode_stops_the_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(core.processing.formats, "can_encode", lambda name: name != "AVIF")
    monkeypatch.setenv("IMGPIPE_RENDITIONS", "display:2048:jpeg,small:512:avif:60")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "IMGPIPE_RENDITIONS" in str(caught.value)
    assert "avif renditions cannot be encoded" in str(caught.value)
