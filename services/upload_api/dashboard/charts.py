"""Small server-side SVG charts: stacked and grouped bars over days, lines, horizontal bars.

Each chart is one <svg role="img"> with a <title> and <desc>, axis labels, and a <title> on
every mark (the browser shows it as a tooltip: no script is needed). Colours are presentation
attributes, never style attributes, so the page's Content-Security-Policy needs no
'unsafe-inline'. The SVG scales with its container (viewBox, no fixed size).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

Format = Callable[[float], str]

WIDTH = 560
HEIGHT = 260
MARGIN_LEFT = 64
MARGIN_RIGHT = 14
MARGIN_TOP = 14
MARGIN_BOTTOM = 46
MAX_X_LABELS = 8


@dataclass(frozen=True, slots=True)
class Series:
    """One named series of values (None: no value, e.g. a day with no processed event)."""

    name: str
    values: Sequence[float | None]
    color: str
    dashed: bool = False


def attr(value: object) -> str:
    return escape(str(value), quote=True)


def _n(value: float) -> str:
    """A coordinate with at most two decimals, without a trailing .0."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def nice_ticks(maximum: float, count: int = 4, *, integer: bool = False) -> list[float]:
    """Round tick values from 0 to at least `maximum`: steps of 1, 2, 2.5 or 5 times 10^k
    (whole steps only when `integer`, for counts)."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude * 10
    for multiple in (1, 2, 2.5, 5, 10):
        candidate = multiple * magnitude
        if integer and (candidate < 1 or candidate != int(candidate)):
            continue
        if candidate >= raw:
            step = candidate
            break
    steps = max(1, math.ceil(maximum / step - 1e-9))
    return [i * step for i in range(steps + 1)]


def _open(chart_id: str, title: str, description: str, height: int) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" data-chart="{attr(chart_id)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(description)}</desc>',
    ]


@dataclass(frozen=True, slots=True)
class _Frame:
    """The plot area of a chart over days, and its scales."""

    labels: Sequence[str]
    top: float
    height: int = HEIGHT

    @property
    def plot_width(self) -> float:
        return WIDTH - MARGIN_LEFT - MARGIN_RIGHT

    @property
    def plot_height(self) -> float:
        return self.height - MARGIN_TOP - MARGIN_BOTTOM

    @property
    def band(self) -> float:
        return self.plot_width / max(1, len(self.labels))

    def x(self, index: int) -> float:
        return MARGIN_LEFT + index * self.band

    def centre(self, index: int) -> float:
        return self.x(index) + self.band / 2

    def y(self, value: float) -> float:
        return MARGIN_TOP + self.plot_height * (1 - value / self.top)

    @property
    def baseline(self) -> float:
        return MARGIN_TOP + self.plot_height


def _axes(frame: _Frame, ticks: Sequence[float], fmt: Format, x_label: str, y_label: str) -> str:
    parts = ['<g class="axes">']
    for tick in ticks:
        y = frame.y(tick)
        parts.append(
            f'<line class="grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" '
            f'y1="{_n(y)}" y2="{_n(y)}"/>'
        )
        parts.append(
            f'<text class="tick" x="{MARGIN_LEFT - 6}" y="{_n(y + 4)}" '
            f'text-anchor="end">{escape(fmt(tick))}</text>'
        )
    every = max(1, math.ceil(len(frame.labels) / MAX_X_LABELS))
    for index, label in enumerate(frame.labels):
        if index % every:
            continue
        parts.append(
            f'<text class="tick" x="{_n(frame.centre(index))}" y="{_n(frame.baseline + 16)}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" '
        f'y1="{_n(frame.baseline)}" y2="{_n(frame.baseline)}"/>'
    )
    parts.append(
        f'<text class="axis-label" x="{_n(MARGIN_LEFT + frame.plot_width / 2)}" '
        f'y="{frame.height - 6}" text-anchor="middle">{escape(x_label)}</text>'
    )
    middle = MARGIN_TOP + frame.plot_height / 2
    parts.append(
        f'<text class="axis-label y-label" x="14" y="{_n(middle)}" text-anchor="middle" '
        f'transform="rotate(-90 14 {_n(middle)})">{escape(y_label)}</text>'
    )
    parts.append("</g>")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class DayAxes:
    """A chart over days: its id and texts, a label per day, and how its values read."""

    chart_id: str
    title: str
    description: str
    labels: Sequence[str]
    fmt: Format
    y_label: str
    x_label: str = "Day (UTC)"
    integer: bool = False


def _plot(axes: DayAxes, peak: float) -> tuple[_Frame, list[str]]:
    """The frame scaled to `peak`, and the chart so far: its title, axes and open marks."""
    ticks = nice_ticks(peak, integer=axes.integer)
    frame = _Frame(axes.labels, ticks[-1])
    parts = _open(axes.chart_id, axes.title, axes.description, frame.height)
    parts.append(_axes(frame, ticks, axes.fmt, axes.x_label, axes.y_label))
    parts.append('<g class="marks">')
    return frame, parts


def _bar(x: float, top: float, width: float, height: float, *, color: str, tip: str) -> str:
    return (
        f'<rect class="bar" x="{_n(x)}" y="{_n(top)}" width="{_n(width)}" '
        f'height="{_n(max(height, 0.5))}" fill="{color}"><title>{escape(tip)}</title></rect>'
    )


def stacked_bars(axes: DayAxes, series: Sequence[Series]) -> str:
    """One bar per label, its series stacked bottom-up in the order given."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(axes.labels))]
    frame, parts = _plot(axes, max(totals, default=0))
    width = frame.band * 0.72
    for index, label in enumerate(axes.labels):
        below = 0.0
        for s in series:
            value = s.values[index] or 0
            if value <= 0:
                continue
            top = frame.y(below + value)
            height = frame.y(below) - top
            below += value
            x = frame.x(index) + (frame.band - width) / 2
            tip = f"{label}, {s.name}: {axes.fmt(value)}"
            parts.append(_bar(x, top, width, height, color=s.color, tip=tip))
    parts.append("</g></svg>")
    return "".join(parts)


def grouped_bars(axes: DayAxes, series: Sequence[Series]) -> str:
    """Side-by-side bars per label, one per series."""
    frame, parts = _plot(axes, max((v or 0 for s in series for v in s.values), default=0))
    group = frame.band * 0.8
    width = group / max(1, len(series))
    for index, label in enumerate(axes.labels):
        left = frame.x(index) + (frame.band - group) / 2
        for k, s in enumerate(series):
            value = s.values[index] or 0
            if value <= 0:
                continue
            top = frame.y(value)
            tip = f"{label}, {s.name}: {axes.fmt(value)}"
            parts.append(
                _bar(
                    left + k * width,
                    top,
                    width * 0.92,
                    frame.baseline - top,
                    color=s.color,
                    tip=tip,
                )
            )
    parts.append("</g></svg>")
    return "".join(parts)


def lines(axes: DayAxes, series: Sequence[Series]) -> str:
    """A line per series through the days that have a value (gaps where there is none),
    with a dot on every value."""
    peak = max((v for s in series for v in s.values if v is not None), default=0)
    frame, parts = _plot(axes, peak)
    for s in series:
        dash = ' stroke-dasharray="5 4"' if s.dashed else ""
        run: list[str] = []
        segments: list[list[str]] = []
        for index, value in enumerate(s.values):
            if value is None:
                if run:
                    segments.append(run)
                run = []
                continue
            run.append(f"{_n(frame.centre(index))},{_n(frame.y(value))}")
        if run:
            segments.append(run)
        for segment in segments:
            if len(segment) > 1:
                parts.append(
                    f'<polyline class="line" points="{" ".join(segment)}" fill="none" '
                    f'stroke="{s.color}" stroke-width="2"{dash}/>'
                )
        for index, value in enumerate(s.values):
            if value is None:
                continue
            parts.append(
                f'<circle class="dot" cx="{_n(frame.centre(index))}" cy="{_n(frame.y(value))}" '
                f'r="3" fill="{s.color}"><title>{escape(axes.labels[index])}, {escape(s.name)}: '
                f"{escape(axes.fmt(value))}</title></circle>"
            )
    parts.append("</g></svg>")
    return "".join(parts)


def horizontal_bars(
    chart_id: str,
    title: str,
    description: str,
    items: Sequence[tuple[str, float]],
    *,
    color: str,
    fmt: Format,
    x_label: str,
) -> str:
    """One labelled bar per item, largest first as given, its value at its end."""
    row = 26
    # Room for the longest label at the largest font the stylesheet uses (phones).
    longest = max((min(len(name), 24) for name, _ in items), default=4)
    label_width = min(210, max(60, round(8.8 * longest) + 12))
    height = MARGIN_TOP + row * len(items) + 30
    value_room = 64
    plot = WIDTH - label_width - MARGIN_RIGHT - value_room
    peak = max((value for _, value in items), default=0) or 1
    parts = _open(chart_id, title, description, height)
    parts.append('<g class="marks">')
    for index, (name, value) in enumerate(items):
        y = MARGIN_TOP + index * row
        width = max(plot * value / peak, 1.0)
        shown = name if len(name) <= 24 else name[:23] + "…"
        parts.append(
            f'<text class="tick" x="{label_width - 8}" y="{_n(y + row / 2 + 4)}" '
            f'text-anchor="end">{escape(shown)}</text>'
            f'<rect class="bar" x="{label_width}" y="{_n(y + 4)}" width="{_n(width)}" '
            f'height="{row - 8}" rx="2" fill="{color}"><title>{escape(name)}: '
            f"{escape(fmt(value))}</title></rect>"
            f'<text class="value" x="{_n(label_width + width + 6)}" y="{_n(y + row / 2 + 4)}">'
            f"{escape(fmt(value))}</text>"
        )
    parts.append("</g>")
    parts.append(
        f'<text class="axis-label" x="{_n(label_width + plot / 2)}" y="{height - 8}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
