"""`imgpipe replay`: send dead letters (the dead-letter topic and dead-letter/ in the bucket)
through ingest again, picked by code, time and customer; a JSON summary at the end."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from datetime import UTC, datetime, timedelta

SOURCES = ("all", "topic", "bucket")
_AGO = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def moment(text: str) -> datetime:
    """An ISO 8601 time (UTC unless it names a zone), or Nm, Nh, Nd: that long ago."""
    ago = _AGO.match(text)
    if ago:
        return datetime.now(UTC) - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use ISO 8601 (2026-12-01T08:00Z) or Nm, Nh, Nd (ago)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="source",
        choices=SOURCES,
        default="all",
        help="where the letters are: the dead-letter topic, the bucket, or both (default)",
    )
    parser.add_argument(
        "--dlq-topic", help="the dead-letter topic (IMGPIPE_KAFKA_DLQ_TOPIC); unset: bucket only"
    )
    parser.add_argument(
        "--bootstrap-servers", help="brokers, host:port,... (IMGPIPE_KAFKA_BOOTSTRAP_SERVERS)"
    )
    parser.add_argument(
        "--code",
        action="append",
        dest="codes",
        metavar="CODE",
        help="only letters refused with this error code; repeat for several",
    )
    parser.add_argument(
        "--customer",
        action="append",
        dest="customers",
        metavar="ID",
        help="only letters of this customer; repeat for several",
    )
    parser.add_argument(
        "--since", type=moment, help="only letters dead-lettered at or after this time"
    )
    parser.add_argument("--until", type=moment, help="only letters dead-lettered before this time")
    parser.add_argument(
        "--max-replays",
        type=int,
        help="a letter replayed this often stays dead (IMGPIPE_REPLAY_MAX_ATTEMPTS)",
    )
    parser.add_argument(
        "--batch-size", type=int, help="records per ingest batch (IMGPIPE_KAFKA_BATCH_SIZE)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the letters that would be replayed (JSON lines), change nothing",
    )


def run(args: argparse.Namespace) -> int:
    from core.bootstrap import build_context
    from core.config import settings_with
    from core.errors import PermanentError, TransientError
    from services.stream_worker.deadletter import DeadLetters, open_dead_letters
    from services.stream_worker.letters import BucketLetters, Letter, LetterSource, TopicLetters
    from services.stream_worker.replayer import Selection, replay

    settings = settings_with(replay_max_attempts=args.max_replays, kafka_batch_size=args.batch_size)
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("imgpipe").setLevel(settings.log_level)
    if args.since and args.until and args.since >= args.until:
        print("imgpipe replay: --since is not before --until", file=sys.stderr)
        return 2
    topic = args.dlq_topic or settings.kafka_dlq_topic
    if args.source == "topic" and not topic:
        print(
            "imgpipe replay: --from topic needs --dlq-topic or IMGPIPE_KAFKA_DLQ_TOPIC",
            file=sys.stderr,
        )
        return 2
    ctx = build_context(settings)
    sources: list[LetterSource] = []
    if args.source in {"all", "topic"} and topic:
        sources.append(TopicLetters(settings, topic, args.bootstrap_servers))
    if args.source in {"all", "bucket"}:
        sources.append(BucketLetters(ctx.objects, settings))
    selection = Selection(
        codes=frozenset(args.codes or ()),
        customers=frozenset(args.customers or ()),
        since=args.since,
        until=args.until,
    )

    def listed(letter: Letter) -> None:
        if args.dry_run:
            print(json.dumps(letter.describe(), ensure_ascii=False))

    # Letters refused again go where the stream's go (one replay more); a dry run sends none.
    dead_letters: DeadLetters | None = None
    status = 0
    try:
        if not args.dry_run:
            dead_letters = open_dead_letters(
                settings, ctx.objects, topic=topic, bootstrap_servers=args.bootstrap_servers
            )
        summary = replay(
            ctx,
            sources,
            dead_letters,
            selection=selection,
            max_replays=settings.replay_max_attempts,
            dry_run=args.dry_run,
            batch_size=settings.kafka_batch_size,
            listed=listed,
        )
        print(json.dumps(summary.to_json()))
    except (TransientError, PermanentError) as error:
        print(f"imgpipe replay: stopped: {error}; running it again is safe", file=sys.stderr)
        status = 1
    finally:
        if dead_letters is not None:
            dead_letters.close()
        ctx.close()
    return status
