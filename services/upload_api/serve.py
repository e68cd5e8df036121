"""`imgpipe serve`: the upload API under uvicorn, on the settings of the environment."""

from __future__ import annotations

import argparse
from pathlib import Path

# Connections and requests at once: beyond them uvicorn answers 503. Bodies (up to
# max_request_bytes each) are held in memory beside the decode budget: 64 of 1 MB images is
# 64 MB, 64 of the largest 25 MiB uploads would be 1.6 GB, which only a proxy in front bounds.
MAX_CONCURRENCY = 64
KEEP_ALIVE_SECONDS = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--reload", action="store_true", help="restart when the code changes")


def source_dirs() -> list[str]:
    """The folders of imgpipe's own packages, which --reload watches."""
    import core
    import services

    return [str(Path(package.__file__ or "").parent) for package in (core, services)]


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from core.budget import tune_allocator
    from core.config import get_settings
    from core.telemetry.memory import dump_on_signal

    settings = get_settings()  # a bad setting stops here, naming its variable
    tune_allocator()  # before uvicorn's threads exist
    dump_on_signal()
    shown = "localhost" if args.host in {"0.0.0.0", "::"} else args.host  # noqa: S104
    base = f"http://{shown}:{args.port}"
    print(f"imgpipe upload API on {base}", flush=True)
    print(f"  docs:      {base}/docs  (ReDoc: {base}/redoc)", flush=True)
    print(f"  dashboard: {base}/dashboard  (fill it: imgpipe demo)", flush=True)
    print(f"  storage:   {settings.storage_url}", flush=True)
    uvicorn.run(
        "services.upload_api.app:create_served_app",
        factory=True,
        host=args.host,
        port=args.port,
        reload=args.reload,
        # The code, wherever the command runs: uvicorn would watch the working directory,
        # which holds the embedded data (.imgpipe/) and, run from elsewhere, none of the code.
        reload_dirs=source_dirs() if args.reload else None,
        access_log=False,  # the app logs one JSON line per request itself
        log_level=settings.log_level.lower(),
        # httptools (h11 cost 5-10% more CPU per image), bounded: see BoundedHeadProtocol.
        http="services.upload_api.http11:BoundedHeadProtocol",
        limit_concurrency=MAX_CONCURRENCY,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    return 0
