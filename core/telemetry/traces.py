"""X-Ray subsegments (Powertools Tracer) around processing, storage, the warehouse and dead
letters: only on Lambda with the X-Ray SDK installed, else nothing, and imported lazily."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from core.config import running_on_lambda

log = logging.getLogger("imgpipe.traces")
T = TypeVar("T")
R = TypeVar("R")
_tracer: Any = None
_resolved = False


def _get() -> Any:
    """The Tracer, or None off Lambda, with tracing disabled, or without the X-Ray SDK."""
    global _tracer, _resolved  # noqa: PLW0603
    if not _resolved:
        _resolved = True
        disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true"}
        if running_on_lambda() and not disabled:
            try:
                from aws_lambda_powertools import Tracer

                # No patching: boto3 and SQLAlchemy calls are covered by our own subsegments,
                # and patching would import the X-Ray SDK's patchers at cold start.
                _tracer = Tracer(service="imgpipe", auto_patch=False)
            except ImportError:
                _tracer = None  # aws-xray-sdk absent: tracing off, ingest unaffected
    return _tracer


@contextlib.contextmanager
def span(name: str) -> Iterator[None]:
    """A subsegment named `name` around the block, when tracing is on."""
    tracer = _get()
    if tracer is None:
        yield
        return
    try:
        manager = tracer.provider.in_subsegment(name)
        manager.__enter__()
    except Exception as error:  # a tracing fault must never fail an ingest
        log.debug("no subsegment %s: %r", name, error)
        yield
        return
    try:
        yield
    except BaseException as error:
        manager.__exit__(type(error), error, error.__traceback__)
        raise
    manager.__exit__(None, None, None)


def carry(fn: Callable[[T], R]) -> Callable[[T], R]:
    """fn, to be run in another thread inside the caller's segment. X-Ray keeps its context per
    thread: in a worker, a subsegment would hang off a segment of that thread's own, which is
    never sent, and be lost."""
    tracer = _get()
    if tracer is None:
        return fn
    try:
        entity = tracer.provider.get_trace_entity()
    except Exception as error:  # a tracing fault must never fail an ingest
        log.debug("no trace entity to carry: %r", error)
        return fn
    if entity is None:
        return fn

    def run(item: T) -> R:
        tracer.provider.set_trace_entity(entity)
        return fn(item)

    return run
