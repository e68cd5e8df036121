"""Who may read which customer's statistics, which ranges of days make sense, and the read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import Forbidden

if TYPE_CHECKING:
    from datetime import date

    from core.bootstrap import Context
    from core.config import Settings
    from core.models import Source
    from core.stats import Stats


def sees_every_customer(caller: str, settings: Settings, *, authenticated: bool) -> bool:
    """Admins see every customer's numbers. Without authentication (open mode, the embedded
    defaults) there is no one to keep apart, so the one caller sees everything."""
    return not authenticated or caller in settings.admin_customers


def scope(caller: str, requested: str | None, *, admin: bool) -> str | None:
    """The customer whose numbers the caller may read: None means every customer. Raises
    Forbidden when a customer names another."""
    if admin:
        return requested
    if requested is not None and requested != caller:
        raise Forbidden(f"this key sees only the statistics of customer {caller!r}")
    return caller


def range_problem(
    since: date | None, until: date | None, *, max_days: int | None = None
) -> str | None:
    """Why no statistics can be read for these days (first and last included), or None."""
    if since is None or until is None:
        return None
    if since > until:
        return f"the first day ({since.isoformat()}) is after the last ({until.isoformat()})"
    if max_days is not None and (until - since).days + 1 > max_days:
        return f"a range is at most {max_days} days"
    return None


def read_stats(
    caller: str,
    ctx: Context,
    *,
    admin: bool,
    since: date | None = None,
    until: date | None = None,
    source: Source | None = None,
    customer: str | None = None,
    top_customers: int = 10,
) -> Stats:
    """The statistics the caller asked for, within what it may see (see scope)."""
    return ctx.warehouse.stats(
        since=since,
        until=until,
        source=source,
        customer_id=scope(caller, customer, admin=admin),
        top_customers=top_customers,
    )
