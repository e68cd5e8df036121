"""What every Lambda handler of imgpipe does around an event: log fields of the invocation
(cold start, request id) on each record, and the invocation's metrics flushed as EMF at its end."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from core.telemetry import metrics
from core.telemetry.logs import correlated

Answer = TypeVar("Answer")
_cold = True


def instrumented(handler: Callable[[Any, Any], Answer]) -> Callable[[Any, Any], Answer]:
    """`handler` with the invocation's log fields and its metrics printed when it returns or
    raises (a failed batch's refusals were still refused)."""

    @functools.wraps(handler)
    def invoke(event: Any, context: Any = None) -> Answer:
        global _cold
        cold, _cold = _cold, False
        fields = {
            "cold_start": cold,
            "function_name": getattr(context, "function_name", None),
            "function_request_id": getattr(context, "aws_request_id", None),
        }
        try:
            with correlated(**fields):
                return handler(event, context)
        finally:
            metrics.flush()

    return invoke
