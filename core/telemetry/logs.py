"""One logging setup for every entry point: JSON lines (Powertools Logger on Lambda), readable
lines on a terminal, Python warnings (Pillow's) as records, correlation fields on each record."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from core.config import running_on_lambda

SERVICE = "imgpipe"
# Loggers whose records are ours to format: imgpipe's own; python-multipart's warnings on a
# malformed body; Pillow's; and `py.warnings`, where logging.captureWarnings sends warnings.
OWNED = ("imgpipe", "python_multipart", "PIL", "py.warnings")
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_CORRELATION: ContextVar[dict[str, Any]] = ContextVar("imgpipe_correlation", default={})  # noqa: B039
_powertools: Any = None  # the Powertools Logger, built once per process on Lambda


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object; `extra=` fields become top-level members."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _Correlation(logging.Filter):
    """Adds the fields of the current `correlated` scope to every record a handler emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CORRELATION.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


@contextlib.contextmanager
def correlated(**fields: Any) -> Iterator[None]:
    """Every record logged inside (in this thread, and in the ingest threads it starts) carries
    `fields`: a request id, a stream batch's offsets, a load id."""
    token = _CORRELATION.set({**_CORRELATION.get(), **fields})
    try:
        yield
    finally:
        _CORRELATION.reset(token)


def configure(level: str = "INFO", *, stream: TextIO | None = None) -> None:
    """Send the owned loggers' records to one handler: the Powertools Logger's (JSON on stdout,
    which Lambda ships to CloudWatch) on Lambda; elsewhere JSON lines on stderr, or plain lines
    when stderr is a terminal. Idempotent; a later call replaces the earlier handler."""
    logging.captureWarnings(True)
    handler = _lambda_handler(level) if running_on_lambda() else _local_handler(stream)
    handler.addFilter(_Correlation())
    handler._imgpipe = True  # type: ignore[attr-defined]
    for name in OWNED:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_imgpipe", False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False
    logging.getLogger(SERVICE).setLevel(level.upper())
    logging.getLogger("PIL").setLevel(logging.WARNING)  # its DEBUG chatter is per chunk


class _CurrentStream(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout or sys.stderr is when a record comes: one replaced since
    (a test's capture, a daemon's redirect) is followed, not a closed one written to."""

    def __init__(self, name: str) -> None:
        self._std = name
        super().__init__()

    @property
    def stream(self) -> TextIO:
        stream: TextIO = getattr(sys, self._std)
        return stream

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def _local_handler(stream: TextIO | None) -> logging.Handler:
    target = stream or sys.stderr
    handler = logging.StreamHandler(stream) if stream else _CurrentStream("stderr")
    if target.isatty():
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    return handler


def _lambda_handler(level: str) -> logging.Handler:
    """The Powertools Logger's handler: its formatter adds service, cold start, the X-Ray
    trace id and the level/location/timestamp keys CloudWatch Logs Insights expects."""
    global _powertools  # noqa: PLW0603
    if _powertools is None:
        from aws_lambda_powertools import Logger

        _powertools = Logger(
            service=SERVICE, level=level.upper(), logger_handler=_CurrentStream("stdout")
        )
    handler: logging.Handler = _powertools.logger_handler
    return handler
