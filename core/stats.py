"""The key statistics as readers get them: totals and series for a date range and scope."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, cast


@dataclass(frozen=True, slots=True)
class DailyVolume:
    """stats_daily summed over customers: one day, source and status."""

    day: date
    source: str
    status: str
    events: int
    images: int  # distinct images that day (images of two customers never coincide)
    bytes_in: int
    bytes_out: int
    processing_ms_total: float


@dataclass(frozen=True, slots=True)
class DailyLatency:
    """Processing time of processed events, one day and source."""

    day: date
    source: str
    events: int
    p50_ms: float
    p95_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class DailyRejections:
    day: date
    source: str
    reason: str
    events: int


@dataclass(frozen=True, slots=True)
class FormatShare:
    """Accepted events of one source format over the range."""

    format: str
    events: int
    new_images: int
    bytes_in: int
    bytes_out: int


@dataclass(frozen=True, slots=True)
class CustomerVolume:
    customer_id: str
    events: int
    processed: int
    duplicates: int
    rejected: int
    bytes_in: int
    bytes_out: int


@dataclass(frozen=True, slots=True)
class Totals:
    """The range in numbers. Latency percentiles cannot be summed over days: see `latency`."""

    events: int = 0
    processed: int = 0  # = new images in the range
    duplicates: int = 0
    rejected: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    output_ratio: float | None = None  # bytes_out / bytes_in of processed events
    mean_processing_ms: float | None = None  # over processed events
    rejections_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Stats:
    """The key statistics for a filter, read from the stats views (what QuickSight reads)."""

    since: date | None
    until: date | None
    source: str | None
    customer_id: str | None
    totals: Totals
    daily: tuple[DailyVolume, ...]
    latency: tuple[DailyLatency, ...]
    rejections: tuple[DailyRejections, ...]
    formats: tuple[FormatShare, ...]
    customers: tuple[CustomerVolume, ...]

    @property
    def empty(self) -> bool:
        return self.totals.events == 0

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types: dates as ISO strings."""

        def plain(value: Any) -> Any:
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        return cast(dict[str, Any], plain(asdict(self)))


def totals_of(daily: Iterable[DailyVolume], rejections: Iterable[DailyRejections]) -> Totals:
    by_status: dict[str, int] = {}
    bytes_in = bytes_out = 0
    processed_in = processed_out = 0
    processed_ms = 0.0
    for row in daily:
        by_status[row.status] = by_status.get(row.status, 0) + row.events
        bytes_in += row.bytes_in
        bytes_out += row.bytes_out
        if row.status == "processed":
            processed_in += row.bytes_in
            processed_out += row.bytes_out
            processed_ms += row.processing_ms_total
    reasons: dict[str, int] = {}
    for rejection in rejections:
        reasons[rejection.reason] = reasons.get(rejection.reason, 0) + rejection.events
    processed = by_status.get("processed", 0)
    return Totals(
        events=sum(by_status.values()),
        processed=processed,
        duplicates=by_status.get("duplicate", 0),
        rejected=by_status.get("rejected", 0),
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        output_ratio=processed_out / processed_in if processed_in else None,
        mean_processing_ms=processed_ms / processed if processed else None,
        rejections_by_reason=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    )
