"""`imgpipe delete ID...`: erase images through the API, one JSON receipt per image on stdout."""

from __future__ import annotations

import argparse
import uuid

from services.commands import remote


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "image_ids", type=uuid.UUID, nargs="+", metavar="ID", help="the ids of images to erase"
    )
    remote.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Each image erased in turn: `{"id", "ok", "status", "receipt" | "problem"}` per line.
    Exit 1 if any was refused (an id already erased, or another customer's, is 404)."""
    import httpx

    refused = 0
    try:
        with remote.client(args) as api:
            for number, image_id in enumerate(args.image_ids, start=1):
                path = f"/v1/images/{image_id}"
                answer = remote.send(lambda path=path: api.delete(path), remote.say)  # type: ignore[misc]
                document: dict[str, object] = {"id": str(image_id), "status": answer.status_code}
                if answer.status_code == 200:
                    document |= {"ok": True, "receipt": answer.json()}
                    remote.say(f"[{number}/{len(args.image_ids)}] {image_id}: erased")
                else:
                    refused += 1
                    found = remote.problem(answer)
                    document |= {"ok": False, "problem": found}
                    remote.say(
                        f"[{number}/{len(args.image_ids)}] {image_id}: {remote.describe(found)}"
                    )
                remote.emit(document)
    except httpx.TransportError as exc:
        remote.say(f"imgpipe delete: cannot reach {exc.request.url.host}: {type(exc).__name__}")
        return 1
    remote.say(f"{len(args.image_ids) - refused} erased, {refused} refused")
    return 1 if refused else 0
