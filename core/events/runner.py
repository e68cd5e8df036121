"""The publisher beside the loader: a background thread of `imgpipe serve` and `imgpipe consume`
when a sink is configured, and one run for the scheduled Lambda."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.errors import TransientError
from core.events.publisher import Publisher, PublishReport
from core.events.sinks import open_sinks
from core.periodic import Periodic

if TYPE_CHECKING:
    from core.bootstrap import Context
    from core.config import Settings

log = logging.getLogger("imgpipe.events")

KafkaConfig = Callable[["Settings"], dict[str, Any]]


def publisher_for(ctx: Context, kafka_config: KafkaConfig | None = None) -> Publisher | None:
    """The publisher of the configured sinks; None when none is configured."""
    settings = ctx.settings
    if not settings.events_configured:
        return None
    return Publisher(
        ctx.objects,
        open_sinks(settings, kafka_config),
        settle_seconds=settings.events_settle_seconds,
        max_files=settings.events_max_files,
    )


def start_publisher(ctx: Context, kafka_config: KafkaConfig | None = None) -> Periodic | None:
    """A running publisher thread, or None when no sink is configured or the interval is 0."""
    interval = ctx.settings.events_interval_seconds
    publisher = publisher_for(ctx, kafka_config) if interval > 0 else None
    if publisher is None:
        return None

    def step() -> bool:
        report: PublishReport = publisher.publish_once()
        if any(report.events.values()):
            log.info("published %s", report.events)
        if report.failed and not report.pending:
            raise TransientError(f"not delivered to {', '.join(report.failed)}")  # back off
        return report.pending

    return Periodic("publisher", step, interval, log).start()
