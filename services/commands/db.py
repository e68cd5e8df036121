"""`imgpipe db`: migrate the warehouse, show its revision, print its DDL for a dialect."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = sub.add_parser("upgrade", help="apply the migrations (default: up to head)")
    upgrade.add_argument("--url", help="database URL (default: IMGPIPE_DATABASE_URL)")
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    current = sub.add_parser("current", help="print the database's revision and the head")
    current.add_argument("--url", help="database URL (default: IMGPIPE_DATABASE_URL)")
    ddl = sub.add_parser("ddl", help="print the SQL of every migration, without a database")
    ddl.add_argument(
        "--dialect",
        choices=("redshift", "postgresql", "sqlite"),
        default="redshift",
        help="SQL dialect (default: redshift)",
    )


def _url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    from core.config import load_settings

    return load_settings().database_url


def run(args: argparse.Namespace) -> int:
    from core import errors
    from core.repository import migrations
    from core.repository.warehouse import redacted_url, translate_errors

    if args.db_command == "ddl":
        sys.stdout.write(migrations.ddl(args.dialect))
        return 0
    url = _url(args)
    try:
        with translate_errors("migrating" if args.db_command == "upgrade" else "reading"):
            if args.db_command == "upgrade":
                migrations.upgrade(url, args.revision)
            revision = migrations.current(url)
    except errors.TransientError as exc:
        print(f"imgpipe db: {exc.detail}", file=sys.stderr)
        return 1
    head = migrations.head()
    state = "up to date" if revision == head else f"head is {head}"
    print(f"{redacted_url(url)}: revision {revision or '(none)'} ({state})")
    return 0
