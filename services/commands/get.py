"""`imgpipe get ID`: an image's metadata as JSON, or with --rendition its bytes, from the API."""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from services.commands import remote

if TYPE_CHECKING:
    import httpx


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image_id", type=uuid.UUID, metavar="ID", help="the image's id")
    parser.add_argument("--rendition", metavar="NAME", help="fetch this rendition's bytes")
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="write the rendition here (default: stdout)"
    )
    remote.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import httpx

    if args.out is not None and args.rendition is None:
        remote.say("imgpipe get: --out needs --rendition (the metadata goes to stdout)")
        return 2
    if args.rendition is not None and args.out is None and sys.stdout.isatty():
        remote.say("imgpipe get: not writing image bytes to a terminal: pass --out FILE")
        return 2
    path = f"/v1/images/{args.image_id}"
    try:
        with remote.client(args) as api:
            if args.rendition is None:
                answer = remote.send(lambda: api.get(path), remote.say)
                if answer.status_code != 200:
                    return _refused(answer)
                remote.emit(answer.json())
                return 0
            answer = remote.send(lambda: api.get(f"{path}/renditions/{args.rendition}"), remote.say)
            if answer.status_code == 307:
                answer = _follow(answer, args.timeout)
            if answer.status_code != 200:
                return _refused(answer)
    except httpx.TransportError as exc:
        remote.say(f"imgpipe get: cannot reach {exc.request.url.host}: {type(exc).__name__}")
        return 1
    kind = answer.headers.get("content-type", "?")
    if args.out is None:
        sys.stdout.buffer.write(answer.content)
        sys.stdout.buffer.flush()
    else:
        args.out.write_bytes(answer.content)
        remote.say(f"wrote {len(answer.content):,} bytes ({kind}) to {args.out}")
    return 0


def _follow(redirect: httpx.Response, timeout: float) -> httpx.Response:
    """The presigned storage URL a rendition redirects to, fetched without the API key."""
    import httpx

    return httpx.get(redirect.headers["location"], timeout=timeout)


def _refused(answer: httpx.Response) -> int:
    found = remote.problem(answer)
    remote.say(f"imgpipe get: {remote.describe(found)}")
    if found.get("code") == "archived":
        remote.say("restore it first: POST /v1/images/{id}/restore, then try again in hours")
    return 1
