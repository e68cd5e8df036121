"""A step run every `interval` seconds in a daemon thread: at once again while it reports work
left, later (with backoff) after a fault; on stop, one last step."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Self

from core.errors import TransientError

MAX_BACKOFF_SECONDS = 30.0


class Periodic:
    def __init__(
        self, name: str, step: Callable[[], bool], interval: float, log: logging.Logger
    ) -> None:
        self.name = name
        self.step = step  # returns True when work is left waiting
        self.interval = interval
        self.log = log
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the step in hand, then one more (so what was just written is seen)."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            stopping = self._stop.is_set()
            delay = self.interval
            try:
                if self.step():
                    delay = 0.0
                self.failures = 0
            except TransientError as error:
                self.failures += 1
                delay = min(MAX_BACKOFF_SECONDS, self.interval * 2**self.failures)
                self.log.warning("%s failed, again in %.1f s: %s", self.name, delay, error.detail)
            except Exception:
                self.failures += 1
                delay = min(MAX_BACKOFF_SECONDS, self.interval * 2**self.failures)
                self.log.exception("%s failed, again in %.1f s", self.name, delay)
            if stopping:
                return
            self._stop.wait(delay)
