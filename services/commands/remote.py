"""A running imgpipe API seen from the command line: its address, the key, retries, problems."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
KEY_VARIABLE = "IMGPIPE_API_KEY"
# 503 answers carry Retry-After: a few waits ride out a throttle or a storage blip, not an outage.
ATTEMPTS = 4
LONGEST_WAIT = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the API's base URL ({DEFAULT_URL})")
    parser.add_argument(
        "--api-key",
        default=os.environ.get(KEY_VARIABLE),
        help=f"the X-API-Key to send (default: ${KEY_VARIABLE}, which, unlike an argument, "
        "other users' `ps` does not show)",
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for an answer (60)"
    )


def client(args: argparse.Namespace) -> httpx.Client:
    """A client of the API at --url, sending the key. It never follows redirects: a rendition
    redirects to a presigned storage URL, which must not receive the key."""
    import httpx

    from services.cli import version

    headers = {"User-Agent": f"imgpipe-cli/{version()}"}
    if args.api_key:
        headers["X-API-Key"] = args.api_key
    return httpx.Client(
        base_url=args.url.rstrip("/"), headers=headers, timeout=args.timeout, follow_redirects=False
    )


def send(request: Callable[[], httpx.Response], say: Callable[[str], None]) -> httpx.Response:
    """The answer of `request`, sent again after a 503's Retry-After (a few times at most)."""
    for attempt in range(1, ATTEMPTS + 1):
        response = request()
        if response.status_code != 503 or attempt == ATTEMPTS:
            return response
        wait = min(LONGEST_WAIT, _seconds(response.headers.get("Retry-After")))
        say(f"service unavailable, trying again in {wait:.0f} s ({attempt}/{ATTEMPTS - 1})")
        time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _seconds(header: str | None) -> float:
    try:
        return max(0.0, float(header or 1))
    except ValueError:  # an HTTP date: wait a little rather than parse it
        return 1.0


def problem(response: httpx.Response) -> dict[str, Any]:
    """The problem+json body of a refusal, or one built from the status line if it has none."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {"status": response.status_code, "title": response.reason_phrase, "detail": None}


def describe(found: dict[str, Any]) -> str:
    """One line for a person: `415 unsupported_format: the bytes are a PDF`."""
    code = found.get("code") or found.get("title") or ""
    detail = found.get("detail") or ""
    return f"{found.get('status', '?')} {code}: {detail}".rstrip(": ")


def say(message: str) -> None:
    """Progress and refusals go to stderr; stdout carries only JSON, for scripts."""
    print(message, file=sys.stderr, flush=True)


def emit(document: dict[str, Any]) -> None:
    print(json.dumps(document, sort_keys=True), flush=True)
