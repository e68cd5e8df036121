"""The processing policy: what the pipeline is told of the settings, and the limits' refusals."""

from __future__ import annotations

import pytest

from core.config import Settings
from core.errors import ErrorCode, PermanentError
from core.limits import (
    Limits,
    refuse_if_out_of_range,
    refuse_if_too_large,
    refuse_if_too_many_frames,
)
from core.processing import ProcessingPolicy

LIMITS = Limits(max_bytes=1000, max_pixels=10_000, max_side=200, max_frames=3)


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
