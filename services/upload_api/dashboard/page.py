"""The dashboard page: the key statistics of a date range as one self-contained HTML document.

Everything is in the document (styles inline, charts as inline SVG, no script, no font or
image fetched), so it works offline and under a Content-Security-Policy of `default-src
'none'`. Every chart has a data table with the numbers it draws.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from html import escape
from importlib.resources import files
from urllib.parse import urlencode

from core.models import MAX_CUSTOMER_ID_BYTES, Source
from core.repository.migrations.views import STATS_VIEWS
from core.stats import Stats
from services.upload_api.dashboard.charts import (
    Series,
    attr,
    grouped_bars,
    horizontal_bars,
    lines,
    stacked_bars,
)

# Okabe-Ito colours: told apart with every common colour-vision deficiency.
SOURCE_COLORS: dict[str, str] = {"upload": "#0072B2", "stream": "#E69F00"}
STATUS_COLORS: dict[str, str] = {
    "processed": "#009E73",
    "duplicate": "#56B4E9",
    "rejected": "#D55E00",
}
BYTES_IN_COLOR = "#0072B2"
BYTES_OUT_COLOR = "#009E73"
REJECTION_COLOR = "#D55E00"
FORMAT_COLOR = "#CC79A7"
CUSTOMER_COLOR = "#0072B2"

SOURCES: tuple[Source, ...] = ("upload", "stream")
STATUSES = ("processed", "duplicate", "rejected")
PRESET_DAYS = (7, 14, 30, 90)
DEFAULT_DAYS = 14
MAX_DAYS = 366
NO_VALUE = "\u2013"  # an en dash where there is no number


@cache
def stylesheet() -> str:
    return (files("services.upload_api.dashboard") / "style.css").read_text(encoding="utf-8")


@cache
def content_security_policy() -> str:
    """Nothing may load from anywhere; the one inline stylesheet is allowed by its hash."""
    digest = base64.b64encode(hashlib.sha256(stylesheet().encode()).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


# --- numbers as people read them ----------------------------------------------------------------


def count(value: float) -> str:
    return f"{round(value):,}"


def size(value: float) -> str:
    """Bytes in decimal units (kB, MB, GB), as storage bills count them."""
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(amount) < 1000 or unit == "TB":
            if unit == "B":
                return f"{amount:.0f} B"
            return f"{amount:.3g} {unit}" if amount < 100 else f"{amount:.0f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")


def millis(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.3g} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.2g} ms"


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else NO_VALUE


def day_label(day: date) -> str:
    return f"{day:%b} {day.day}"


# --- what the page shows ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class View:
    """What the reader asked for, and what they may ask for."""

    since: date
    until: date
    today: date
    source: Source | None = None
    customer: str | None = None  # None: every customer (admins), or the caller's own
    caller: str = ""
    admin: bool = False
    error: str | None = None

    @property
    def days(self) -> list[date]:
        return [self.since + timedelta(n) for n in range((self.until - self.since).days + 1)]

    def query(self, **changes: str | None) -> str:
        """`?...` for this view with some parameters changed (empty ones left out)."""
        params: dict[str, str | None] = {
            "from": self.since.isoformat(),
            "to": self.until.isoformat(),
            "source": self.source,
            "customer": self.customer if self.admin else None,
        }
        params.update(changes)
        return "?" + urlencode({k: v for k, v in params.items() if v})


@dataclass(frozen=True, slots=True)
class Chart:
    chart_id: str
    title: str
    subtitle: str
    svg: str
    legend: Sequence[tuple[str, str, bool]]  # (name, colour, dashed line)
    table: str


def _table(caption: str, head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head_html = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = []
    for row in rows:
        first, *rest = row
        cells = "".join(f"<td>{escape(c)}</td>" for c in rest)
        body.append(f'<tr><th scope="row">{escape(first)}</th>{cells}</tr>')
    return (
        f'<div class="table-wrap"><table><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head_html}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _by_day(
    stats: Stats, days: Sequence[date], key: Callable[[str, str], str | None]
) -> dict[str, list[float]]:
    """Events per day for each value of key(source, status) (None: not counted)."""
    index = {day: i for i, day in enumerate(days)}
    out: dict[str, list[float]] = {}
    for row in stats.daily:
        name = key(row.source, row.status)
        if name is None or row.day not in index:
            continue
        out.setdefault(name, [0.0] * len(days))[index[row.day]] += row.events
    return out


def volume_chart(stats: Stats, view: View) -> Chart:
    days = view.days
    labels = [day_label(d) for d in days]
    per_source = _by_day(stats, days, lambda source, _status: source)
    series = [
        Series(source.capitalize(), per_source.get(source, [0.0] * len(days)), color)
        for source, color in SOURCE_COLORS.items()
        if view.source in (None, source)
    ]
    svg = stacked_bars(
        "volume",
        "Daily volume by source",
        f"Events per UTC day from {view.since} to {view.until}, uploads and stream records "
        "stacked.",
        labels,
        series,
        fmt=count,
        x_label="Day (UTC)",
        y_label="Events",
        integer=True,
    )
    rows = [
        (d.isoformat(), *(count(s.values[i] or 0) for s in series), count(sum_at(series, i)))
        for i, d in enumerate(days)
    ]
    return Chart(
        "volume",
        "Daily volume by source",
        "Every attempt: processed, duplicate and rejected",
        svg,
        [(s.name, s.color, False) for s in series],
        _table("Events per day and source", ["Day", *(s.name for s in series), "Total"], rows),
    )


def sum_at(series: Sequence[Series], index: int) -> float:
    return sum(s.values[index] or 0 for s in series)


def status_chart(stats: Stats, view: View) -> Chart:
    days = view.days
    labels = [day_label(d) for d in days]
    per_status = _by_day(stats, days, lambda _source, status: status)
    series = [
        Series(status.capitalize(), per_status.get(status, [0.0] * len(days)), color)
        for status, color in STATUS_COLORS.items()
    ]
    totals = stats.totals
    svg = stacked_bars(
        "status",
        "Status breakdown",
        f"Events per UTC day by outcome: {count(totals.processed)} processed, "
        f"{count(totals.duplicates)} duplicates, {count(totals.rejected)} rejected.",
        labels,
        series,
        fmt=count,
        x_label="Day (UTC)",
        y_label="Events",
        integer=True,
    )
    rows = [(d.isoformat(), *(count(s.values[i] or 0) for s in series)) for i, d in enumerate(days)]
    return Chart(
        "status",
        "Status breakdown",
        f"Rejected {percent(totals.rejected, totals.events)} · "
        f"duplicates {percent(totals.duplicates, totals.events)} of events",
        svg,
        [(s.name, s.color, False) for s in series],
        _table("Events per day and status", ["Day", *(s.name for s in series)], rows),
    )


def bytes_chart(stats: Stats, view: View) -> Chart:
    days = view.days
    index = {day: i for i, day in enumerate(days)}
    received = [0.0] * len(days)
    written = [0.0] * len(days)
    for row in stats.daily:
        i = index.get(row.day)
        if i is None:
            continue
        received[i] += row.bytes_in
        written[i] += row.bytes_out
    series = [
        Series("Bytes in", received, BYTES_IN_COLOR),
        Series("Bytes out", written, BYTES_OUT_COLOR),
    ]
    overall = stats.totals.output_ratio
    shown_ratio = ratio(overall) if overall is not None else NO_VALUE
    svg = grouped_bars(
        "bytes",
        "Bytes in vs out",
        f"Bytes received and rendition bytes written per UTC day; renditions weigh {shown_ratio} "
        "of the processed originals.",
        [day_label(d) for d in days],
        series,
        fmt=size,
        x_label="Day (UTC)",
        y_label="Bytes",
    )
    rows = [(d.isoformat(), size(received[i]), size(written[i])) for i, d in enumerate(days)]
    return Chart(
        "bytes",
        "Bytes in vs out",
        f"Out/in of processed images: {shown_ratio}",
        svg,
        [(s.name, s.color, False) for s in series],
        _table(
            "Bytes per day",
            ["Day", "Bytes in (all events)", "Bytes out (renditions)"],
            rows,
        ),
    )


def ratio(value: float) -> str:
    return f"{value:.2f}"


def ratio_chart(stats: Stats, view: View) -> Chart:
    days = view.days
    index = {day: i for i, day in enumerate(days)}
    bytes_in = [0] * len(days)
    bytes_out = [0] * len(days)
    for row in stats.daily:
        i = index.get(row.day)
        if i is not None and row.status == "processed":
            bytes_in[i] += row.bytes_in
            bytes_out[i] += row.bytes_out
    values: list[float | None] = [
        bytes_out[i] / bytes_in[i] if bytes_in[i] else None for i in range(len(days))
    ]
    overall = stats.totals.output_ratio
    svg = lines(
        "ratio",
        "Output to input ratio",
        "Rendition bytes written per byte of processed original, per UTC day "
        f"(over the range: {ratio(overall) if overall is not None else NO_VALUE}).",
        [day_label(d) for d in days],
        [Series("Out/in", values, BYTES_OUT_COLOR)],
        fmt=ratio,
        x_label="Day (UTC)",
        y_label="Bytes out / bytes in",
    )
    return Chart(
        "ratio",
        "Output to input ratio",
        "Rendition bytes per byte of processed original",
        svg,
        [],
        _table(
            "Processed bytes per day",
            ["Day", "Bytes in (processed)", "Bytes out", "Out/in"],
            [
                (
                    d.isoformat(),
                    size(bytes_in[i]),
                    size(bytes_out[i]),
                    ratio(v) if (v := values[i]) is not None else NO_VALUE,
                )
                for i, d in enumerate(days)
            ],
        ),
    )


def latency_chart(stats: Stats, view: View) -> Chart:
    days = view.days
    index = {day: i for i, day in enumerate(days)}
    series: list[Series] = []
    for source, color in SOURCE_COLORS.items():
        rows = [r for r in stats.latency if r.source == source and r.day in index]
        if not rows:
            continue
        p50: list[float | None] = [None] * len(days)
        p95: list[float | None] = [None] * len(days)
        for r in rows:
            p50[index[r.day]] = r.p50_ms
            p95[index[r.day]] = r.p95_ms
        name = source.capitalize()
        series.append(Series(f"{name} p95", p95, color))
        series.append(Series(f"{name} p50", p50, color, dashed=True))
    svg = lines(
        "latency",
        "Processing time p50 and p95",
        "Median (dashed) and 95th percentile (solid) processing time of processed images per "
        "UTC day and source, in milliseconds.",
        [day_label(d) for d in days],
        series,
        fmt=millis,
        x_label="Day (UTC)",
        y_label="Milliseconds",
    )
    table_rows = [
        (
            r.day.isoformat(),
            r.source,
            count(r.events),
            millis(r.p50_ms),
            millis(r.p95_ms),
            millis(r.max_ms),
        )
        for r in stats.latency
        if r.day in index
    ]
    mean = stats.totals.mean_processing_ms
    return Chart(
        "latency",
        "Processing time",
        f"Mean {millis(mean)} per processed image" if mean is not None else "No image processed",
        svg,
        [(s.name, s.color, s.dashed) for s in series],
        _table(
            "Processing time per day and source",
            ["Day", "Source", "Processed", "p50", "p95", "Max"],
            table_rows,
        ),
    )


def rejections_chart(stats: Stats, view: View) -> Chart:
    reasons = stats.totals.rejections_by_reason
    total = sum(reasons.values())
    items = [(reason.replace("_", " "), float(n)) for reason, n in reasons.items()]
    svg = horizontal_bars(
        "rejections",
        "Rejection reasons",
        f"{count(total)} rejected events by reason, most frequent first.",
        items,
        color=REJECTION_COLOR,
        fmt=count,
        x_label="Rejected events",
    )
    return Chart(
        "rejections",
        "Rejection reasons",
        f"{count(total)} rejected of {count(stats.totals.events)} events",
        svg,
        [],
        _table(
            "Rejected events by reason",
            ["Reason", "Events", "Share"],
            [(reason, count(n), percent(n, total)) for reason, n in reasons.items()],
        ),
    )


def formats_chart(stats: Stats, view: View) -> Chart:
    accepted = sum(f.events for f in stats.formats)
    items = [(f.format.upper() or "unknown", float(f.events)) for f in stats.formats]
    svg = horizontal_bars(
        "formats",
        "Format mix",
        "Accepted events by the format of the image sent, most frequent first.",
        items,
        color=FORMAT_COLOR,
        fmt=count,
        x_label="Accepted events",
    )
    return Chart(
        "formats",
        "Format mix",
        f"{count(accepted)} accepted images by source format",
        svg,
        [],
        _table(
            "Accepted events by source format",
            ["Format", "Events", "Share", "New images", "Bytes in", "Bytes out"],
            [
                (
                    f.format.upper(),
                    count(f.events),
                    percent(f.events, accepted),
                    count(f.new_images),
                    size(f.bytes_in),
                    size(f.bytes_out),
                )
                for f in stats.formats
            ],
        ),
    )


def customers_chart(stats: Stats, view: View) -> Chart:
    items = [(c.customer_id, float(c.events)) for c in stats.customers]
    svg = horizontal_bars(
        "customers",
        "Top customers",
        "Customers ranked by events in the range.",
        items,
        color=CUSTOMER_COLOR,
        fmt=count,
        x_label="Events",
    )
    return Chart(
        "customers",
        "Top customers",
        "By events in the range",
        svg,
        [],
        _table(
            "Events per customer",
            ["Customer", "Events", "Processed", "Duplicates", "Rejected", "Bytes in"],
            [
                (
                    c.customer_id,
                    count(c.events),
                    count(c.processed),
                    count(c.duplicates),
                    count(c.rejected),
                    size(c.bytes_in),
                )
                for c in stats.customers
            ],
        ),
    )


CHARTS: tuple[Callable[[Stats, View], Chart], ...] = (
    volume_chart,
    status_chart,
    bytes_chart,
    ratio_chart,
    latency_chart,
    rejections_chart,
    formats_chart,
    customers_chart,
)


# --- the document -------------------------------------------------------------------------------


def _legend(chart: Chart) -> str:
    if not chart.legend:
        return ""
    items = []
    for name, color, dashed in chart.legend:
        if dashed:
            mark = (
                f'<line x1="0" y1="6" x2="16" y2="6" stroke="{color}" stroke-width="2" '
                'stroke-dasharray="4 3"/>'
            )
        else:
            mark = f'<rect x="2" y="1" width="10" height="10" rx="2" fill="{color}"/>'
        items.append(
            f'<li><svg class="swatch" viewBox="0 0 16 12" aria-hidden="true">{mark}</svg>'
            f"{escape(name)}</li>"
        )
    return f'<ul class="legend" aria-hidden="true">{"".join(items)}</ul>'


def _figure(chart: Chart) -> str:
    heading = f"h-{chart.chart_id}"
    return (
        f'<section class="card" aria-labelledby="{heading}" data-figure="{chart.chart_id}">'
        f'<h2 id="{heading}">{escape(chart.title)}</h2>'
        f'<p class="sub">{escape(chart.subtitle)}</p>'
        f"{_legend(chart)}<figure>{chart.svg}</figure>"
        f"<details><summary>Data table</summary>{chart.table}</details></section>"
    )


def _kpis(stats: Stats) -> str:
    t = stats.totals
    out_in = ratio(t.output_ratio) if t.output_ratio is not None else NO_VALUE
    mean = millis(t.mean_processing_ms) if t.mean_processing_ms is not None else NO_VALUE
    tiles = [
        ("Events", count(t.events), "uploads and stream records"),
        ("New images", count(t.processed), "processed"),
        ("Duplicates", count(t.duplicates), f"{percent(t.duplicates, t.events)} of events"),
        ("Rejected", count(t.rejected), f"{percent(t.rejected, t.events)} of events"),
        ("Bytes in", size(t.bytes_in), "received"),
        ("Bytes out", size(t.bytes_out), f"out/in {out_in} (processed)"),
        ("Mean processing", mean, "per new image"),
    ]
    cells = "".join(
        f'<div class="kpi"><dt>{escape(name)}</dt><dd><span class="value">{escape(value)}'
        f'</span><span class="note">{escape(note)}</span></dd></div>'
        for name, value, note in tiles
    )
    return f'<dl class="kpis" aria-label="Totals for the range">{cells}</dl>'


def _form(view: View) -> str:
    source_options = "".join(
        f'<option value="{value}"{" selected" if view.source == (value or None) else ""}>'
        f"{label}</option>"
        for value, label in (("", "Both"), ("upload", "Upload"), ("stream", "Stream"))
    )
    customer_field = ""
    if view.admin:
        customer_field = (
            '<label>Customer <input type="text" name="customer" inputmode="text" '
            f'maxlength="{MAX_CUSTOMER_ID_BYTES}" placeholder="all customers" '
            f'value="{attr(view.customer or "")}">'
            "</label>"
        )
    presets = []
    for days in PRESET_DAYS:
        first = (view.today - timedelta(days - 1)).isoformat()
        href = view.query(**{"from": first, "to": view.today.isoformat()})
        current = ' aria-current="true"' if _is_preset(view, days) else ""
        presets.append(f'<a href="{attr(href)}"{current}>Last {days} days</a>')
    return (
        '<form class="range" method="get" role="search" aria-label="Date range and filters">'
        f'<label>From <input type="date" name="from" value="{view.since.isoformat()}" '
        f'max="{view.today.isoformat()}" required></label>'
        f'<label>To <input type="date" name="to" value="{view.until.isoformat()}" required>'
        f'</label><label>Source <select name="source">{source_options}</select></label>'
        f'{customer_field}<button type="submit">Show</button></form>'
        f'<nav class="presets" aria-label="Quick ranges">{"".join(presets)}</nav>'
    )


def _is_preset(view: View, days: int) -> bool:
    return view.until == view.today and view.since == view.today - timedelta(days - 1)


def _scope_text(view: View) -> str:
    who = (
        f"customer {view.customer}"
        if view.customer
        else ("all customers" if view.admin else f"customer {view.caller}")
    )
    how = {None: "both sources", "upload": "uploads only", "stream": "stream only"}[view.source]
    first = f"{day_label(view.since)}, {view.since.year}"
    last = f"{day_label(view.until)}, {view.until.year}"
    span = f"{first} \u2013 {last}"
    return f"{span} (UTC) · {who} · {how}"


def _empty(view: View) -> str:
    return (
        '<section class="card empty" aria-labelledby="h-empty" data-empty>'
        '<h2 id="h-empty">No images in this range</h2>'
        f"<p>Nothing arrived between {view.since.isoformat()} and {view.until.isoformat()} "
        "for this selection. Pick a wider range, or send some images:</p>"
        "<ul><li>upload one: <code>curl -F file=@photo.jpg "
        "http://127.0.0.1:8000/v1/images</code></li>"
        "<li>or fill a demo data set: <code>imgpipe demo</code></li></ul></section>"
    )


def render(stats: Stats | None, view: View) -> str:
    """The whole page. `stats` None (with `view.error`) renders the form and the error only."""
    body: list[str] = []
    if view.error:
        body.append(f'<p class="error" role="alert">{escape(view.error)}</p>')
    if stats is not None and stats.empty:
        body.append(_empty(view))
    elif stats is not None:
        body.append(_kpis(stats))
        charts = [build(stats, view) for build in CHARTS]
        body.append('<div class="grid">' + "".join(_figure(c) for c in charts) + "</div>")
    json_link = f"v1/stats{view.query()}"
    views = ", ".join(f"<code>{name}</code>" for name in STATS_VIEWS)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light">'
        '<link rel="icon" href="data:,">'
        "<title>imgpipe · key statistics</title>"
        f"<style>{stylesheet()}</style></head><body>"
        '<header class="top"><div class="brand"><span class="logo" aria-hidden="true">'
        '<svg viewBox="0 0 24 24"><rect x="2" y="4" width="20" height="16" rx="3" '
        'fill="none" stroke="#fff" stroke-width="2"/><path d="M5 17l5-6 4 4 2-2 3 4z" '
        'fill="#fff"/><circle cx="16" cy="9" r="2" fill="#fff"/></svg></span>'
        "<h1>imgpipe <span>key statistics</span></h1></div>"
        f'<p class="scope">{escape(_scope_text(view))}</p></header>'
        f"<main>{_form(view)}{''.join(body)}</main>"
        f"<footer><p>Read from the warehouse views {views}: the numbers QuickSight shows. "
        "The same as JSON: "
        f'<a href="{attr(json_link)}"><code>GET /{escape(json_link)}</code></a>.</p></footer>'
        "</body></html>"
    )
