"""The decode budget: what waits, what runs together, what runs alone, and what is estimated."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from core.budget import DecodeBudget, budget_for, decode_estimate
from core.config import load_settings
from core.errors import TransientError
from tests.images import in_format, jpeg_photo, png_header_declaring

SETTLE = 0.2  # long enough for a thread that could enter to have entered


class Holder:
    """A thread holding a reservation until told to let go."""

    def __init__(self, budget: DecodeBudget, size: int) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None
        self.entered_at = 0.0
        self._thread = threading.Thread(target=self._run, args=(budget, size), daemon=True)
        self._thread.start()

    def _run(self, budget: DecodeBudget, size: int) -> None:
        try:
            with budget.reserve(size):
                self.entered_at = time.monotonic()
                self.entered.set()
                self.release.wait(10)
        except BaseException as error:
            self.error = error

    def done(self) -> None:
        self.release.set()
        self._thread.join(10)


def _eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 5
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_reservations_that_fit_together_run_together() -> None:
    budget = DecodeBudget(100, wait=5)
    first, second = Holder(budget, 40), Holder(budget, 60)
    assert first.entered.wait(5) and second.entered.wait(5)
    assert budget.in_flight == 100
    first.done(), second.done()
    assert budget.in_flight == 0


def test_a_reservation_beyond_the_budget_waits_until_room_frees() -> None:
    budget = DecodeBudget(100, wait=5)
    holding = Holder(budget, 80)
    assert holding.entered.wait(5)
    waiting = Holder(budget, 40)
    assert not waiting.entered.wait(SETTLE)
    released_at = time.monotonic()
    holding.done()
    assert waiting.entered.wait(5)
    assert waiting.entered_at >= released_at
    waiting.done()
    assert waiting.error is None


def test_waiting_longer_than_the_bound_is_a_transient_error_with_retry_after() -> None:
    budget = DecodeBudget(100, wait=0.3)
    holding = Holder(budget, 100)
    assert holding.entered.wait(5)
    started = time.monotonic()
    with pytest.raises(TransientError) as refused, budget.reserve(1):
        pass
    assert 0.25 <= time.monotonic() - started < 3
    assert refused.value.retry_after >= 1
    assert refused.value.dependency == "decoding capacity"
    holding.done()
    with budget.reserve(1):  # the refused reservation left nothing behind
        assert budget.in_flight == 1


def test_an_image_larger_than_the_whole_budget_runs_alone() -> None:
    budget = DecodeBudget(100, wait=5)
    small = Holder(budget, 10)
    assert small.entered.wait(5)
    huge = Holder(budget, 1_000)
    assert not huge.entered.wait(SETTLE)  # not beside anything
    small.done()
    assert huge.entered.wait(5)  # but alone, yes
    assert budget.in_flight == 1_000
    behind = Holder(budget, 1)
    assert not behind.entered.wait(SETTLE)
    huge.done()
    assert behind.entered.wait(5)
    behind.done()


def test_a_large_image_is_not_overtaken_by_small_ones_that_would_fit() -> None:
    budget = DecodeBudget(100, wait=5)
    holding = Holder(budget, 60)
    assert holding.entered.wait(5)
    large = Holder(budget, 80)
    assert _eventually(lambda: budget.waiting == 1)
    small = Holder(budget, 10)  # 60 + 10 fits, but the large one came first
    assert not small.entered.wait(SETTLE)
    holding.done()
    assert large.entered.wait(5) and small.entered.wait(5)
    assert large.entered_at <= small.entered_at
    large.done(), small.done()


def test_the_budget_is_one_per_process_for_the_same_settings() -> None:
    settings = load_settings(decode_budget_bytes=12345, decode_budget_wait_seconds=1.5)
    assert budget_for(settings) is budget_for(settings.model_copy())
    assert budget_for(settings).capacity == 12345
    assert budget_for(settings).wait == 1.5


def test_the_estimate_comes_from_the_header_before_any_pixel_is_decoded() -> None:
    settings = load_settings()
    # A 7000x7000 RGB PNG declared by a 100-byte header, charged its measured peak per pixel.
    assert decode_estimate(png_header_declaring(7000, 7000), settings) == 7000 * 7000 * 7
    assert decode_estimate(jpeg_photo(400, 300), settings) == 400 * 300 * 7
    assert decode_estimate(in_format("gif", 96, 64), settings) == 96 * 64 * 13  # palette
    assert decode_estimate(in_format("webp", 96, 64), settings) == 96 * 64 * 16  # libwebp's own


def test_what_processing_refuses_before_decoding_costs_nothing() -> None:
    settings = load_settings(max_pixels=1_000_000)
    assert decode_estimate(png_header_declaring(2000, 2000), settings) == 0  # over max_pixels
    assert decode_estimate(b"<svg xmlns='http://www.w3.org/2000/svg'/>", settings) == 0
    assert decode_estimate(b"\xff\xd8\xff\xe0 not a jpeg at all", settings) == 0
