"""`imgpipe config`: the effective settings, secrets masked, or the README's settings table."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--markdown", action="store_true", help="print every variable as a Markdown table"
    )
    parser.add_argument(
        "--write-readme",
        metavar="README",
        type=Path,
        help="rewrite the table between the settings markers of this file",
    )


def readme_with_table(text: str, table: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"no {START} ... {END} block")
    return pattern.sub(lambda _: f"{START}\n{table}\n{END}", text)


def run(args: argparse.Namespace) -> int:
    from core.config import load_settings, redacted, settings_table

    if args.write_readme:
        path: Path = args.write_readme
        path.write_text(readme_with_table(path.read_text(), settings_table()))
        return 0
    if args.markdown:
        print(settings_table())
        return 0
    print(json.dumps(redacted(load_settings()), indent=2))
    return 0
