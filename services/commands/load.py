"""`imgpipe load`: load the fact log into the warehouse, once, continuously, or again from a day."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import UTC, date, datetime
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.loader import LoadReport


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--once", action="store_true", help="load until nothing is waiting, then exit (default)"
    )
    mode.add_argument(
        "--follow",
        action="store_true",
        help="keep loading every IMGPIPE_LOAD_INTERVAL_SECONDS until interrupted",
    )
    parser.add_argument(
        "--replay",
        action="store_true",
        help="load the fact objects written since --since again (rows already present stay "
        "single): rebuilds a warehouse from the fact log",
    )
    parser.add_argument(
        "--since",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="with --replay: the first UTC day to load again (default: the whole log)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON report per load")


def run(args: argparse.Namespace) -> int:
    from core import layout
    from core.bootstrap import build_context
    from core.config import get_settings
    from core.errors import TransientError
    from core.loader import load_once
    from core.telemetry.logs import configure as configure_logging

    if args.since and not args.replay:
        print("imgpipe load: --since goes with --replay", file=sys.stderr)
        return 2
    settings = get_settings()
    configure_logging(settings.log_level)
    ctx = build_context(settings)
    stop = threading.Event()

    def interrupted(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, interrupted)
    replay_after: str | None = None
    if args.replay:
        start = datetime.combine(args.since, datetime.min.time(), UTC) if args.since else None
        replay_after = layout.fact_prefix_at(start) if start else layout.FACTS
    try:
        while not stop.is_set():
            try:
                report = load_once(ctx, replay_after=replay_after)
            except TransientError as error:
                print(f"imgpipe load: {error.detail}", file=sys.stderr)
                if not args.follow:
                    return 1
                stop.wait(ctx.settings.load_interval_seconds or 2.0)
                continue
            _print(report, as_json=args.json)
            if replay_after is not None:
                if report.last_key is None:
                    break
                replay_after = report.last_key
            elif not report.pending and not args.follow:
                break
            elif not report.pending:
                stop.wait(ctx.settings.load_interval_seconds or 2.0)
    except KeyboardInterrupt:
        return 130
    finally:
        ctx.close()
    return 0


def _print(report: LoadReport, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_json()), flush=True)
        return
    rows = ", ".join(f"{count} {table}" for table, count in report.rows.items() if count)
    print(
        f"load {report.load_id}: {report.files} fact objects, {rows or 'no new rows'}"
        f"{f', {len(report.rejected)} moved aside' if report.rejected else ''}; "
        f"{report.pending} waiting, lag {report.lag_seconds:.1f} s",
        flush=True,
    )
