"""The MSK event source's Lambda handler: `services.stream_worker.lambda_handler.handler`.

Refused records get a `rejected` row and go to the dead-letter destination; the batch goes on.
When storage, the warehouse or the dead-letter destination is down, nothing of the batch is
acknowledged: with ReportBatchItemFailures on the event source mapping (Kafka sources support
it in provisioned poller mode), the handler names the first offset of every partition in the
batch as failed, so Lambda resumes each partition there; the identifier is the object
`{"partition": "<topic>-<partition>", "offset": <offset>}` that Kafka sources require (a plain
string is taken as a malformed answer). Without that response type Lambda would read the
returned list as a success and drop the batch, so set IMGPIPE_STREAM_REPORT_BATCH_ITEM_FAILURES
to false there: the handler then raises, and Lambda retries the whole batch. Either way a
retried record makes no second row: image and event ids are deterministic.

The Context (settings, S3 client, database engine) is built once per container, at import.
Only core and this package are imported: no web framework.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from core.bootstrap import Context, default_context
from core.errors import TransientError
from services.stream_worker.batch import process_records, records_of_event
from services.stream_worker.deadletter import DeadLetters, open_dead_letters

log = logging.getLogger("imgpipe.stream")

KAFKA_SOURCES = {"aws:kafka", "SelfManagedKafka"}


def handle_event(
    event: Mapping[str, Any], ctx: Context, dead_letters: DeadLetters
) -> dict[str, Any]:
    """Ingest every record of an MSK event; the response Lambda expects of a Kafka source."""
    source = event.get("eventSource")
    if source not in KAFKA_SOURCES:
        raise ValueError(f"not a Kafka event (eventSource {source!r})")
    records, unreadable = records_of_event(event)
    if not records:
        return {"batchItemFailures": []}
    try:
        report = process_records(records, ctx, dead_letters, unreadable)
    except TransientError as error:
        if not ctx.settings.stream_report_batch_item_failures:
            raise
        first: dict[str, int] = {}
        for record in records:
            first[record.topic_partition] = min(
                record.offset, first.get(record.topic_partition, record.offset)
            )
        log.warning("batch of %d records to be retried: %s", len(records), error.detail)
        return {
            "batchItemFailures": [
                {"itemIdentifier": {"partition": partition, "offset": offset}}
                for partition, offset in first.items()
            ]
        }
    log.info(
        "batch of %d records: %d stored, %d dead-lettered",
        len(records),
        report.stored,
        report.dead_lettered,
    )
    return {"batchItemFailures": []}


def _build() -> tuple[Context, DeadLetters]:
    ctx = default_context()
    logging.getLogger("imgpipe").setLevel(ctx.settings.log_level)
    return ctx, open_dead_letters(ctx.settings, ctx.objects)


_context, _dead_letters = _build()


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda's entry point for `eventSource: aws:kafka` events."""
    return handle_event(event, _context, _dead_letters)
