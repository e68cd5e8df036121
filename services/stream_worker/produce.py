"""`imgpipe produce`: send image files to a Kafka topic as raw records (demos and tests)."""

from __future__ import annotations

import argparse
import mimetypes
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="+", metavar="FILE_OR_DIR", help="images, or folders of them"
    )
    parser.add_argument("--topic", required=True, help="topic to send to")
    parser.add_argument(
        "--bootstrap-servers", help="brokers, host:port,... (IMGPIPE_KAFKA_BOOTSTRAP_SERVERS)"
    )
    parser.add_argument("--customer-id", help="sent as the customer-id header")
    parser.add_argument(
        "--event-id-prefix",
        help="send an event-id header PREFIX/FILE NAME (default: none, so the event id is the "
        "record's topic:partition:offset)",
    )


def files(paths: list[str]) -> Iterator[Path]:
    """The files named, and those in the folders named (recursively, in name order)."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
            )
        else:
            yield path


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import KafkaException, Producer

    from core.config import get_settings
    from services.stream_worker.kafka_config import produce_blocking, producer_config

    settings = get_settings()
    limit = settings.kafka_max_message_bytes
    producer = Producer(producer_config(settings, args.bootstrap_servers))
    failures: list[str] = []
    sent = refused = 0

    def report(error: Any, _message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    for path in files(args.paths):
        try:
            data = path.read_bytes()
        except OSError as exc:
            print(f"imgpipe produce: {path}: {exc.strerror}", file=sys.stderr)
            refused += 1
            continue
        if len(data) > limit:
            # MSK refuses records over its message size (~1 MB by default): say so here rather
            # than let the broker fail the send.
            print(
                f"imgpipe produce: {path}: {len(data)} bytes is over the {limit}-byte record "
                "limit (IMGPIPE_KAFKA_MAX_MESSAGE_BYTES); upload it to an allowed bucket and "
                "send a JSON record with image_s3_uri instead",
                file=sys.stderr,
            )
            refused += 1
            continue
        headers: list[tuple[str, str | bytes | None]] = []
        content_type = mimetypes.guess_type(path.name)[0]
        if content_type:
            headers.append(("content-type", content_type))
        if args.customer_id:
            headers.append(("customer-id", args.customer_id))
        if args.event_id_prefix:
            headers.append(("event-id", f"{args.event_id_prefix}/{path.name}"))
        try:
            produce_blocking(
                producer,
                args.topic,
                key=path.name.encode(),
                value=data,
                headers=headers,
                on_delivery=report,
            )
        except KafkaException as exc:
            print(f"imgpipe produce: {path}: {exc}", file=sys.stderr)
            refused += 1
            continue
        producer.poll(0)  # serve the delivery reports of earlier sends as we go
        sent += 1
    remaining = producer.flush(30)
    delivered = sent - len(failures) - remaining
    for failure in failures[:5]:
        print(f"imgpipe produce: delivery failed: {failure}", file=sys.stderr)
    print(f"sent {delivered} records to {args.topic}; {refused} files refused")
    return 0 if not failures and not remaining and not refused else 1
