"""Readiness: ingest needs object storage only; the warehouse and the loader's lag are reported."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import TransientError

if TYPE_CHECKING:
    from core.bootstrap import Context

log = logging.getLogger("imgpipe.health")

# Probes come every few seconds from every load balancer; the lag costs a listing.
LAG_CACHE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Readiness:
    storage: str  # "ok" or why not
    database: str
    lag_seconds: float | None  # age of the oldest fact not loaded yet; None: unknown

    @property
    def ready(self) -> bool:
        """Ready when storage is: the warehouse is not on the request path."""
        return self.storage == "ok"


class LagProbe:
    """The loader's lag, computed at most every LAG_CACHE_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: tuple[float, float | None] | None = None  # (when, lag)

    def lag(self, ctx: Context) -> float | None:
        from core.loader import lag_seconds

        with self._lock:
            now = time.monotonic()
            if self._value is not None and now - self._value[0] < LAG_CACHE_SECONDS:
                return self._value[1]
            try:
                value: float | None = round(lag_seconds(ctx), 3)
            except TransientError:
                value = None
            self._value = (now, value)
            return value


def readiness(ctx: Context, probe: LagProbe) -> Readiness:
    """Ping storage and the warehouse; the lag only when the warehouse answers."""
    checks: dict[str, str] = {}
    for name, ping in (("storage", ctx.objects.ping), ("database", ctx.warehouse.ping)):
        try:
            ping()
            checks[name] = "ok"
        except TransientError as error:
            # The specifics go to the log only: a probe's answer is seen by whoever asks.
            log.warning("readiness: %s unreachable: %s", name, error.detail)
            checks[name] = "unreachable"
    lag = probe.lag(ctx) if checks["database"] == "ok" and checks["storage"] == "ok" else None
    if checks["database"] == "ok" and ctx.warehouse.replaced_at is not None and lag:
        # Its file went and a new one is being filled from the fact log: lists and
        # statistics are short until the lag is gone.
        checks["database"] = "rebuilding from the fact log"
    return Readiness(checks["storage"], checks["database"], lag)
