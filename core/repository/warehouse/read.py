"""What the warehouse answers readers: a customer's images, a page at a time, the key
statistics from the stats views, and single events (for tools and tests)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

import sqlalchemy as sa

from core.errors import ErrorCode, PermanentError
from core.models import EventRecord, ImageRecord, RenditionRecord, Source, Status
from core.repository.migrations.views import (
    STATS_CUSTOMERS_DAILY,
    STATS_DAILY,
    STATS_FORMATS_DAILY,
    STATS_LATENCY_DAILY,
    STATS_REJECTIONS_DAILY,
    view_table,
)
from core.repository.warehouse.engine import Database
from core.repository.warehouse.schema import images, ingest_events, renditions
from core.stats import (
    CustomerVolume,
    DailyLatency,
    DailyRejections,
    DailyVolume,
    FormatShare,
    Stats,
    totals_of,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class WarehouseReader(Database):
    """Reads of the warehouse; they lag ingest by at most one load interval."""

    def get_event(self, event_id: str) -> EventRecord | None:
        with self._transaction("reading an event") as conn:
            row = conn.execute(
                sa.select(ingest_events).where(ingest_events.c.event_id == event_id)
            ).first()
        if row is None:
            return None
        m = row._mapping
        return EventRecord(
            event_id=m["event_id"],
            image_id=m["image_id"].strip() if m["image_id"] else None,
            customer_id=m["customer_id"],
            source=m["source"],
            status=m["status"],
            reason=m["reason"],
            format=m["format"],
            bytes_in=_int(m["bytes_in"]),
            bytes_out=_int(m["bytes_out"]),
            processing_ms=_float(m["processing_ms"]),
            received_at=m["received_at"],
            recorded_at=m["recorded_at"],
            match=m["match"],
            duplicate_of=m["duplicate_of"].strip() if m["duplicate_of"] else None,
        )

    def get_event_status(self, event_id: str) -> Status | None:
        event = self.get_event(event_id)
        return event.status if event else None

    def list_images(
        self,
        customer_id: str,
        limit: int = 50,
        cursor: str | None = None,
        since: datetime | None = None,
    ) -> tuple[list[ImageRecord], str | None]:
        """A customer's images, oldest first, a page at a time: (page, cursor of the next
        page or None). Ordered by (first_seen_at, image_id), so pages neither skip nor repeat
        while images are added."""
        if not 1 <= limit <= 1000:
            raise PermanentError(ErrorCode.INVALID_REQUEST, "limit must be between 1 and 1000")
        query = sa.select(images).where(images.c.customer_id == customer_id)
        if since is not None:
            query = query.where(images.c.first_seen_at >= since)
        if cursor:
            seen, after_id = decode_cursor(cursor)
            query = query.where(
                sa.or_(
                    images.c.first_seen_at > seen,
                    sa.and_(images.c.first_seen_at == seen, images.c.image_id > after_id),
                )
            )
        query = query.order_by(images.c.first_seen_at, images.c.image_id).limit(limit + 1)
        with self._transaction("listing images") as conn:
            rows = conn.execute(query).all()
            page = rows[:limit]
            ids = [row.image_id for row in page]
            by_image: dict[str, list[RenditionRecord]] = {}
            if ids:
                for r in conn.execute(
                    sa.select(renditions)
                    .where(renditions.c.image_id.in_(ids))
                    .order_by(renditions.c.image_id, renditions.c.name)
                ):
                    by_image.setdefault(r.image_id.strip(), []).append(
                        RenditionRecord(
                            name=r.name,
                            width=r.width,
                            height=r.height,
                            bytes=_int(r.bytes),
                            content_type=r.content_type,
                            key=r.object_key,
                        )
                    )
        records = []
        for row in page:
            values = dict(row._mapping)
            values["image_id"] = values["image_id"].strip()
            values["bytes_in"] = _int(values["bytes_in"])
            records.append(
                ImageRecord(**values, renditions=tuple(by_image.get(values["image_id"], ())))
            )
        next_cursor = None
        if len(rows) > limit and records:
            last = records[-1]
            next_cursor = encode_cursor(last.first_seen_at, last.image_id)
        return records, next_cursor

    def stats(
        self,
        since: date | None = None,
        until: date | None = None,
        source: Source | None = None,
        customer_id: str | None = None,
        top_customers: int = 10,
    ) -> Stats:
        """The key statistics from the stats views. `since` and `until` are UTC days, both
        included; `customer_id` scopes every series to one customer."""
        if since is not None and until is not None and since > until:
            raise PermanentError(ErrorCode.INVALID_REQUEST, "`from` is after `to`")

        def scoped(view: sa.TableClause, *, all_customers_row: bool = False) -> Any:
            conditions: list[Any] = []
            if since is not None:
                conditions.append(view.c.day >= since)
            if until is not None:
                conditions.append(view.c.day <= until)
            if source is not None:
                conditions.append(view.c.source == source)
            if customer_id is not None:
                conditions.append(view.c.customer_id == customer_id)
            elif all_customers_row:
                conditions.append(view.c.customer_id.is_(None))
            return sa.and_(sa.true(), *conditions)

        d = view_table(STATS_DAILY)
        lat = view_table(STATS_LATENCY_DAILY)
        rej = view_table(STATS_REJECTIONS_DAILY)
        fmt = view_table(STATS_FORMATS_DAILY)
        cus = view_table(STATS_CUSTOMERS_DAILY)
        s = sa.func.sum

        with self._transaction("reading statistics") as conn:
            daily_rows = conn.execute(
                sa.select(
                    d.c.day,
                    d.c.source,
                    d.c.status,
                    s(d.c.events),
                    s(d.c.images),
                    s(d.c.bytes_in),
                    s(d.c.bytes_out),
                    s(d.c.processing_ms_total),
                )
                .where(scoped(d))
                .group_by(d.c.day, d.c.source, d.c.status)
                .order_by(d.c.day, d.c.source, d.c.status)
            ).all()
            latency_rows = conn.execute(
                sa.select(
                    lat.c.day,
                    lat.c.source,
                    lat.c.events,
                    lat.c.p50_ms,
                    lat.c.p95_ms,
                    lat.c.max_ms,
                )
                .where(scoped(lat, all_customers_row=True))
                .order_by(lat.c.day, lat.c.source)
            ).all()
            rejection_rows = conn.execute(
                sa.select(rej.c.day, rej.c.source, rej.c.reason, s(rej.c.events))
                .where(scoped(rej))
                .group_by(rej.c.day, rej.c.source, rej.c.reason)
                .order_by(rej.c.day, rej.c.source, rej.c.reason)
            ).all()
            format_rows = conn.execute(
                _ranked(fmt, "format", ("new_images", "bytes_in", "bytes_out"), scoped(fmt))
            ).all()
            customer_rows = conn.execute(
                _ranked(
                    cus,
                    "customer_id",
                    ("processed", "duplicates", "rejected", "bytes_in", "bytes_out"),
                    scoped(cus),
                    then_by="bytes_in",
                ).limit(max(1, top_customers))
            ).all()

        daily = _rows_as(DailyVolume, daily_rows)
        rejections = _rows_as(DailyRejections, rejection_rows)
        return Stats(
            since=since,
            until=until,
            source=source,
            customer_id=customer_id,
            totals=totals_of(daily, rejections),
            daily=daily,
            latency=_rows_as(DailyLatency, latency_rows),
            rejections=rejections,
            formats=_rows_as(FormatShare, format_rows),
            customers=_rows_as(CustomerVolume, customer_rows),
        )


def _ranked(
    view: sa.TableClause, key: str, measures: Sequence[str], where: Any, *, then_by: str = ""
) -> sa.Select[Any]:
    """Per `key`: its events and `measures`, summed; most events first, then most `then_by`,
    then by key, so equal counts come in a stable order."""
    events = sa.func.sum(view.c.events)
    order = [events.desc()]
    if then_by:
        order.append(sa.func.sum(view.c[then_by]).desc())
    return (
        sa.select(view.c[key], events, *(sa.func.sum(view.c[m]) for m in measures))
        .where(where)
        .group_by(view.c[key])
        .order_by(*order, view.c[key])
    )


def _rows_as(cls: type[T], rows: Iterable[Sequence[Any]]) -> tuple[T, ...]:
    """Rows whose columns come in the order of `cls`'s fields, as `cls`: a sum over no rows
    (NULL) reads as 0, a NULL name (an event refused before its format was known) as ""."""
    hints = get_type_hints(cls)
    fields = [(f.name, _FROM_COLUMN[hints[f.name]]) for f in dataclasses.fields(cls)]
    return tuple(
        cls(**{name: read(value) for (name, read), value in zip(fields, row, strict=True)})
        for row in rows
    )


def _int(value: Any) -> int:
    return int(value or 0)


def _float(value: Any) -> float:
    return float(value or 0.0)


def _day_of(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _str(value: Any) -> str:
    return str(value or "")


_FROM_COLUMN: dict[type, Callable[[Any], Any]] = {
    date: _day_of,
    int: _int,
    float: _float,
    str: _str,
}


# ---------------------------------------------------------------------------------------------
# Cursors


def encode_cursor(first_seen_at: datetime, image_id: str) -> str:
    raw = json.dumps([first_seen_at.astimezone(UTC).isoformat(), image_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        seen, image_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        when = datetime.fromisoformat(seen)
        if when.tzinfo is None or not isinstance(image_id, str) or len(image_id) != 36:
            raise ValueError("bad cursor fields")
    except (ValueError, TypeError, binascii.Error, UnicodeError) as exc:
        raise PermanentError(
            ErrorCode.INVALID_REQUEST, "cursor is not one this API issued"
        ) from exc
    return when, image_id
