"""Ingest results built straight from core.models (no image processing), and the known data set
whose statistics the warehouse, API and CLI tests check against numbers worked out by hand."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone

from core import facts
from core.errors import ErrorCode
from core.layout import fact_key, new_ulid, rendition_key
from core.models import (
    ImageMetadata,
    IngestResult,
    Manifest,
    RenditionRecord,
    Source,
    Status,
    image_id_for,
)
from core.repository.warehouse import Warehouse

D1 = date(2024, 3, 1)
D2 = date(2024, 3, 2)
NOON = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def accepted(
    event_id: str,
    image: str,
    *,
    customer: str = "acme",
    source: Source = "upload",
    fmt: str = "jpeg",
    bytes_in: int = 1000,
    bytes_out: int = 400,
    ms: float = 10.0,
    when: datetime = NOON,
    status: Status = "processed",
) -> IngestResult:
    """An accepted result for the image named `image` (its bytes' stand-in)."""
    sha = hashlib.sha256(image.encode()).hexdigest()
    image_id = image_id_for(customer, sha)
    display = bytes_out * 3 // 4
    manifest = Manifest(
        image_id=image_id,
        customer_id=customer,
        metadata=ImageMetadata(
            sha256=sha,
            phash="0123456789abcdef",
            format=fmt,
            mode="RGB",
            width=640,
            height=480,
            frames=1,
            has_alpha=False,
            bytes_in=bytes_in,
            camera_make="Canon",
            camera_model="EOS 5D",
            taken_at=datetime(2023, 7, 14, 9, 30, tzinfo=UTC),
            has_gps=True,
        ),
        renditions=(
            RenditionRecord(
                "display",
                640,
                480,
                display,
                "image/jpeg",
                rendition_key("display", image_id, "jpg"),
            ),
            RenditionRecord(
                "thumb",
                256,
                192,
                bytes_out - display,
                "image/jpeg",
                rendition_key("thumb", image_id, "jpg"),
            ),
        ),
        created_at=when,
        source=source,
        first_event_id=event_id if status == "processed" else "",
        first_seen_at=when,
    )
    return IngestResult(
        event_id=event_id,
        customer_id=customer,
        source=source,
        status=status,
        received_at=when,
        bytes_in=bytes_in,
        processing_ms=ms,
        manifest=manifest,
    )


def refused(
    event_id: str,
    code: ErrorCode,
    *,
    customer: str = "acme",
    source: Source = "upload",
    bytes_in: int = 50,
    ms: float = 1.0,
    when: datetime = NOON,
) -> IngestResult:
    return IngestResult(
        event_id=event_id,
        customer_id=customer,
        source=source,
        status="rejected",
        received_at=when,
        bytes_in=bytes_in,
        processing_ms=ms,
        error_code=code,
        error_detail="refused",
    )


def known_data_set(warehouse: Warehouse) -> None:
    """Two customers, two days, both sources; the numbers below are worked out by hand."""
    paris = timezone(timedelta(hours=2))
    day1 = [
        accepted("a1", "A", fmt="jpeg", bytes_in=1000, bytes_out=400, ms=10),
        # 00:30 in Paris on the 2nd is 22:30 UTC on the 1st: counted on D1.
        accepted(
            "a2",
            "B",
            fmt="png",
            bytes_in=2000,
            bytes_out=500,
            ms=20,
            when=datetime(2024, 3, 2, 0, 30, tzinfo=paris),
        ),
        accepted("a3", "C", fmt="jpeg", bytes_in=3000, bytes_out=600, ms=30),
        accepted("a4", "A", fmt="jpeg", bytes_in=1000, bytes_out=400, ms=2, status="duplicate"),
        refused("a5", ErrorCode.UNDECODABLE, bytes_in=50),
        accepted("s1", "D", source="stream", fmt="webp", bytes_in=4000, bytes_out=800, ms=40),
        refused("s2", ErrorCode.UNSUPPORTED_FORMAT, source="stream", bytes_in=70),
        refused("s3", ErrorCode.UNSUPPORTED_FORMAT, source="stream", bytes_in=30),
        accepted(
            "g1",
            "E",
            customer="globex",
            bytes_in=5000,
            bytes_out=1000,
            ms=50,
            when=datetime(2024, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
        ),
    ]
    day2_time = datetime(2024, 3, 2, 0, 0, tzinfo=UTC)
    day2 = [
        accepted("b1", "F", bytes_in=1500, bytes_out=300, ms=11, when=day2_time),
        accepted("b2", "B", fmt="png", bytes_in=2000, ms=3, when=day2_time, status="duplicate"),
        accepted(
            "h1",
            "G",
            customer="globex",
            source="stream",
            fmt="gif",
            bytes_in=800,
            bytes_out=200,
            ms=5,
            when=day2_time,
        ),
        refused(
            "h2",
            ErrorCode.TOO_LARGE,
            customer="globex",
            source="stream",
            bytes_in=9000,
            ms=0.5,
            when=day2_time,
        ),
    ]
    load(warehouse, day1)
    load(warehouse, day2)


def load(
    warehouse: Warehouse, results: Sequence[IngestResult], key: str | None = None
) -> dict[str, int]:
    """Load the facts of `results` as the loader does a fact object (named `key`, or a new
    one): one transaction, new rows only; the rows written, by table."""
    rows = warehouse.prepare(json.loads(json.dumps(facts.rows_of(results))))
    with warehouse.load_session() as session:
        session.stage_rows(rows)
        written = session.apply()
        session.record([(key or fact_key(new_ulid()), len(rows), 0)], new_ulid())
    return written
