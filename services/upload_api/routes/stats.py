"""/v1/stats: the key statistics (volume, bytes, latency, rejections, formats, customers)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from core.models import MAX_CUSTOMER_ID_BYTES, Source, Status, customer_id_problem
from core.stats_scope import range_problem, read_stats
from services.upload_api.deps import ContextDep, CustomerDep, is_admin
from services.upload_api.problems import ApiCode, ApiError, documented

router = APIRouter(prefix="/v1/stats", tags=["stats"])


def _check_customer(customer: str | None) -> None:
    """A customer filter no customer id could match is a mistake, not an empty answer."""
    if customer is not None and (problem := customer_id_problem(customer)) is not None:
        raise ApiError(
            422,
            ApiCode.VALIDATION_FAILED,
            f"`customer` is no customer id: {problem}",
            errors=[{"loc": ["query", "customer"], "msg": problem, "type": "customer_id"}],
        )


def _check_range(since: date | None, until: date | None) -> None:
    if (problem := range_problem(since, until)) is not None:
        raise ApiError(
            422,
            ApiCode.VALIDATION_FAILED,
            f"`from` and `to`: {problem}",
            errors=[{"loc": ["query", "from"], "msg": problem, "type": "range"}],
        )


# --- response models --------------------------------------------------------------------------


class DailyVolumeOut(BaseModel):
    """Events of one UTC day, source and status."""

    day: date
    source: Source
    status: Status
    events: int
    images: int = Field(description="Distinct images that day.")
    bytes_in: int
    bytes_out: int
    processing_ms_total: float


class DailyLatencyOut(BaseModel):
    """Processing time of one UTC day and source, over its processed events."""

    day: date
    source: Source
    events: int = Field(description="Processed events the percentiles are taken over.")
    p50_ms: float
    p95_ms: float
    max_ms: float


class DailyRejectionsOut(BaseModel):
    """Refusals of one UTC day and source, for one reason."""

    day: date
    source: Source
    reason: str = Field(description="The refusal's code, e.g. undecodable, unsupported_format.")
    events: int


class FormatShareOut(BaseModel):
    """Accepted events of one source image format."""

    format: str = Field(description="Source image format of accepted events.")
    events: int
    new_images: int
    bytes_in: int
    bytes_out: int


class CustomerVolumeOut(BaseModel):
    """One customer's events in the range, by status."""

    customer_id: str
    events: int
    processed: int
    duplicates: int
    rejected: int
    bytes_in: int
    bytes_out: int


class TotalsOut(BaseModel):
    """The whole range at once."""

    events: int
    processed: int = Field(description="Processed events: new images in the range.")
    duplicates: int
    rejected: int
    bytes_in: int
    bytes_out: int
    output_ratio: float | None = Field(
        description="bytes_out / bytes_in of processed events; null when nothing was processed."
    )
    mean_processing_ms: float | None = Field(description="Over processed events.")
    rejections_by_reason: dict[str, int]


EXAMPLE: dict[str, Any] = {
    "since": "2025-03-01",
    "until": "2025-03-02",
    "source": None,
    "customer_id": "acme",
    "totals": {
        "events": 7,
        "processed": 4,
        "duplicates": 1,
        "rejected": 2,
        "bytes_in": 11350,
        "bytes_out": 1900,
        "output_ratio": 0.19,
        "mean_processing_ms": 27.5,
        "rejections_by_reason": {"undecodable": 1, "unsupported_format": 1},
    },
    "daily": [
        {
            "day": "2025-03-01",
            "source": "upload",
            "status": "processed",
            "events": 3,
            "images": 3,
            "bytes_in": 6000,
            "bytes_out": 1500,
            "processing_ms_total": 60.0,
        },
        {
            "day": "2025-03-01",
            "source": "upload",
            "status": "duplicate",
            "events": 1,
            "images": 1,
            "bytes_in": 1000,
            "bytes_out": 0,
            "processing_ms_total": 2.0,
        },
        {
            "day": "2025-03-01",
            "source": "upload",
            "status": "rejected",
            "events": 1,
            "images": 0,
            "bytes_in": 50,
            "bytes_out": 0,
            "processing_ms_total": 1.0,
        },
        {
            "day": "2025-03-02",
            "source": "stream",
            "status": "processed",
            "events": 1,
            "images": 1,
            "bytes_in": 4000,
            "bytes_out": 400,
            "processing_ms_total": 50.0,
        },
        {
            "day": "2025-03-02",
            "source": "stream",
            "status": "rejected",
            "events": 1,
            "images": 0,
            "bytes_in": 300,
            "bytes_out": 0,
            "processing_ms_total": 0.5,
        },
    ],
    "latency": [
        {
            "day": "2025-03-01",
            "source": "upload",
            "events": 3,
            "p50_ms": 20.0,
            "p95_ms": 29.0,
            "max_ms": 30.0,
        },
        {
            "day": "2025-03-02",
            "source": "stream",
            "events": 1,
            "p50_ms": 50.0,
            "p95_ms": 50.0,
            "max_ms": 50.0,
        },
    ],
    "rejections": [
        {"day": "2025-03-01", "source": "upload", "reason": "undecodable", "events": 1},
        {"day": "2025-03-02", "source": "stream", "reason": "unsupported_format", "events": 1},
    ],
    "formats": [
        {"format": "jpeg", "events": 4, "new_images": 3, "bytes_in": 7000, "bytes_out": 1500},
        {"format": "png", "events": 1, "new_images": 1, "bytes_in": 4000, "bytes_out": 400},
    ],
    "customers": [
        {
            "customer_id": "acme",
            "events": 7,
            "processed": 4,
            "duplicates": 1,
            "rejected": 2,
            "bytes_in": 11350,
            "bytes_out": 1900,
        }
    ],
}


class StatsOut(BaseModel):
    """The key statistics of a range, from the same views the QuickSight data sets read."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    since: date | None = Field(description="First UTC day included (`from`); null: no bound.")
    until: date | None = Field(description="Last UTC day included (`to`); null: no bound.")
    source: Source | None = Field(description="The source filter; null: both.")
    customer_id: str | None = Field(description="The customer the numbers are of; null: all.")
    totals: TotalsOut
    daily: list[DailyVolumeOut] = Field(description="Per UTC day, source and status.")
    latency: list[DailyLatencyOut] = Field(
        description="Processing time of processed events per day and source (percentiles "
        "cannot be added up, so there is no total)."
    )
    rejections: list[DailyRejectionsOut] = Field(description="Per day, source and reason.")
    formats: list[FormatShareOut] = Field(description="Accepted events per source format.")
    customers: list[CustomerVolumeOut] = Field(description="Top customers by events.")


# --- the route --------------------------------------------------------------------------------

FromDay = Annotated[
    date | None,
    Query(
        alias="from",
        description="First UTC day to include (YYYY-MM-DD). Omitted: from the first event.",
        examples=["2025-03-01"],
    ),
]
ToDay = Annotated[
    date | None,
    Query(
        alias="to",
        description="Last UTC day to include (YYYY-MM-DD). Omitted: up to the last event.",
        examples=["2025-03-31"],
    ),
]
SourceFilter = Annotated[
    Source | None, Query(description="Only events that came this way. Omitted: both.")
]
CustomerFilter = Annotated[
    str | None,
    Query(
        alias="customer",
        min_length=1,
        max_length=MAX_CUSTOMER_ID_BYTES,
        description="Admin keys: one customer's numbers (omitted: every customer). Other keys "
        "see only their own customer and may name only it.",
    ),
]
TopCustomers = Annotated[
    int, Query(ge=1, le=100, description="How many customers `customers` ranks.")
]


@router.get(
    "",
    summary="Key statistics",
    response_model=StatsOut,
    responses={
        200: {
            "description": "Series and totals for the range",
            "content": {"application/json": {"example": EXAMPLE}},
        },
        **documented(401, 403, 422, 503),
    },
)
async def get_stats(
    request: Request,
    *,
    ctx: ContextDep,
    caller: CustomerDep,
    since: FromDay = None,
    until: ToDay = None,
    source: SourceFilter = None,
    customer: CustomerFilter = None,
    top: TopCustomers = 10,
) -> StatsOut:
    """Events, distinct images, duplicates, rejections by reason, bytes in and out (and their
    ratio), processing time p50/p95, format mix and top customers, per UTC day, source and
    status, with totals for the range. Read from the warehouse's statistics views: the numbers
    are those QuickSight shows, and lag ingest by at most one load interval (a minute on AWS,
    seconds locally). A range with no events answers zeros and empty series, not 404.
    An admin key (its customer in IMGPIPE_ADMIN_CUSTOMERS) sees every customer."""
    _check_range(since, until)
    _check_customer(customer)
    stats = await run_in_threadpool(
        read_stats,
        caller,
        ctx,
        admin=is_admin(caller, request),
        since=since,
        until=until,
        source=source,
        customer=customer,
        top_customers=top,
    )
    return StatsOut.model_validate(stats.to_json())
