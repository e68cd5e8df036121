"""The erasure receipt: what DELETE /v1/images/{id} removed, when, and what is left to happen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.erasure import DEEP_ARCHIVE_NOTE, Receipt
from services.upload_api.schemas import IMAGE_ID

ERASURE_ID = "01JE7R0B8W2C4D6E8F0G1H2J3K"


class RemovedOut(BaseModel):
    """What storage no longer holds."""

    objects: dict[str, list[str]] = Field(
        description="Deleted object keys by what they were: manifest, renditions, "
        "content_index, idempotency, dead_letters, uploads, rejected_facts."
    )
    fact_objects_rewritten: int = Field(description="Fact log objects rewritten without it.")
    fact_objects_deleted: int = Field(description="Fact log objects that held only its rows.")
    fact_rows_removed: int = Field(description="Its image and rendition rows in the fact log.")
    fact_events_unlinked: int = Field(
        description="Ingest events kept for the statistics, with its image id cleared."
    )


class ScheduledOut(BaseModel):
    """What happens after the answer."""

    what: str = Field(examples=["warehouse"])
    when: str = Field(examples=["next load"])
    detail: str


class ErasureOut(BaseModel):
    """The receipt of an erasure."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "erasure_id": ERASURE_ID,
                    "image_id": IMAGE_ID,
                    "customer_id": "acme",
                    "requested_at": "2026-12-02T08:00:00+00:00",
                    "completed_at": "2026-12-02T08:00:01.250000+00:00",
                    "removed": {
                        "objects": {
                            "manifest": [f"manifests/{IMAGE_ID}.json"],
                            "renditions": [
                                f"renditions/display/{IMAGE_ID}.jpg",
                                f"renditions/thumb/{IMAGE_ID}.jpg",
                            ],
                            "content_index": [],
                            "idempotency": [],
                            "dead_letters": [],
                            "uploads": [],
                            "rejected_facts": [],
                        },
                        "fact_objects_rewritten": 2,
                        "fact_objects_deleted": 0,
                        "fact_rows_removed": 3,
                        "fact_events_unlinked": 2,
                    },
                    "erasure_fact": f"facts/2026/12/02/08/{ERASURE_ID}.ndjson.gz",
                    "scheduled": [
                        {
                            "what": "warehouse",
                            "when": "next load",
                            "detail": "the loader applies the erasure fact: the image and "
                            "rendition rows go, ingest events keep their statistics without "
                            "the image id",
                        }
                    ],
                    "note": DEEP_ARCHIVE_NOTE,
                }
            ]
        }
    )

    erasure_id: str = Field(description="The erasure's id: image.deleted events carry it.")
    image_id: str
    customer_id: str
    requested_at: datetime
    completed_at: datetime | None
    removed: RemovedOut
    erasure_fact: str = Field(
        description="The fact object the loader applies; it names the image id only."
    )
    scheduled: list[ScheduledOut]
    note: str


def receipt_out(receipt: Receipt) -> ErasureOut:
    doc: dict[str, Any] = receipt.to_json()
    return ErasureOut.model_validate(doc)
