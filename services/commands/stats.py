"""`imgpipe stats`: the key statistics of the warehouse as tables (or JSON), the numbers of
GET /v1/stats and the dashboard."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.stats import Stats

_DAYS_AGO = re.compile(r"^(\d{1,5})d$")


def day(text: str) -> date:
    """YYYY-MM-DD, `today`, or Nd (N days before today, UTC)."""
    today = datetime.now(UTC).date()
    if text == "today":
        return today
    ago = _DAYS_AGO.match(text)
    if ago:
        return today - timedelta(days=int(ago.group(1)))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a day: use YYYY-MM-DD, today or Nd (N days ago)"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", type=day, help="first UTC day included: YYYY-MM-DD, today or Nd (N days ago)"
    )
    parser.add_argument("--until", type=day, help="last UTC day included (same forms)")
    parser.add_argument("--source", choices=("upload", "stream"), help="one path only")
    parser.add_argument("--customer", help="one customer only (default: every customer)")
    parser.add_argument(
        "--top", type=int, default=10, metavar="N", help="customers to rank (default: 10)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print GET /v1/stats's JSON document instead"
    )


def run(args: argparse.Namespace) -> int:
    from core.config import get_settings
    from core.errors import PermanentError, TransientError
    from core.repository.warehouse import open_warehouse

    if args.top < 1:
        print("imgpipe stats: --top must be at least 1", file=sys.stderr)
        return 2
    if args.since is not None and args.until is not None and args.since > args.until:
        print(f"imgpipe stats: --since {args.since} is after --until {args.until}", file=sys.stderr)
        return 2
    try:
        stats = open_warehouse(get_settings()).stats(
            since=args.since,
            until=args.until,
            source=args.source,
            customer_id=args.customer,
            top_customers=args.top,
        )
    except PermanentError as exc:
        print(f"imgpipe stats: {exc.detail}", file=sys.stderr)
        return 2
    except TransientError as exc:
        print(f"imgpipe stats: {exc.detail}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(stats.to_json(), indent=2))
    else:
        sys.stdout.write(report(stats))
    return 0


# --- the report ---------------------------------------------------------------------------------


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns: the first left-aligned, the others (numbers) right-aligned."""
    widths = [max(len(str(c)) for c in column) for column in zip(head, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        return "  ".join(
            [first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]
        ).rstrip()

    return [line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def n(value: float) -> str:
    return f"{round(value):,}"


def ms(value: float) -> str:
    return f"{value:,.1f}"


def report(stats: Stats) -> str:
    since = stats.since.isoformat() if stats.since else "first event"
    until = stats.until.isoformat() if stats.until else "last event"
    who = f"customer {stats.customer_id}" if stats.customer_id else "all customers"
    how = f"{stats.source} only" if stats.source else "both sources"
    out = [f"imgpipe statistics: {since} .. {until} (UTC), {who}, {how}", ""]
    if stats.empty:
        out.append("No events in this range.")
        return "\n".join(out) + "\n"
    t = stats.totals
    ratio = f"{t.output_ratio:.3f}" if t.output_ratio is not None else "-"
    mean = ms(t.mean_processing_ms) if t.mean_processing_ms is not None else "-"
    out += [
        "Totals",
        *table(
            ["measure", "value"],
            [
                ["events", n(t.events)],
                ["processed (new images)", n(t.processed)],
                ["duplicates", n(t.duplicates)],
                ["rejected", n(t.rejected)],
                ["bytes in", n(t.bytes_in)],
                ["bytes out", n(t.bytes_out)],
                ["out/in (processed)", ratio],
                ["mean processing ms", mean],
            ],
        ),
        "",
    ]
    per_day: dict[tuple[date, str], dict[str, int]] = {}
    for row in stats.daily:
        cell = per_day.setdefault((row.day, row.source), {"bytes_in": 0, "bytes_out": 0})
        cell[row.status] = cell.get(row.status, 0) + row.events
        cell["bytes_in"] += row.bytes_in
        cell["bytes_out"] += row.bytes_out
    out += [
        "Daily volume",
        *table(
            ["day", "source", "processed", "duplicate", "rejected", "bytes in", "bytes out"],
            [
                [
                    d.isoformat(),
                    source,
                    n(c.get("processed", 0)),
                    n(c.get("duplicate", 0)),
                    n(c.get("rejected", 0)),
                    n(c["bytes_in"]),
                    n(c["bytes_out"]),
                ]
                for (d, source), c in sorted(per_day.items())
            ],
        ),
        "",
    ]
    if stats.latency:
        out += [
            "Processing time of processed images (ms)",
            *table(
                ["day", "source", "events", "p50", "p95", "max"],
                [
                    [
                        r.day.isoformat(),
                        r.source,
                        n(r.events),
                        ms(r.p50_ms),
                        ms(r.p95_ms),
                        ms(r.max_ms),
                    ]
                    for r in stats.latency
                ],
            ),
            "",
        ]
    if t.rejections_by_reason:
        out += [
            "Rejections by reason",
            *table(["reason", "events"], [[k, n(v)] for k, v in t.rejections_by_reason.items()]),
            "",
        ]
    if stats.formats:
        out += [
            "Format mix (accepted events)",
            *table(
                ["format", "events", "new images", "bytes in", "bytes out"],
                [
                    [f.format, n(f.events), n(f.new_images), n(f.bytes_in), n(f.bytes_out)]
                    for f in stats.formats
                ],
            ),
            "",
        ]
    out += [
        "Top customers",
        *table(
            ["customer", "events", "processed", "duplicates", "rejected", "bytes in"],
            [
                [
                    c.customer_id,
                    n(c.events),
                    n(c.processed),
                    n(c.duplicates),
                    n(c.rejected),
                    n(c.bytes_in),
                ]
                for c in stats.customers
            ],
        ),
    ]
    return "\n".join(out) + "\n"
