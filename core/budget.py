"""The decode budget: decoded pixel bytes in flight in one process, bounded; memory given back."""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING

from PIL import Image

from core.errors import PermanentError, TransientError
from core.processing import sniff_format

if TYPE_CHECKING:
    from core.config import Settings

RETRY_AFTER_SECONDS = 2.0
# Trimming walks the allocator's heaps: worth it once a burst has freed this much, not after
# every small image.
TRIM_AFTER_BYTES = 64 * 1024 * 1024
# Peak bytes per pixel of process(), measured on 5000x5000 images: by the decoded mode (RGB
# PNG 6.3, RGB and CMYK JPEG 4.9, RGBA PNG 9.0, LA 7.0, palette 12.9, grey 1.9) ...
_MODE_BYTES = {"grey": 2, "wide": 10, "colour": 7, "alpha": 9, "palette": 13}
# ... plus what a decoder holds beside Pillow's image: libwebp, libavif and libheif decode into
# buffers of their own (RGB WebP 16.0, AVIF 25.5, HEIF 23.9 in all).
_DECODER_BYTES = {"webp": 9, "avif": 19, "heif": 17}
_MOST_BYTES = max(_MODE_BYTES.values()) + max(_DECODER_BYTES.values())


def _kind(mode: str) -> str:
    if mode in ("1", "L"):
        return "grey"
    if mode.startswith(("I", "F")):
        return "wide"  # 16-bit and float grey pass through a 32-bit copy on the way to 8 bits
    if mode in ("P", "PA"):
        return "palette"
    return "alpha" if "A" in mode or "a" in mode else "colour"


class DecodeBudget:
    """Bytes of decoded pixels that may be in flight at once. Reservations take turns first
    come, first served (a large image is not starved by a stream of small ones) and wait at most
    `wait` seconds, then raise TransientError. One larger than the whole budget runs once nothing
    else is in flight: refusing it would make this a second pixel limit, which max_pixels is."""

    def __init__(self, capacity: int, wait: float) -> None:
        self.capacity = capacity
        self.wait = wait
        self._in_flight = 0
        self._freed = 0  # since the allocator was last trimmed
        self._queue: deque[object] = deque()
        self._turn = threading.Condition()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @contextlib.contextmanager
    def reserve(self, size: int) -> Iterator[None]:
        """Hold `size` bytes of the budget for the block."""
        if size <= 0:
            yield
            return
        self._acquire(size)
        try:
            yield
        finally:
            self._release(size)

    def _acquire(self, size: int) -> None:
        ticket = object()
        deadline = time.monotonic() + self.wait
        with self._turn:
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or not self._fits(size):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TransientError(
                            f"decode budget full: {size} bytes waited {self.wait:g} s with "
                            f"{self._in_flight} of {self.capacity} in flight",
                            retry_after=RETRY_AFTER_SECONDS,
                            dependency="decoding capacity",
                        )
                    self._turn.wait(remaining)
                self._in_flight += size
            finally:
                self._queue.remove(ticket)
                self._turn.notify_all()  # the next in line may fit as well

    def _fits(self, size: int) -> bool:
        return self._in_flight == 0 or self._in_flight + size <= self.capacity

    def _release(self, size: int) -> None:
        with self._turn:
            self._in_flight -= size
            self._freed += size
            trim = self._in_flight == 0 and self._freed >= TRIM_AFTER_BYTES
            if trim:
                self._freed = 0
            self._turn.notify_all()
        if trim:
            give_back_memory()


_budgets: dict[tuple[int, float], DecodeBudget] = {}
_budgets_lock = threading.Lock()


def budget_for(settings: Settings) -> DecodeBudget:
    """The process's budget for these settings: one per process, shared by every thread."""
    key = (settings.decode_budget_bytes, settings.decode_budget_wait_seconds)
    with _budgets_lock:
        if key not in _budgets:
            _budgets[key] = DecodeBudget(*key)
        return _budgets[key]


@contextlib.contextmanager
def decoding(data: bytes, settings: Settings) -> Iterator[None]:
    """Room in the decode budget for this image while the block decodes it. Raises
    TransientError when none frees up in time."""
    with budget_for(settings).reserve(decode_estimate(data, settings)):
        yield


def decode_estimate(data: bytes, settings: Settings) -> int:
    """The peak bytes that decoding and resizing the image will take, from its header alone;
    0 when processing will refuse it before any pixel is decoded (not an image, a header it
    cannot read, over the limits)."""
    ceiling = Image.MAX_IMAGE_PIXELS  # processing caps max_pixels by it too
    limit = settings.max_pixels if ceiling is None else min(settings.max_pixels, ceiling)
    try:
        fmt = sniff_format(data)
    except PermanentError:
        return 0
    if fmt == "heif":
        _open_heif_too()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=[fmt.upper()]) as image:
                width, height, mode = image.width, image.height, image.mode
    except Image.DecompressionBombError:
        return 0
    except Exception:
        Image.init()
        if fmt.upper() in Image.OPEN:
            return 0  # the same plugin will refuse the same header in processing
        # A format this installation's Image.open cannot read at all: charge what the largest
        # acceptable image could take.
        return limit * _MOST_BYTES
    pixels = width * height
    if pixels > limit or max(width, height) > settings.max_side:
        return 0
    return pixels * (_MODE_BYTES[_kind(mode)] + _DECODER_BYTES.get(fmt, 0))


@cache
def _open_heif_too() -> None:
    """Let Image.open read HEIF headers, where pillow_heif is installed (processing uses its
    plugin class directly)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return
    register_heif_opener()


# --- the allocator ----------------------------------------------------------------------------

# glibc's mallopt parameters (MALLOC_MMAP_THRESHOLD_ and MALLOC_ARENA_MAX set them at start).
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 8 * 1024 * 1024


@cache
def _glibc() -> ctypes.CDLL | None:
    """The C library the interpreter runs on, when it is glibc (malloc_trim and mallopt are
    glibc's own). Looked up among the process's symbols: find_library would run ldconfig."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def give_back_memory() -> None:
    """Return the allocator's free pages to the system after a burst of large decodes: glibc
    otherwise keeps them in its arenas, and the process stays at its peak."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def tune_allocator() -> None:
    """Make glibc give freed pixel memory back: at most ARENAS malloc arenas (by default 8 per
    core: each thread of a pool lands in one and keeps what it freed) and a fixed mmap threshold
    (glibc raises its own past Pillow's 16 MB pixel blocks once one is freed, and keeps them in
    the heap). Twelve concurrent 7000x7000 PNGs peak at 644 MB, against 1,014 MB with the arena
    cap alone and 2,681 MB with neither; it costs about 5-8% more CPU per 1 MP image (side by
    side, alternating rounds). Call it before threads start; MALLOC_ARENA_MAX and
    MALLOC_MMAP_THRESHOLD_, when set, win."""
    libc = _glibc()
    if libc is None:
        return
    if "MALLOC_ARENA_MAX" not in os.environ:
        libc.mallopt(M_ARENA_MAX, ARENAS)
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
