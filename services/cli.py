"""The `imgpipe` command: one entry point, one module per subcommand, imported only when run."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any, Protocol, cast

# name -> (module, one-line help). Each module defines add_arguments(parser) and run(args) -> int,
# and keeps heavy imports inside run() so that `imgpipe --help` stays instant.
COMMANDS: dict[str, tuple[str, str]] = {
    "process": ("services.commands.process", "run the pipeline on local files"),
    "serve": ("services.upload_api.serve", "run the upload API with uvicorn"),
    "consume": ("services.stream_worker.consume", "consume images from Kafka"),
    "produce": ("services.stream_worker.produce", "send image files to a Kafka topic"),
    "replay": ("services.stream_worker.replay", "send dead letters through ingest again"),
    "invoke-stream": ("services.stream_worker.invoke", "run the MSK Lambda handler on an event"),
    "upload": ("services.commands.upload", "upload image files to a running API"),
    "get": ("services.commands.get", "fetch an image's metadata or a rendition from the API"),
    "delete": ("services.commands.delete", "erase images through the API (JSON receipts)"),
    "load": ("services.commands.load", "load the fact log into the warehouse"),
    "events": ("services.commands.events", "print or publish the completion events"),
    "db": ("services.commands.db", "warehouse migrations and DDL"),
    "storage": ("services.commands.storage", "object storage set-up"),
    "stats": ("services.commands.stats", "print the key statistics"),
    "demo": ("services.commands.demo", "fill the embedded defaults with a demo data set"),
    "config": ("services.commands.config", "show the effective settings (secrets masked)"),
    "completion": ("services.commands.completion", "print a bash or zsh completion script"),
}
# Packages that only an extra of imgpipe installs: a command that misses one says which.
EXTRA_OF_PACKAGE = {
    "fastapi": "api",
    "mangum": "api",
    "python_multipart": "api",
    "fastapi_offline": "api",
    "uvicorn": "serve",
    "confluent_kafka": "stream",
    "httpx": "demo",
    "psycopg": "postgres",
    "redshift_connector": "redshift",
    "pillow_heif": "heif",
    "aws_msk_iam_sasl_signer": "msk-iam",
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


class _Version(argparse.Action):
    """--version, read from the installed distribution only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print imgpipe's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"imgpipe {version()}")
        parser.exit()


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("imgpipe")
    except metadata.PackageNotFoundError:  # a bare checkout on PYTHONPATH
        return "0+unknown"


def build_parser(selected: str | None = None, *, every: bool = False) -> argparse.ArgumentParser:
    """The parser, with the arguments of `selected` only (or of every command, for completion)."""
    parser = argparse.ArgumentParser(prog="imgpipe", description="Image ingestion for AWS.")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        command = _load(name) if every or name == selected else None
        if name == selected and command is None:
            continue
        child = sub.add_parser(name, help=help_text, description=help_text)
        if command is not None:
            command.add_arguments(child)
    return parser


def missing_extra(name: str, exc: ModuleNotFoundError) -> str | None:
    """What to install when a command's import is missing, if an extra of imgpipe has it."""
    extra = EXTRA_OF_PACKAGE.get((exc.name or "").split(".")[0])
    if extra is None:
        return None
    return (
        f"imgpipe: '{name}' needs {exc.name}, which imgpipe's '{extra}' extra installs: "
        f"pip install 'imgpipe[{extra}]'"
    )


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
    except ModuleNotFoundError as exc:
        if (hint := missing_extra(args.command, exc)) is None:
            raise
        print(hint, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
