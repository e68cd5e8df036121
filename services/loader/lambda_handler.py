"""The scheduled loader's Lambda handler: `services.loader.lambda_handler.handler`.

EventBridge Scheduler invokes it every minute (reserved concurrency 1, so loads never overlap;
the warehouse's lock would make a second one wait anyway). Each invocation loads until nothing
is waiting or the invocation's time is nearly up, and returns what it did. A warehouse that
does not answer fails the invocation: the facts wait in S3 for the next one. When an event sink
is configured (the template names its bus, and a results topic when given one), the
invocation first announces the new facts: events do not wait for the warehouse either.

This module is only the wiring: the Context is built once per container, at import.
"""

from __future__ import annotations

from typing import Any

from core.bootstrap import default_context
from core.config import Settings
from core.events.publisher import PublishReport, describe
from core.events.runner import KafkaConfig, publisher_for
from core.loader import LoadReport, load_once
from core.telemetry.logs import configure as configure_logging
from services.invocation import instrumented

# A load must finish before Lambda's timeout; one takes seconds, so stop with this much left.
RESERVE_MS = 30_000


def _results_topic_config(settings: Settings) -> KafkaConfig | None:
    """The results topic's producer settings (MSK IAM on AWS), only when one is configured:
    the Kafka client is imported for it alone."""
    if not settings.events_kafka_topic:
        return None
    from services.stream_worker.kafka_config import client_config

    return client_config


_context = default_context()
configure_logging(_context.settings.log_level)
_publisher = publisher_for(_context, _results_topic_config(_context.settings))


@instrumented
def handler(event: Any = None, context: Any = None) -> dict[str, Any]:
    """Publish and load while fact objects wait and time remains; a summary of both."""
    published = _publish(context)
    reports: list[LoadReport] = []
    while True:
        report = load_once(_context)
        reports.append(report)
        if not report.pending or _remaining_ms(context) < RESERVE_MS:
            break
    last = reports[-1]
    summary: dict[str, Any] = {
        "loads": len(reports),
        "files": sum(r.files for r in reports),
        "rows": sum(r.rows_written for r in reports),
        "rejected": sum(len(r.rejected) for r in reports),
        "pending": last.pending,
        "lag_seconds": round(last.lag_seconds, 3),
    }
    if published is not None:
        summary["events"] = describe(published)
    return summary


def _publish(context: Any) -> PublishReport | None:
    """New events to the sinks; a sink that fails keeps its cursor and does not fail the load."""
    if _publisher is None:
        return None
    report = _publisher.publish_once()
    while report.pending and _remaining_ms(context) > RESERVE_MS * 4:
        report = _publisher.publish_once()
    return report


def _remaining_ms(context: Any) -> int:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else RESERVE_MS * 10
