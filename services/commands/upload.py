"""`imgpipe upload FILE...`: send images to a running API, in the request or presigned.

Files up to --direct-limit go in one `POST /v1/images`; larger ones take the three steps of a
direct upload (`POST /v1/uploads`, the bytes to the signed URL with the signed content type,
`POST .../complete`). Progress goes to stderr, one JSON object per file to stdout; the exit
status is 1 if any file was refused.
"""

from __future__ import annotations

import argparse
import mimetypes
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.commands import remote

if TYPE_CHECKING:
    import httpx

MiB = 1024 * 1024
# A Lambda request carries at most 6 MB, base64 inflates a body by 4/3, and the template's
# IMGPIPE_MAX_REQUEST_BYTES is 4.5 MiB: anything larger goes straight to storage.
DIRECT_LIMIT = 4 * MiB


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="images to send")
    remote.add_arguments(parser)
    parser.add_argument(
        "--direct-limit",
        type=int,
        default=DIRECT_LIMIT,
        metavar="BYTES",
        help=f"larger files go through a presigned upload (default {DIRECT_LIMIT}; 0: all)",
    )


def content_type(path: Path) -> str:
    """A type to declare; the API reads the real format from the bytes whatever this says."""
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed if guessed and guessed.startswith("image/") else "application/octet-stream"


def run(args: argparse.Namespace) -> int:
    import httpx

    counts = {"stored": 0, "duplicate": 0, "refused": 0}
    with remote.client(args) as api, httpx.Client(timeout=args.timeout) as storage:
        for number, path in enumerate(args.files, 1):
            label = f"[{number}/{len(args.files)}] {path.name}"
            document = upload_file(api, storage, path, args.direct_limit, label)
            remote.emit(document)
            if not document["ok"]:
                counts["refused"] += 1
            else:
                counts["duplicate" if document["duplicate"] else "stored"] += 1
    remote.say(", ".join(f"{n} {what}" for what, n in counts.items()))
    return 1 if counts["refused"] else 0


def upload_file(
    api: httpx.Client, storage: httpx.Client, path: Path, direct_limit: int, label: str
) -> dict[str, Any]:
    """Send one file; the JSON document that says what became of it."""
    import httpx

    try:
        data = path.read_bytes()
    except OSError as exc:
        remote.say(f"{label}: cannot read it: {exc.strerror}")
        return {"file": str(path), "ok": False, "error": f"cannot read: {exc.strerror}"}
    kind = content_type(path)
    remote.say(f"{label}: {len(data):,} bytes")
    try:
        if len(data) <= direct_limit:
            answer = _direct(api, path, data, kind)
        else:
            answer = _presigned(api, storage, data, kind, label)
    except httpx.TransportError as exc:
        remote.say(f"{label}: cannot reach {exc.request.url.host}: {type(exc).__name__}")
        return {"file": str(path), "ok": False, "error": f"unreachable: {type(exc).__name__}"}
    if answer.status_code in (200, 201):
        image = answer.json()
        outcome = "already stored as" if image["duplicate"] else "stored as"
        remote.say(f"{label}: {outcome} {image['id']}")
        return {
            "file": str(path),
            "ok": True,
            "status": answer.status_code,
            "duplicate": image["duplicate"],
            "image": image,
        }
    found = remote.problem(answer)
    remote.say(f"{label}: refused: {remote.describe(found)}")
    return {"file": str(path), "ok": False, "status": answer.status_code, "problem": found}


def _direct(api: httpx.Client, path: Path, data: bytes, kind: str) -> httpx.Response:
    # One key for this file's attempts: a retry after a 503 cannot store the image twice.
    headers = {"Idempotency-Key": f"imgpipe-cli-{uuid.uuid4().hex}"}
    return remote.send(
        lambda: api.post("/v1/images", files={"file": (path.name, data, kind)}, headers=headers),
        remote.say,
    )


def _presigned(
    api: httpx.Client, storage: httpx.Client, data: bytes, kind: str, label: str
) -> httpx.Response:
    """The three steps; an answer that refuses one of them is returned as it is."""
    started = remote.send(
        lambda: api.post("/v1/uploads", json={"content_type": kind, "bytes": len(data)}),
        remote.say,
    )
    if started.status_code != 201:
        return started
    upload = started.json()
    remote.say(f"{label}: sending to storage ({upload['method']}, signed for {kind})")
    # The signed URL carries its own authority: the API key never goes to storage.
    if upload["method"] == "PUT":
        sent = storage.put(upload["url"], content=data, headers=upload["headers"])
    else:
        sent = storage.post(
            upload["url"],
            data=upload["fields"],
            files={"file": ("upload", data, kind)},
            headers=upload["headers"],
        )
    if sent.status_code not in (200, 201, 204):
        return sent
    remote.say(f"{label}: processing")
    return remote.send(lambda: api.post(upload["complete_url"]), remote.say)
