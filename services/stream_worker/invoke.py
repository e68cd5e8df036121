"""`imgpipe invoke-stream`: run the MSK Lambda handler on a saved event (like sam local invoke)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("event", metavar="EVENT.json", help="an MSK event ('-' reads stdin)")


def run(args: argparse.Namespace) -> int:
    import logging

    text = sys.stdin.read() if args.event == "-" else Path(args.event).read_text()
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        print(f"imgpipe invoke-stream: {args.event} is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(event, dict):
        print(f"imgpipe invoke-stream: {args.event} is not a JSON object", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    # Imported here: the handler builds its context at import, as on Lambda.
    from services.stream_worker.lambda_handler import handler

    try:
        response = handler(event, None)
    except ValueError as exc:
        print(f"imgpipe invoke-stream: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(response, indent=2))
    return 0
