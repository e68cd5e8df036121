"""`imgpipe completion bash|zsh`: a shell completion script, written from the argparse tree."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

SHELLS = ("bash", "zsh")
# shtab's file completers, by shell (what shtab.FILE names), set on arguments that take paths.
FILES = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}
PATH_METAVAR = re.compile(r"FILE|DIR|\.json$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    parser.epilog = (
        "bash: imgpipe completion bash > ~/.local/share/bash-completion/completions/imgpipe; "
        'zsh: imgpipe completion zsh > "${fpath[1]}/_imgpipe"'
    )


def parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parser and every subcommand's, depth first."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from parsers(child)


def takes_path(action: argparse.Action) -> bool:
    return action.type is Path or bool(PATH_METAVAR.search(str(action.metavar or "")))


def script(shell: str) -> str:
    import shtab

    from services.cli import build_parser

    # Every command's options, though running one imports only its own module: the script is
    # static, so completing starts no Python.
    parser = build_parser(every=True)
    for each in parsers(parser):
        for action in each._actions:
            if takes_path(action):
                action.complete = FILES  # type: ignore[attr-defined]
    return str(shtab.complete(parser, shell=shell))


def run(args: argparse.Namespace) -> int:
    print(script(args.shell), end="")
    return 0
