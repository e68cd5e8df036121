"""One batch of Kafka records through the ingest use case, the same for Lambda and the consumer."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import PermanentError, TransientError
from core.ingest import ingest_batch
from core.models import IngestRequest, IngestResult
from core.telemetry import metrics
from core.telemetry.logs import correlated
from core.telemetry.traces import span
from services.stream_worker.deadletter import DeadLetter, DeadLetters
from services.stream_worker.records import KafkaRecord, decode, msk_records, refused

if TYPE_CHECKING:
    from core.bootstrap import Context

log = logging.getLogger("imgpipe.stream")

KAFKA_SOURCES = {"aws:kafka", "SelfManagedKafka"}


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What became of a batch: one result per record, in the records' order."""

    results: list[IngestResult]
    dead_lettered: int

    @property
    def stored(self) -> int:
        return sum(1 for result in self.results if result.status != "rejected")


def process_records(
    records: Sequence[KafkaRecord],
    ctx: Context,
    dead_letters: DeadLetters,
    unreadable: Mapping[int, PermanentError] | None = None,
) -> BatchReport:
    """Decode, ingest (objects, then every row in one write), then dead-letter the refused.

    `unreadable` maps the index of a record that could not even be read from its envelope to
    the reason. Raises TransientError when storage, the warehouse, an allowed S3 source or the
    dead-letter destination is unreachable: nothing is then acknowledged, and a retry of the
    same records makes no second row (ids are deterministic)."""
    with correlated(**batch_fields(records)):
        return _process(records, ctx, dead_letters, unreadable or {})


def batch_fields(records: Sequence[KafkaRecord]) -> dict[str, Any]:
    """The log fields naming a batch: topic, partition and offset range (of each partition,
    in `correlation_id`, when the batch spans several)."""
    ranges: dict[tuple[str, int], tuple[int, int]] = {}
    for record in records:
        key = (record.topic, record.partition)
        low, high = ranges.get(key, (record.offset, record.offset))
        ranges[key] = (min(low, record.offset), max(high, record.offset))
    spans = [
        f"{topic}:{partition}:{low}-{high}" for (topic, partition), (low, high) in ranges.items()
    ]
    fields: dict[str, Any] = {"correlation_id": ",".join(spans)}
    if len(ranges) == 1:
        (((topic, partition), (low, high)),) = ranges.items()
        fields.update(topic=topic, partition=partition, offsets=f"{low}-{high}")
    return fields


def _process(
    records: Sequence[KafkaRecord],
    ctx: Context,
    dead_letters: DeadLetters,
    unreadable: Mapping[int, PermanentError],
) -> BatchReport:
    def request_for(index: int) -> IngestRequest:
        record = records[index]
        if index in unreadable:
            return refused(record, ctx.settings, unreadable[index])
        try:
            return decode(record, ctx.settings)
        except PermanentError as error:
            return refused(record, ctx.settings, error)

    requests = list(ctx.map(request_for, range(len(records))))
    results = ingest_batch(requests, ctx)
    letters = [
        DeadLetter(
            record=record,
            code=result.error_code,
            detail=result.error_detail or "",
            event_id=result.event_id,
            customer_id=result.customer_id,
        )
        for record, result in zip(records, results, strict=True)
        if result.status == "rejected" and result.error_code is not None
    ]
    if letters:
        with span("dead_letters"):
            dead_letters.send(letters)
        for letter in letters:
            metrics.count("DeadLetters", source="stream", code=letter.code)
            log.info(
                "dead-lettered %s: %s %s", letter.record.coordinates, letter.code, letter.detail
            )
    return BatchReport(results, len(letters))


def records_of_event(
    event: Mapping[str, Any],
) -> tuple[list[KafkaRecord], dict[int, PermanentError]]:
    """The records of an MSK event, and the reasons of those whose envelope is unreadable
    (bad base64, bad headers): they are refused and dead-lettered like any bad record."""
    records: list[KafkaRecord] = []
    unreadable: dict[int, PermanentError] = {}
    for item in msk_records(event):
        try:
            records.append(KafkaRecord.from_msk(item))
        except PermanentError as error:
            topic, partition, offset = item.get("topic"), item.get("partition"), item.get("offset")
            if not (
                isinstance(topic, str) and isinstance(partition, int) and isinstance(offset, int)
            ):
                # Without coordinates Lambda cannot have sent it, nor can anyone retry it.
                log.error("event record without coordinates ignored: %s", error.detail)
                continue
            raw = item.get("value")
            unreadable[len(records)] = error
            records.append(
                KafkaRecord(
                    topic,
                    partition,
                    offset,
                    value=raw.encode() if isinstance(raw, str) else None,  # kept as it came
                )
            )
    return records, unreadable


def first_offsets(records: Sequence[KafkaRecord]) -> dict[tuple[str, int], int]:
    """The lowest offset of each (topic, partition) of the records, in order of appearance:
    where a batch that was not stored must be read again."""
    first: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        first[key] = min(record.offset, first.get(key, record.offset))
    return first


def handle_event(
    event: Mapping[str, Any], ctx: Context, dead_letters: DeadLetters
) -> dict[str, Any]:
    """Ingest every record of an MSK event; the response Lambda expects of a Kafka source.

    When storage, the warehouse or the dead-letter destination is down, nothing of the batch is
    acknowledged: with `ctx.settings.stream_report_batch_item_failures` the answer names the
    first offset of every partition as failed, as `{"partition": "<topic>-<partition>",
    "offset": <offset>}` (Kafka sources take a plain string as a malformed answer), so Lambda
    resumes each partition there; without it the TransientError is raised for Lambda to retry
    the whole batch."""
    source = event.get("eventSource")
    if source not in KAFKA_SOURCES:
        raise ValueError(f"not a Kafka event (eventSource {source!r})")
    records, unreadable = records_of_event(event)
    if not records:
        return {"batchItemFailures": []}
    with correlated(**batch_fields(records)):
        return _answer(records, unreadable, ctx, dead_letters)


def _answer(
    records: list[KafkaRecord],
    unreadable: dict[int, PermanentError],
    ctx: Context,
    dead_letters: DeadLetters,
) -> dict[str, Any]:
    try:
        report = process_records(records, ctx, dead_letters, unreadable)
    except TransientError as error:
        if not ctx.settings.stream_report_batch_item_failures:
            raise
        log.warning("batch of %d records to be retried: %s", len(records), error.detail)
        return {
            "batchItemFailures": [
                {"itemIdentifier": {"partition": f"{topic}-{partition}", "offset": offset}}
                for (topic, partition), offset in first_offsets(records).items()
            ]
        }
    log.info(
        "batch of %d records: %d stored, %d dead-lettered",
        len(records),
        report.stored,
        report.dead_lettered,
    )
    return {"batchItemFailures": []}
