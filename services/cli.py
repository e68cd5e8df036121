"""The `imgpipe` command: one entry point, one module per subcommand, imported only when run."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

# name -> (module, one-line help). Each module defines add_arguments(parser) and run(args) -> int,
# and keeps heavy imports inside run() so that `imgpipe --help` stays instant.
COMMANDS: dict[str, tuple[str, str]] = {
    "process": ("services.commands.process", "run the pipeline on local files"),
    "serve": ("services.upload_api.serve", "run the upload API with uvicorn"),
    "consume": ("services.stream_worker.consume", "consume images from Kafka"),
    "produce": ("services.stream_worker.produce", "send image files to a Kafka topic"),
    "invoke-stream": ("services.stream_worker.invoke", "run the MSK Lambda handler on an event"),
    "load": ("services.commands.load", "load the fact log into the warehouse"),
    "db": ("services.commands.db", "warehouse migrations and DDL"),
    "storage": ("services.commands.storage", "object storage set-up"),
    "stats": ("services.commands.stats", "print the key statistics"),
    "demo": ("services.commands.demo", "fill the embedded defaults with a demo data set"),
    "config": ("services.commands.config", "show the effective settings (secrets masked)"),
}


class Command(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _load(name: str) -> Command | None:
    module_name, _ = COMMANDS[name]
    try:
        return cast(Command, importlib.import_module(module_name))
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None  # not built yet in this checkout
        raise


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgpipe", description="Image ingestion for AWS.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        command = _load(name) if name == selected else None
        if name == selected and command is None:
            continue
        child = sub.add_parser(name, help=help_text, description=help_text)
        if command is not None:
            command.add_arguments(child)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from core.errors import ConfigError

    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in args_list if not a.startswith("-")), None)
    if selected not in COMMANDS:
        selected = None
    args = build_parser(selected).parse_args(args_list)
    command = _load(args.command)
    if command is None:
        print(f"imgpipe: '{args.command}' is not available in this build", file=sys.stderr)
        return 2
    try:
        return command.run(args)
    except ConfigError as exc:
        print(f"imgpipe: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
