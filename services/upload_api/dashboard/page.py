"""The dashboard page: the key statistics of a date range as one self-contained HTML document.

Everything is in the document (styles inline, charts as inline SVG, no script, no font or
image fetched), so it works offline and under a Content-Security-Policy of `default-src
'none'`. Every chart has a data table with the numbers it draws.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from functools import cache
from html import escape
from importlib.resources import files

from core.models import MAX_CUSTOMER_ID_BYTES
from core.repository.migrations.views import STATS_VIEWS
from core.stats import Stats
from services.upload_api.dashboard.charts import attr
from services.upload_api.dashboard.figures import CHARTS, Chart
from services.upload_api.dashboard.view import (
    NO_VALUE,
    PRESET_DAYS,
    View,
    count,
    day_label,
    millis,
    percent,
    ratio,
    size,
)


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
