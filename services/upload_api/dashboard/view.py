"""What the dashboard shows: the reader's view of a date range, its colours and number formats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from core.models import Source

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


# Numbers as people read them.


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


def ratio(value: float) -> str:
    return f"{value:.2f}"
