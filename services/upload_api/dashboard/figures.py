"""The dashboard's eight figures: for each, a chart and the data table of the numbers it draws."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from core.stats import Stats
from services.upload_api.dashboard.charts import (
    DayAxes,
    Format,
    Series,
    grouped_bars,
    horizontal_bars,
    lines,
    stacked_bars,
)
from services.upload_api.dashboard.view import (
    BYTES_IN_COLOR,
    BYTES_OUT_COLOR,
    CUSTOMER_COLOR,
    FORMAT_COLOR,
    NO_VALUE,
    REJECTION_COLOR,
    SOURCE_COLORS,
    STATUS_COLORS,
    View,
    count,
    day_label,
    millis,
    percent,
    ratio,
    size,
)


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


def _days(
    view: View, chart_id: str, title: str, description: str, *, fmt: Format, y_label: str
) -> DayAxes:
    """The axes of a chart over the view's days."""
    labels = [day_label(d) for d in view.days]
    return DayAxes(chart_id, title, description, labels, fmt, y_label, integer=fmt is count)


def _legend(series: Sequence[Series]) -> list[tuple[str, str, bool]]:
    return [(s.name, s.color, s.dashed) for s in series]


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


def _bytes_by_day(
    stats: Stats, days: Sequence[date], *, processed_only: bool
) -> tuple[list[float], list[float]]:
    """Bytes received and written per day (of processed events only, or of all)."""
    index = {day: i for i, day in enumerate(days)}
    received = [0.0] * len(days)
    written = [0.0] * len(days)
    for row in stats.daily:
        i = index.get(row.day)
        if i is None or (processed_only and row.status != "processed"):
            continue
        received[i] += row.bytes_in
        written[i] += row.bytes_out
    return received, written


def sum_at(series: Sequence[Series], index: int) -> float:
    return sum(s.values[index] or 0 for s in series)


def volume_chart(stats: Stats, view: View) -> Chart:
    days = view.days
    per_source = _by_day(stats, days, lambda source, _status: source)
    series = [
        Series(source.capitalize(), per_source.get(source, [0.0] * len(days)), color)
        for source, color in SOURCE_COLORS.items()
        if view.source in (None, source)
    ]
    title = "Daily volume by source"
    description = (
        f"Events per UTC day from {view.since} to {view.until}, uploads and stream records stacked."
    )
    svg = stacked_bars(
        _days(view, "volume", title, description, fmt=count, y_label="Events"), series
    )
    rows = [
        (d.isoformat(), *(count(s.values[i] or 0) for s in series), count(sum_at(series, i)))
        for i, d in enumerate(days)
    ]
    head = ["Day", *(s.name for s in series), "Total"]
    subtitle = "Every attempt: processed, duplicate and rejected"
    table = _table("Events per day and source", head, rows)
    return Chart("volume", title, subtitle, svg, _legend(series), table)


def status_chart(stats: Stats, view: View) -> Chart:
    days = view.days
    per_status = _by_day(stats, days, lambda _source, status: status)
    series = [
        Series(status.capitalize(), per_status.get(status, [0.0] * len(days)), color)
        for status, color in STATUS_COLORS.items()
    ]
    totals = stats.totals
    description = (
        f"Events per UTC day by outcome: {count(totals.processed)} processed, "
        f"{count(totals.duplicates)} duplicates, {count(totals.rejected)} rejected."
    )
    axes = _days(view, "status", "Status breakdown", description, fmt=count, y_label="Events")
    rows = [(d.isoformat(), *(count(s.values[i] or 0) for s in series)) for i, d in enumerate(days)]
    subtitle = (
        f"Rejected {percent(totals.rejected, totals.events)} · "
        f"duplicates {percent(totals.duplicates, totals.events)} of events"
    )
    table = _table("Events per day and status", ["Day", *(s.name for s in series)], rows)
    return Chart("status", axes.title, subtitle, stacked_bars(axes, series), _legend(series), table)


def bytes_chart(stats: Stats, view: View) -> Chart:
    days = view.days
    received, written = _bytes_by_day(stats, days, processed_only=False)
    series = [
        Series("Bytes in", received, BYTES_IN_COLOR),
        Series("Bytes out", written, BYTES_OUT_COLOR),
    ]
    overall = stats.totals.output_ratio
    shown_ratio = ratio(overall) if overall is not None else NO_VALUE
    description = (
        f"Bytes received and rendition bytes written per UTC day; renditions weigh {shown_ratio} "
        "of the processed originals."
    )
    axes = _days(view, "bytes", "Bytes in vs out", description, fmt=size, y_label="Bytes")
    rows = [(d.isoformat(), size(received[i]), size(written[i])) for i, d in enumerate(days)]
    head = ["Day", "Bytes in (all events)", "Bytes out (renditions)"]
    subtitle = f"Out/in of processed images: {shown_ratio}"
    table = _table("Bytes per day", head, rows)
    return Chart("bytes", axes.title, subtitle, grouped_bars(axes, series), _legend(series), table)


def ratio_chart(stats: Stats, view: View) -> Chart:
    days = view.days
    bytes_in, bytes_out = _bytes_by_day(stats, days, processed_only=True)
    values: list[float | None] = [
        bytes_out[i] / bytes_in[i] if bytes_in[i] else None for i in range(len(days))
    ]
    overall = stats.totals.output_ratio
    description = (
        "Rendition bytes written per byte of processed original, per UTC day "
        f"(over the range: {ratio(overall) if overall is not None else NO_VALUE})."
    )
    axes = _days(
        view,
        "ratio",
        "Output to input ratio",
        description,
        fmt=ratio,
        y_label="Bytes out / bytes in",
    )
    rows = [
        (
            d.isoformat(),
            size(bytes_in[i]),
            size(bytes_out[i]),
            ratio(v) if (v := values[i]) is not None else NO_VALUE,
        )
        for i, d in enumerate(days)
    ]
    head = ["Day", "Bytes in (processed)", "Bytes out", "Out/in"]
    svg = lines(axes, [Series("Out/in", values, BYTES_OUT_COLOR)])
    subtitle = "Rendition bytes per byte of processed original"
    table = _table("Processed bytes per day", head, rows)
    return Chart("ratio", axes.title, subtitle, svg, [], table)


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
    description = (
        "Median (dashed) and 95th percentile (solid) processing time of processed images per "
        "UTC day and source, in milliseconds."
    )
    axes = _days(
        view,
        "latency",
        "Processing time p50 and p95",
        description,
        fmt=millis,
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
    subtitle = f"Mean {millis(mean)} per processed image" if mean is not None else None
    head = ["Day", "Source", "Processed", "p50", "p95", "Max"]
    table = _table("Processing time per day and source", head, table_rows)
    return Chart(
        "latency",
        "Processing time",
        subtitle or "No image processed",
        lines(axes, series),
        _legend(series),
        table,
    )


def _ranked(
    *,
    chart_id: str,
    title: str,
    description: str,
    subtitle: str,
    items: Sequence[tuple[str, float]],
    color: str,
    x_label: str,
    table: str,
) -> Chart:
    """A figure of horizontal bars, largest first."""
    svg = horizontal_bars(
        chart_id, title, description, items, color=color, fmt=count, x_label=x_label
    )
    return Chart(chart_id, title, subtitle, svg, [], table)


def rejections_chart(stats: Stats, view: View) -> Chart:
    reasons = stats.totals.rejections_by_reason
    total = sum(reasons.values())
    rows = [(reason, count(n), percent(n, total)) for reason, n in reasons.items()]
    return _ranked(
        chart_id="rejections",
        title="Rejection reasons",
        description=f"{count(total)} rejected events by reason, most frequent first.",
        subtitle=f"{count(total)} rejected of {count(stats.totals.events)} events",
        items=[(reason.replace("_", " "), float(n)) for reason, n in reasons.items()],
        color=REJECTION_COLOR,
        x_label="Rejected events",
        table=_table("Rejected events by reason", ["Reason", "Events", "Share"], rows),
    )


def formats_chart(stats: Stats, view: View) -> Chart:
    accepted = sum(f.events for f in stats.formats)
    head = ["Format", "Events", "Share", "New images", "Bytes in", "Bytes out"]
    rows = [
        (
            f.format.upper(),
            count(f.events),
            percent(f.events, accepted),
            count(f.new_images),
            size(f.bytes_in),
            size(f.bytes_out),
        )
        for f in stats.formats
    ]
    return _ranked(
        chart_id="formats",
        title="Format mix",
        description="Accepted events by the format of the image sent, most frequent first.",
        subtitle=f"{count(accepted)} accepted images by source format",
        items=[(f.format.upper() or "unknown", float(f.events)) for f in stats.formats],
        color=FORMAT_COLOR,
        x_label="Accepted events",
        table=_table("Accepted events by source format", head, rows),
    )


def customers_chart(stats: Stats, view: View) -> Chart:
    head = ["Customer", "Events", "Processed", "Duplicates", "Rejected", "Bytes in"]
    rows = [
        (
            c.customer_id,
            count(c.events),
            count(c.processed),
            count(c.duplicates),
            count(c.rejected),
            size(c.bytes_in),
        )
        for c in stats.customers
    ]
    return _ranked(
        chart_id="customers",
        title="Top customers",
        description="Customers ranked by events in the range.",
        subtitle="By events in the range",
        items=[(c.customer_id, float(c.events)) for c in stats.customers],
        color=CUSTOMER_COLOR,
        x_label="Events",
        table=_table("Events per customer", head, rows),
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
