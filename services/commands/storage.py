"""`imgpipe storage setup|show`: apply and inspect the bucket's lifecycle, access and encryption."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    setup = sub.add_parser(
        "setup",
        help="create the bucket if missing; apply lifecycle, public access block, "
        "default encryption and a TLS-only policy; read them back",
        description="Idempotent: a second run changes nothing. Prints what is in place as JSON.",
    )
    setup.add_argument(
        "--no-tls-only",
        dest="tls_only",
        action="store_false",
        help="remove the TLS-only bucket policy instead of applying it (S3-compatible servers "
        "reached over plain http://, which it would lock out)",
    )
    sub.add_parser("show", help="print the storage set-up as JSON; changes nothing")


def run(args: argparse.Namespace) -> int:
    from core.config import load_settings
    from core.errors import TransientError
    from core.repository.objects.provisioning import describe_storage, set_up_storage

    settings = load_settings()
    try:
        if args.action == "setup":
            endpoint = settings.s3_endpoint_url or ""
            if args.tls_only and endpoint.startswith("http://"):
                print(
                    f"imgpipe: warning: {endpoint} is plain HTTP; the TLS-only policy will refuse "
                    "this endpoint's own requests (use --no-tls-only for local servers)",
                    file=sys.stderr,
                )
            report = set_up_storage(settings, tls_only=args.tls_only)
        else:
            report = describe_storage(settings)
    except TransientError as exc:
        print(f"imgpipe: storage unavailable: {exc.detail}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2, default=str))
    return 0
