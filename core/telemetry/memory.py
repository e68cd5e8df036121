"""A diagnostic of long runs: on SIGUSR1, where Python's allocations grew since the last signal.

Off unless the interpreter traces allocations (PYTHONTRACEMALLOC=1, which `python -m bench.soak
--tracemalloc` sets for the processes it drives): tracing costs CPU and memory of its own.
"""

from __future__ import annotations

import signal
import sys
import threading
import tracemalloc
from types import FrameType

TOP = 20
MARKER = "tracemalloc growth"

_last: tracemalloc.Snapshot | None = None


def dump_on_signal() -> None:
    """Print the top growth to stderr at each SIGUSR1, when allocations are traced."""
    if tracemalloc.is_tracing() and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, _dump)


def _dump(_signum: int, _frame: FrameType | None) -> None:
    global _last  # noqa: PLW0603 - the previous signal's snapshot is what the next compares to
    snapshot = tracemalloc.take_snapshot().filter_traces(
        (tracemalloc.Filter(inclusive=False, filename_pattern=tracemalloc.__file__),)
    )
    current, peak = tracemalloc.get_traced_memory()
    lines = [f"{MARKER}: traced {current / 2**20:.1f} MiB (peak {peak / 2**20:.1f} MiB)"]
    if _last is not None:
        lines += [f"  {stat}" for stat in snapshot.compare_to(_last, "lineno")[:TOP]]
    _last = snapshot
    print("\n".join(lines), file=sys.stderr, flush=True)
