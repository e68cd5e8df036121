"""Where events go: an EventBridge bus, a Kafka results topic (CloudEvents binary mode)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from core.errors import ConfigError, TransientError
from core.events.cloudevents import Event

if TYPE_CHECKING:
    from core.config import Settings
    from core.events.publisher import Sink

log = logging.getLogger("imgpipe.events")

# PutEvents takes at most 10 entries per call.
EVENTBRIDGE_BATCH: Final = 10
ATTEMPTS: Final = 4  # per run; the runner tries again later with its own backoff


class EverySink:
    """A sink that takes every customer's events (a webhook takes only its customer's)."""

    def wants(self, event: Event) -> bool:
        return True


@dataclass(eq=False)
class EventBridgeSink(EverySink):
    """PutEvents to one bus: Source and DetailType from the CloudEvent, Detail the whole of it,
    so rules match `detail-type` (com.imgpipe.image.processed ...) or `source`. Entries that
    fail (throttled, internal) are sent again, the others not."""

    name: ClassVar[str] = "eventbridge"
    bus: str
    client: Any
    backoff: float = 0.2

    def send(self, events: Sequence[Event]) -> None:
        for start in range(0, len(events), EVENTBRIDGE_BATCH):
            self._put([self._entry(e) for e in events[start : start + EVENTBRIDGE_BATCH]])

    def _entry(self, event: Event) -> dict[str, Any]:
        return {
            "EventBusName": self.bus,
            "Source": event.source,
            "DetailType": event.type,
            "Detail": json.dumps(event.to_json(), separators=(",", ":")),
            "Time": event.time,
            "Resources": [],
        }

    def _put(self, entries: list[dict[str, Any]]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(ATTEMPTS):
            try:
                answer = self.client.put_events(Entries=entries)
            except (BotoCoreError, ClientError) as error:
                reason = f"PutEvents failed: {error}"
            else:
                results = answer.get("Entries", [])
                if not answer.get("FailedEntryCount") and len(results) == len(entries):
                    return
                if len(results) == len(entries):  # else: which ones failed is unknown, all again
                    entries = [e for e, r in zip(entries, results, strict=True) if "ErrorCode" in r]
                reason = f"{len(entries)} entries refused: {results[:1]}"
            if attempt + 1 < ATTEMPTS:
                time.sleep(self.backoff * 2**attempt)
        raise TransientError(reason)


@dataclass(eq=False)
class KafkaSink(EverySink):
    """The results topic, in CloudEvents' Kafka binary mode: the attributes as `ce_*` headers,
    `content-type` the data's, the data as the value; keyed by the image id (the event id when
    refused), so an image's events stay in order on one partition."""

    name: ClassVar[str] = "kafka"
    topic: str
    producer: Any
    # A healthy broker acknowledges in milliseconds; an unreachable one must not hold a worker's
    # SIGTERM (its last publish run) past a container's stop timeout. Unsent events stay behind
    # the cursor for the next run.
    timeout: float = 10.0

    def send(self, events: Sequence[Event]) -> None:
        errors: list[Any] = []

        def report(error: Any, _message: Any) -> None:
            if error is not None:
                errors.append(error)

        for event in events:
            self.producer.produce(
                self.topic,
                value=event.data_bytes(),
                key=(event.subject or event.id).encode(),
                headers=binary_headers(event),
                on_delivery=report,
            )
            self.producer.poll(0)
        left = self.producer.flush(self.timeout)
        if left or errors:
            raise TransientError(f"results topic {self.topic}: {left} unsent, {errors[:1]}")


def binary_headers(event: Event) -> list[tuple[str, bytes]]:
    doc = event.to_json()
    headers = [
        (f"ce_{name}", str(doc[name]).encode())
        for name in ("specversion", "id", "source", "type", "subject", "time")
        if doc.get(name) is not None
    ]
    return [*headers, ("content-type", event.datacontenttype.encode())]


def open_sinks(
    settings: Settings, kafka_config: Callable[[Settings], dict[str, Any]] | None = None
) -> list[Sink]:
    """The sinks the settings name (none by default). `kafka_config` makes the producer's
    client configuration (brokers, TLS, SASL) where the stream role provides it."""
    from core.events.webhooks import WebhookSink

    sinks: list[Sink] = []
    if settings.events_bus_name:
        import boto3

        client = boto3.client(
            "events",
            region_name=settings.aws_region,
            endpoint_url=settings.events_endpoint_url,
        )
        sinks.append(EventBridgeSink(settings.events_bus_name, client))
    if settings.events_kafka_topic:
        if kafka_config is None:
            raise ConfigError("IMGPIPE_EVENTS_KAFKA_TOPIC: the results topic needs imgpipe[stream]")
        from confluent_kafka import Producer

        config = {**kafka_config(settings), "acks": "all", "enable.idempotence": True}
        sinks.append(KafkaSink(settings.events_kafka_topic, Producer(config)))
    for customer, url in sorted(settings.events_webhooks.items()):
        secret = settings.events_webhook_secrets.get(customer)
        if secret is None:
            raise ConfigError(f"IMGPIPE_EVENTS_WEBHOOK_SECRETS: no secret for customer {customer}")
        sinks.append(
            WebhookSink(
                customer,
                url,
                secret.get_secret_value().encode(),
                allow_private=settings.events_webhook_allow_private,
                attempts=settings.events_webhook_attempts,
            )
        )
    return sinks
