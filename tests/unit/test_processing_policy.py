"""The processing policy: what the pipeline is told of the settings, and the limits' refusals."""

from __future__ import annotations

import os

import pytest

from core.config import Settings, load_settings
from core.errors import ConfigError, ErrorCode, PermanentError
from core.limits import (
    Limits,
    refuse_if_out_of_range,
    refuse_if_too_large,
    refuse_if_too_many_frames,
)
from core.processing import ProcessingPolicy, RenditionSpec

LIMITS = Limits(max_bytes=1000, max_pixels=10_000, max_side=200, max_frames=3)


@pytest.fixture(autouse=True)
def _no_imgpipe_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in [v for v in os.environ if v.startswith("IMGPIPE_")]:
        monkeypatch.delenv(variable)


def _jpeg(spec: RenditionSpec) -> tuple[object, ...]:
    return spec.name, spec.longest_side, spec.format, spec.quality, spec.progressive, spec.optimize


def test_jpeg_options_are_read_as_compact_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "IMGPIPE_RENDITIONS",
        "a:2048:jpeg:90:progressive,b:1024:jpeg:optimize:progressive,c:256:optimize,d:128,e:64:webp",
    )
    assert [_jpeg(spec) for spec in load_settings().renditions] == [
        ("a", 2048, "jpeg", 90, True, False),
        ("b", 1024, "jpeg", 85, True, True),
        ("c", 256, "jpeg", 85, False, True),
        ("d", 128, "jpeg", 85, False, False),
        ("e", 64, "webp", 85, False, False),
    ]


def test_jpeg_options_are_read_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "IMGPIPE_RENDITIONS",
        '[{"name": "a", "longest_side": 900, "quality": 70, "progressive": true, '
        '"optimize": true}, {"name": "b", "longest_side": 90}]',
    )
    assert [_jpeg(spec) for spec in load_settings().renditions] == [
        ("a", 900, "jpeg", 70, True, True),
        ("b", 90, "jpeg", 85, False, False),
    ]


def test_the_compact_form_of_a_spec_reads_back_as_the_same_spec() -> None:
    for spec in (
        RenditionSpec(name="a", longest_side=300, quality=70, progressive=True, optimize=True),
        RenditionSpec(name="b", longest_side=200, format="webp", quality=60),
        RenditionSpec(name="c", longest_side=100, optimize=True),
    ):
        assert RenditionSpec(**RenditionSpec.compact_fields(spec.compact)) == spec


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("RENDITIONS", "a:100:webp:80:progressive", "progressive and optimize are JPEG options"),
        ("RENDITIONS", "a:100:jpeg:80:fast", "'fast' is not a flag"),
        ("RENDITIONS", "a:100:jpeg:progressive:progressive", "'progressive' is not a flag"),
        ("RENDITIONS", "a:100:jpeg:80:progressive:optimize:x", "is not name:side"),
        ("RENDITIONS", "a", "is not name:side"),
        ("RENDITIONS", "display:2048:png", "'png' is not one of jpeg, webp, avif"),
        ("METADATA_KEEP_EXIF", "Copyright,GPSInfo", "GPS fields are never kept"),
        ("METADATA_KEEP_EXIF", "GPSLatitude", "GPS fields are never kept"),
        ("METADATA_KEEP_EXIF", "BodySerialNumber", "serial numbers are never kept"),
        ("METADATA_KEEP_EXIF", "LensSerialNumber", "serial numbers are never kept"),
        ("METADATA_KEEP_EXIF", "CameraSerialNumber", "serial numbers are never kept"),
        ("METADATA_KEEP_EXIF", "makernote", "MakerNote is never kept"),
        ("METADATA_KEEP_EXIF", "Orientation", "Orientation is never kept"),
        ("METADATA_KEEP_EXIF", "Copyrite", "'Copyrite' is not the name of an EXIF field"),
    ],
)
def test_bad_processing_settings_stop_the_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, complaint: str
) -> None:
    monkeypatch.setenv(f"IMGPIPE_{variable}", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"IMGPIPE_{variable}" in str(caught.value)
    assert complaint in str(caught.value)


def test_policy_carries_the_limits_renditions_and_tolerance_of_the_settings() -> None:
    settings = Settings(max_bytes=1234, max_pixels=5678, max_side=90, max_frames=7)
    policy = settings.processing
    assert policy == ProcessingPolicy.from_settings(settings)
    assert policy.limits == Limits(max_bytes=1234, max_pixels=5678, max_side=90, max_frames=7)
    assert policy.renditions == settings.renditions
    assert policy.size_tolerance == settings.size_tolerance
    assert policy.largest_side == 2048


def test_policy_is_built_once_per_settings() -> None:
    settings = Settings()
    assert settings.processing is settings.processing


def test_a_copy_of_the_settings_with_other_limits_has_a_policy_of_its_own() -> None:
    settings = Settings(max_bytes=1000)
    assert settings.processing.limits.max_bytes == 1000
    copied = settings.model_copy(update={"max_bytes": 2000})
    assert copied.processing.limits.max_bytes == 2000
    assert settings.processing.limits.max_bytes == 1000


def test_bytes_over_the_limit_are_refused_as_too_large_naming_the_input() -> None:
    refuse_if_too_large(1000, LIMITS)
    refuse_if_too_large(1000, 1000)
    with pytest.raises(PermanentError) as caught:
        refuse_if_too_large(1001, LIMITS, "s3://bucket/key")
    assert caught.value.code is ErrorCode.TOO_LARGE
    assert caught.value.detail == "s3://bucket/key: 1001 bytes is over the limit of 1000"
    with pytest.raises(PermanentError) as caught:
        refuse_if_too_large(5, 4)
    assert caught.value.detail == "5 bytes is over the limit of 4"


@pytest.mark.parametrize(
    ("width", "height", "code"),
    [
        (0, 10, ErrorCode.DIMENSIONS_OUT_OF_RANGE),
        (10, 0, ErrorCode.DIMENSIONS_OUT_OF_RANGE),
        (101, 100, ErrorCode.TOO_MANY_PIXELS),
        (201, 10, ErrorCode.DIMENSIONS_OUT_OF_RANGE),
        (10, 201, ErrorCode.DIMENSIONS_OUT_OF_RANGE),
    ],
)
def test_sizes_out_of_range_are_refused_with_their_own_code(
    width: int, height: int, code: ErrorCode
) -> None:
    with pytest.raises(PermanentError) as caught:
        refuse_if_out_of_range(width, height, LIMITS)
    assert caught.value.code is code
    assert f"{width}x{height}" in caught.value.detail


def test_sizes_within_range_and_frames_up_to_the_limit_pass() -> None:
    refuse_if_out_of_range(100, 100, LIMITS)
    refuse_if_out_of_range(200, 50, LIMITS)
    refuse_if_too_many_frames(3, LIMITS)
    with pytest.raises(PermanentError) as caught:
        refuse_if_too_many_frames(4, LIMITS)
    assert caught.value.code is ErrorCode.TOO_MANY_FRAMES
