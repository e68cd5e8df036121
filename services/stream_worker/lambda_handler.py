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

This module is only the wiring: the Context (settings, S3 client, database engine) and the
dead-letter destination are built once per container, at import, and every event goes to
`batch.handle_event`. Only core and this package are imported: no web framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.bootstrap import Context, default_context
from core.telemetry.logs import configure as configure_logging
from services.invocation import instrumented
from services.stream_worker.batch import handle_event
from services.stream_worker.deadletter import DeadLetters, open_dead_letters


def _build() -> tuple[Context, DeadLetters]:
    ctx = default_context()
    configure_logging(ctx.settings.log_level)
    return ctx, open_dead_letters(ctx.settings, ctx.objects)


_context, _dead_letters = _build()


@instrumented
def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda's entry point for `eventSource: aws:kafka` events."""
    return handle_event(event, _context, _dead_letters)
