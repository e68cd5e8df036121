"""Readiness: whether this process can reach its warehouse and its object storage now."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import TransientError

if TYPE_CHECKING:
    from core.bootstrap import Context


def unreachable(ctx: Context) -> dict[str, TransientError | None]:
    """Each dependency ("database", "storage") with why it cannot be reached, or None."""
    checks: dict[str, TransientError | None] = {}
    for name, ping in (("database", ctx.warehouse.ping), ("storage", ctx.objects.ping)):
        try:
            ping()
            checks[name] = None
        except TransientError as error:
            checks[name] = error
    return checks
