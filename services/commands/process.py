"""`imgpipe process`: run the pipeline on local files and write the renditions to a folder."""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from core.config import Settings
    from core.models import ProcessedImage

# A progress bar is worth drawing from this many inputs on.
PROGRESS_FROM = 5

DESCRIPTION = """\
Run imgpipe's image pipeline on local files (directories are searched recursively; hidden
files are skipped; the format is sniffed from the bytes, not from file names).

With --out DIR each rendition is written to DIR/<rendition>/<stem>.<ext>, e.g.
DIR/display/IMG_0001.jpg and DIR/thumb/IMG_0001.jpg. When two inputs share a stem, the later
one is written as <stem>-<first 8 hex digits of its sha256>.<ext>.

Prints one line per input: a summary, or with --json one JSON object (JSON Lines):
  {"path", "sha256", "phash", "format", ..., "renditions": [{"name", "width", ...}]}
  {"path", "error": {"code", "detail"}}          for an input that was refused
Settings (renditions, limits, size tolerance) come from the IMGPIPE_* environment variables.
Exits 1 if any input failed, 0 otherwise."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", type=Path, help="inputs")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="write renditions to DIR/<rendition>/<stem>.<ext>"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per input")
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="images processed at once (default: IMGPIPE_INGEST_WORKERS)",
    )


def run(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from core.config import get_settings

    settings = get_settings()
    inputs = list(expand(args.paths))
    workers = max(1, args.workers or settings.ingest_workers)
    progress = Progress(len(inputs), sys.stderr)
    names = OutputNames()
    failed = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = in_order(pool, inputs, settings, ahead=2 * workers)
        for path, outcome in zip(inputs, outcomes, strict=True):
            if isinstance(outcome, dict):
                failed += 1
                document = {"path": str(path), "error": outcome}
            else:
                written = write_renditions(outcome, path, args.out, names) if args.out else {}
                document = describe(path, outcome, written)
            progress.clear()
            print(json.dumps(document) if args.json else summary(document), flush=True)
            progress.advance(path)
    progress.finish()
    return 1 if failed else 0


def in_order(
    pool: Executor, inputs: list[Path], settings: Settings, ahead: int
) -> Iterator[ProcessedImage | dict[str, str]]:
    """Results in input order, with at most `ahead` images in flight (memory stays bounded)."""
    pending: deque[Future[ProcessedImage | dict[str, str]]] = deque()
    for path in inputs:
        pending.append(pool.submit(process_file, path, settings))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def expand(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given; directories' files, recursively, in name order, hidden ones skipped."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path).parts
                if child.is_file() and not any(part.startswith(".") for part in relative):
                    yield child
        else:
            yield path


def process_file(path: Path, settings: Settings) -> ProcessedImage | dict[str, str]:
    """The pipeline's result, or the error object of a refused or unreadable input."""
    from core.errors import ErrorCode, PermanentError
    from core.processing import process

    try:
        data = path.read_bytes()
    except OSError as exc:
        return {"code": ErrorCode.SOURCE_NOT_FOUND.value, "detail": exc.strerror or str(exc)}
    try:
        return process(data, settings.processing)
    except PermanentError as exc:
        return {"code": exc.code.value, "detail": exc.detail}


class OutputNames:
    """Output stems, unique within one run."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def stem(self, path: Path, sha256: str) -> str:
        stem = path.stem or "image"
        if stem in self._taken:
            stem = f"{stem}-{sha256[:8]}"
        self._taken.add(stem)
        return stem


def write_renditions(
    result: ProcessedImage, path: Path, out: Path, names: OutputNames
) -> dict[str, str]:
    stem = names.stem(path, result.metadata.sha256)
    written = {}
    for rendition in result.renditions:
        target = out / rendition.name / f"{stem}.{rendition.extension}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(rendition.data)
        written[rendition.name] = str(target)
    return written


def describe(path: Path, result: ProcessedImage, written: dict[str, str]) -> dict[str, Any]:
    return {
        "path": str(path),
        **result.metadata.to_json(),
        "bytes_out": result.bytes_out,
        "processing_ms": round(result.processing_ms, 3),
        "renditions": [
            {
                "name": r.name,
                "width": r.width,
                "height": r.height,
                "bytes": r.size,
                "content_type": r.content_type,
                **({"file": written[r.name]} if r.name in written else {}),
            }
            for r in result.renditions
        ],
    }


def summary(document: dict[str, Any]) -> str:
    if "error" in document:
        error = document["error"]
        return f"{document['path']}: refused ({error['code']}): {error['detail']}"
    parts = ", ".join(
        f"{r['name']} {r['width']}x{r['height']} {r['bytes'] / 1024:.0f} KiB"
        for r in document["renditions"]
    )
    source = f"{document['format']} {document['width']}x{document['height']}"
    return f"{document['path']}: {source} -> {parts} ({document['processing_ms']:.0f} ms)"


class Progress:
    """A one-line progress bar on a terminal, for runs of many files; silent otherwise."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.enabled = total >= PROGRESS_FROM and stream.isatty()

    def advance(self, path: Path) -> None:
        self.done += 1
        if not self.enabled:
            return
        filled = self.WIDTH * self.done // self.total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} {path.name[:40]}")
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()

    def finish(self) -> None:
        self.clear()
