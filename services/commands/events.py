"""`imgpipe events`: the completion events of the fact log, as JSON lines; `--publish` sends
the new ones to the configured sinks once (what the background publisher does)."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--follow", action="store_true", help="keep printing events as they are stored"
    )
    parser.add_argument(
        "--since", help="start after this fact key or prefix (e.g. facts/2026/01/31/)"
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between looks")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="publish the events not yet announced to the configured sinks, once",
    )


def run(args: argparse.Namespace) -> int:
    from core.bootstrap import build_context
    from core.config import get_settings
    from core.events.publisher import describe, follow
    from core.events.runner import publisher_for

    settings = get_settings()
    ctx = build_context(settings)
    if args.publish:
        from services.stream_worker.kafka_config import client_config

        publisher = publisher_for(ctx, client_config)
        if publisher is None:
            print("no event sink is configured (IMGPIPE_EVENTS_*)", file=sys.stderr)
            return 2
        report = publisher.publish_once()
        print(json.dumps(describe(report)))
        return 1 if report.failed else 0
    try:
        for event in follow(
            ctx.objects,
            start_after=args.since,
            settle_seconds=settings.events_settle_seconds,
            interval=args.interval,
            forever=args.follow,
        ):
            sys.stdout.write(event.to_bytes().decode() + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        return 0
    return 0
