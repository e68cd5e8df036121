"""The completion events as CloudEvents 1.0 (JSON format), built from the rows of a fact object.

One event per `event` row (`image.processed`, `image.duplicate`, `image.rejected`: its id is the
ingest event id) and one per `erasure` row (`image.deleted`: its id is the erasure id). The
models are the published schema (docs/events.md); `Event.model_json_schema()` is its JSON Schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

SPECVERSION: Final = "1.0"
TYPE_PREFIX: Final = "com.imgpipe.image."
DATACONTENTTYPE: Final = "application/json"
# CloudEvents `source` per path; ids are unique within each.
SOURCES: Final = {"upload": "imgpipe/api", "stream": "imgpipe/stream", "erasure": "imgpipe/erasure"}

EventType = Literal[
    "com.imgpipe.image.processed",
    "com.imgpipe.image.duplicate",
    "com.imgpipe.image.rejected",
    "com.imgpipe.image.deleted",
]


class RenditionSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    width: int
    height: int
    bytes: int
    content_type: str


class ImageSummary(BaseModel):
    """`data` of image.processed and image.duplicate: what became of the attempt."""

    model_config = ConfigDict(extra="forbid")

    event_id: str
    image_id: str
    customer_id: str
    source: Literal["upload", "stream"]
    status: Literal["processed", "duplicate"]
    format: str | None = None
    width: int | None = None
    height: int | None = None
    bytes_in: int
    bytes_out: int
    processing_ms: float
    received_at: datetime
    renditions: list[RenditionSummary] = Field(default_factory=list)


class Refusal(BaseModel):
    """`data` of image.rejected: the refusal code (as in the API's problem types)."""

    model_config = ConfigDict(extra="forbid")

    event_id: str
    customer_id: str
    source: Literal["upload", "stream"]
    status: Literal["rejected"]
    code: str | None
    bytes_in: int
    received_at: datetime


class Deletion(BaseModel):
    """`data` of image.deleted."""

    model_config = ConfigDict(extra="forbid")

    erasure_id: str
    image_id: str
    customer_id: str
    requested_at: datetime


class Event(BaseModel):
    """A CloudEvents 1.0 event in the JSON format, as every sink carries it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = SPECVERSION
    id: str = Field(min_length=1, description="The ingest event id; image.deleted: erasure id.")
    source: str = Field(min_length=1, description="imgpipe/api, imgpipe/stream, imgpipe/erasure")
    type: EventType
    subject: str | None = Field(default=None, description="The image id; none when refused.")
    time: datetime
    datacontenttype: Literal["application/json"] = DATACONTENTTYPE
    data: ImageSummary | Refusal | Deletion

    @property
    def customer_id(self) -> str:
        return self.data.customer_id

    @property
    def short_type(self) -> str:
        return self.type.removeprefix(TYPE_PREFIX)

    def to_json(self) -> dict[str, Any]:
        doc = self.model_dump(mode="json", exclude_none=True)
        doc["data"] = self.data.model_dump(mode="json")
        return doc

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False).encode()

    def data_bytes(self) -> bytes:
        return json.dumps(self.data.model_dump(mode="json"), separators=(",", ":")).encode()


def events_of(rows: Sequence[dict[str, Any]]) -> list[Event]:
    """The events of one fact object's rows, in row order. Rows of other kinds describe the
    images the events name; a row this version cannot read is skipped, never fatal."""
    renditions: dict[str, list[RenditionSummary]] = {}
    images: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("kind") == "image" and row.get("image_id"):
            images[str(row["image_id"])] = row
        elif row.get("kind") == "rendition" and row.get("image_id"):
            renditions.setdefault(str(row["image_id"]), []).append(
                RenditionSummary(
                    name=row["name"],
                    width=row["width"],
                    height=row["height"],
                    bytes=row["bytes"],
                    content_type=row["content_type"],
                )
            )
    events: list[Event] = []
    for row in rows:
        try:
            event = _event(row, images, renditions)
        except (KeyError, TypeError, ValueError):
            continue
        if event is not None:
            events.append(event)
    return events


def _event(
    row: dict[str, Any],
    images: dict[str, dict[str, Any]],
    renditions: dict[str, list[RenditionSummary]],
) -> Event | None:
    kind = row.get("kind")
    if kind == "erasure":
        deletion = Deletion(
            erasure_id=row["erasure_id"],
            image_id=str(row["image_id"]),
            customer_id=row["customer_id"],
            requested_at=row["requested_at"],
        )
        return Event(
            id=deletion.erasure_id,
            source=SOURCES["erasure"],
            type="com.imgpipe.image.deleted",
            subject=deletion.image_id,
            time=deletion.requested_at,
            data=deletion,
        )
    if kind != "event":
        return None
    when = row.get("recorded_at") or row["received_at"]
    image_id = row.get("image_id")
    if row["status"] != "rejected" and not image_id:
        return None  # an accepted event of an erased image: its link is gone, and so is it
    data: ImageSummary | Refusal
    if row["status"] == "rejected" or not image_id:
        data = Refusal(
            event_id=row["event_id"],
            customer_id=row["customer_id"],
            source=row["source"],
            status="rejected",
            code=row.get("reason"),
            bytes_in=row.get("bytes_in") or 0,
            received_at=row["received_at"],
        )
        image_id = None
    else:
        image = images.get(str(image_id), {})
        data = ImageSummary(
            event_id=row["event_id"],
            image_id=str(image_id),
            customer_id=row["customer_id"],
            source=row["source"],
            status=row["status"],
            format=row.get("format") or image.get("format"),
            width=image.get("width"),
            height=image.get("height"),
            bytes_in=row.get("bytes_in") or 0,
            bytes_out=row.get("bytes_out") or 0,
            processing_ms=row.get("processing_ms") or 0.0,
            received_at=row["received_at"],
            renditions=renditions.get(str(image_id), []),
        )
    return Event(
        id=row["event_id"],
        source=SOURCES[row["source"]],
        type=f"{TYPE_PREFIX}{data.status}",
        subject=str(image_id) if image_id else None,
        time=when,
        data=data,
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of every event (docs/events.md shows it)."""
    return Event.model_json_schema()


def parse(items: Iterable[bytes | str]) -> list[Event]:
    """Events back from their JSON (structured mode), validated against the schema."""
    return [Event.model_validate_json(item) for item in items]
