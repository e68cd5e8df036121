"""Request and response bodies of the API, with the examples the OpenAPI document shows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.models import Match, Source
from core.repository.objects import RestoreTier

IMAGE_ID = "3f1e5a52-8a0c-5b8e-9d27-52c1f6d1a0b4"
FIRST_IMAGE_ID = "8d2c7e0a-4b1f-5a9e-b3c6-0f7e2d1a9c84"
THUMBHASH_EXAMPLE = "3EgKFYhpZ4VPh2aHVnh5dl8i9idk"
CONTENT_SHA256_EXAMPLE = "jpeg:819215c0b445801df4c922dec08410c5911ffee2fb7eb55d78f5a16ee025469f"
BASE = "https://api.example.com"
THUMB_EXAMPLE: dict[str, Any] = {
    "name": "thumb",
    "width": 256,
    "height": 192,
    "bytes": 12345,
    "content_type": "image/jpeg",
    "url": f"{BASE}/v1/images/{IMAGE_ID}/renditions/thumb",
}


class RestoreOut(BaseModel):
    """The state of a restore from an archive class (S3's x-amz-restore)."""

    ongoing: bool | None = Field(
        description="true: a restore is running; false: a restored copy is readable until "
        "`expiry`; null: no restore was requested."
    )
    expiry: str | None = Field(description="HTTP date until which the restored copy is readable.")


class StorageOut(BaseModel):
    """Where a rendition's object stands: its storage class and whether it can be read now."""

    storage_class: str = Field(description="STANDARD, DEEP_ARCHIVE, ...", examples=["STANDARD"])
    archived: bool
    readable: bool = Field(description="Whether GET .../renditions/{name} can serve it now.")
    restore: RestoreOut | None = None


class RenditionOut(BaseModel):
    """One rendition of an image: its size, type and where to fetch it."""

    name: str = Field(examples=["display"])
    width: int
    height: int
    bytes: int
    content_type: str = Field(examples=["image/jpeg"])
    url: str = Field(description="GET it: a redirect to a short-lived URL, or the bytes.")
    storage: StorageOut | None = Field(
        default=None, description="Where the object stands (GET of an image only)."
    )


class ImageOut(BaseModel):
    """An ingested image."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": IMAGE_ID,
                    "sha256": "9b1f0c2e" * 8,
                    "phash": "c3a1e0f07c3c1e0f",
                    "format": "jpeg",
                    "width": 4000,
                    "height": 3000,
                    "bytes": 2481337,
                    "frames": 1,
                    "has_alpha": False,
                    "camera_make": "Canon",
                    "camera_model": "EOS 5D",
                    "taken_at": "2024-05-01T10:11:12+00:00",
                    "has_gps": False,
                    "content_sha256": CONTENT_SHA256_EXAMPLE,
                    "thumbhash": THUMBHASH_EXAMPLE,
                    "dominant_color": "#b6afab",
                    "metadata_removed": ["exif:MakerNote", "exif:BodySerialNumber", "gps"],
                    "source": "upload",
                    "created_at": "2026-01-02T03:04:05+00:00",
                    "duplicate": False,
                    "match": None,
                    "duplicate_of": None,
                    "renditions": [
                        {
                            "name": "display",
                            "width": 2000,
                            "height": 1500,
                            "bytes": 412345,
                            "content_type": "image/jpeg",
                            "url": f"{BASE}/v1/images/{IMAGE_ID}/renditions/display",
                        },
                        THUMB_EXAMPLE,
                    ],
                }
            ]
        }
    )

    id: uuid.UUID = Field(description="UUIDv5 of (customer, sha256): same bytes, same id.")
    sha256: str = Field(description="SHA-256 of the original bytes, hex.")
    phash: str = Field(description="64-bit perceptual hash (dHash), hex.")
    format: str = Field(description="Format sniffed from the bytes.", examples=["jpeg"])
    width: int
    height: int
    bytes: int = Field(description="Size of the original, in bytes.")
    frames: int
    has_alpha: bool
    camera_make: str | None = None
    camera_model: str | None = None
    taken_at: datetime | None = None
    has_gps: bool = Field(description="Whether the original carried GPS data (never kept).")
    content_sha256: str | None = Field(
        default=None,
        description="Hash of the picture blind to its metadata, `kind:hex` (kind `jpeg`: the "
        "coded image without APPn/COM segments; `png`: the image chunks; `pixels`: the decoded "
        "pixels). Orientation and ICC profile are part of the picture. Null for images stored "
        "before it was computed.",
        examples=[CONTENT_SHA256_EXAMPLE],
    )
    thumbhash: str | None = Field(
        default=None,
        description="Base64 ThumbHash (https://evanw.github.io/thumbhash/): a placeholder of "
        "about 25 bytes to show, blurred, while the image loads.",
        examples=[THUMBHASH_EXAMPLE],
    )
    dominant_color: str | None = Field(
        default=None,
        pattern=r"^#[0-9a-f]{6}$",
        description="The image's dominant colour, `#rrggbb`: a background while it loads.",
        examples=["#b6afab"],
    )
    metadata_removed: list[str] | None = Field(
        default=None,
        description="What of the original's metadata no rendition carries (`gps`, `xmp`, "
        "`exif:MakerNote`, ...), by the metadata policy. Null for images stored before it was "
        "recorded.",
    )
    source: Source
    created_at: datetime
    duplicate: bool = Field(
        default=False,
        description="true when this customer had already sent this image: the same bytes, or "
        "the same picture with other metadata (see `match`). Nothing new was stored; the "
        "answer is the image stored first.",
    )
    match: Match | None = Field(
        default=None,
        description="How a duplicate was found: `exact` (the same bytes) or `content` (the same "
        "picture, by `content_sha256`, with other metadata). Null when not a duplicate.",
        examples=["content"],
    )
    duplicate_of: uuid.UUID | None = Field(
        default=None,
        description="A duplicate's image: the id of the image this customer sent first (the "
        "`id` of this answer). Null when not a duplicate.",
    )
    renditions: list[RenditionOut]


class ImageSummary(BaseModel):
    """An image as listed: the main facts and renditions, without storage states."""

    id: uuid.UUID
    sha256: str
    format: str
    width: int
    height: int
    bytes: int
    thumbhash: str | None = Field(default=None, description="Base64 ThumbHash placeholder.")
    dominant_color: str | None = Field(default=None, description="`#rrggbb`.")
    created_at: datetime = Field(description="When this customer first sent the image.")
    url: str = Field(description="GET it for the full image.")
    renditions: list[RenditionOut]


class ImagePageOut(BaseModel):
    """One page of images, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": IMAGE_ID,
                            "sha256": "9b1f0c2e" * 8,
                            "format": "jpeg",
                            "width": 4000,
                            "height": 3000,
                            "bytes": 2481337,
                            "thumbhash": THUMBHASH_EXAMPLE,
                            "dominant_color": "#b6afab",
                            "created_at": "2026-01-02T03:04:05+00:00",
                            "url": f"{BASE}/v1/images/{IMAGE_ID}",
                            "renditions": [THUMB_EXAMPLE],
                        }
                    ],
                    "next_cursor": "eyJ0IjoiMjAyNi0wMS0wMlQwMzowNDowNSJ9",
                }
            ]
        }
    )

    items: list[ImageSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class RestoreIn(BaseModel):
    """What to restore from the archive, how fast and for how long."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"tier": "Bulk", "days": 7, "renditions": ["display"]}]},
    )

    tier: RestoreTier = Field(
        default="Bulk", description="Bulk: within 48 h, cheapest. Standard: within 12 h."
    )
    days: int | None = Field(
        default=None, ge=1, le=365, description="Days the copy stays readable (default 7)."
    )
    renditions: list[str] | None = Field(
        default=None,
        max_length=16,
        description="Renditions to restore; all archived ones when omitted.",
    )


class UploadIn(BaseModel):
    """The direct upload to prepare: the type it will carry and, if known, its size."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"content_type": "image/jpeg", "bytes": 31457280}]},
    )

    content_type: str = Field(
        default="application/octet-stream",
        pattern=r"^(image/[A-Za-z0-9.+-]{1,64}|application/octet-stream)$",
        description="The Content-Type the upload will carry (signed: it must match).",
    )
    bytes: int | None = Field(
        default=None, ge=1, description="Size you intend to upload; refused early if too large."
    )


class UploadOut(BaseModel):
    """How to send the image straight to storage, and where to say you are done."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "upload_id": "0b6f2c1d8e3a4f5b9c7d6e5f4a3b2c1d",
                    "method": "POST",
                    "url": "https://imgpipe-bucket.s3.amazonaws.com/",
                    "headers": {},
                    "fields": {"key": "uploads/0b6f2c1d8e3a4f5b9c7d6e5f4a3b2c1d", "policy": "..."},
                    "expires_in": 900,
                    "max_bytes": 26214400,
                    "complete_url": f"{BASE}/v1/uploads/0b6f2c1d8e3a4f5b9c7d6e5f4a3b2c1d/complete",
                }
            ]
        }
    )

    upload_id: str
    method: Literal["PUT", "POST"] = Field(
        description="PUT: send the bytes as the body with `headers`. POST: send a multipart "
        "form with `fields` and then the file as the last part, named `file`."
    )
    url: str
    headers: dict[str, str]
    fields: dict[str, str]
    expires_in: int = Field(description="Seconds the URL stays valid (at most 900).")
    max_bytes: int
    complete_url: str = Field(description="POST here once the upload is done.")


class HealthOut(BaseModel):
    """The process is up."""

    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    """The process can reach object storage; `checks` has an entry for it and one for the
    warehouse (informational: lists and statistics lag while it is down, uploads do not)."""

    status: Literal["ready"] = "ready"
    checks: dict[str, str] = Field(examples=[{"storage": "ok", "database": "ok"}])
    warehouse_lag_seconds: float | None = Field(
        default=None,
        description="Age of the oldest fact not loaded into the warehouse yet: how far lists "
        "and statistics lag behind ingest. Null when the warehouse does not answer.",
    )


# OpenAPI links: where an answer leads, by operation id, for clients and test generators that
# follow them (the id of an uploaded image into GET /v1/images/{image_id}, and so on).
IMAGE_LINKS: dict[str, Any] = {
    "GetImage": {
        "operationId": "get_image",
        "parameters": {"image_id": "$response.body#/id"},
        "description": "The image, with the storage state of each rendition.",
    },
    "GetFirstRendition": {
        "operationId": "get_rendition",
        "parameters": {
            "image_id": "$response.body#/id",
            "name": "$response.body#/renditions/0/name",
        },
        "description": "The bytes of its first rendition (or a redirect to them).",
    },
    "RestoreImage": {
        "operationId": "restore_image",
        "parameters": {"image_id": "$response.body#/id"},
        "description": "Restore its renditions once they are archived.",
    },
}
UPLOAD_LINKS: dict[str, Any] = {
    "CompleteUpload": {
        "operationId": "complete_upload",
        "parameters": {"upload_id": "$response.body#/upload_id"},
        "description": "Process the image once it is sent to `url`.",
    },
}


def ok_response(body: Any, description: str, links: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OpenAPI success response: its description, an example body, and where it leads."""
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"example": body}},
    }
    if links:
        response["links"] = links
    return response


def stored_image_responses(duplicate: str) -> dict[int | str, dict[str, Any]]:
    """The success answers of a route that ingests an image: 201 when new, 200 (described by
    `duplicate`) when this customer had already sent the same bytes or the same picture."""
    first = {
        **example(ImageOut),
        "id": FIRST_IMAGE_ID,
        "duplicate": True,
        "match": "content",
        "duplicate_of": FIRST_IMAGE_ID,
    }
    first["renditions"] = [
        {**r, "url": r["url"].replace(IMAGE_ID, FIRST_IMAGE_ID)} for r in first["renditions"]
    ]
    return {
        201: ok_response(example(ImageOut), "Stored: the image with its renditions", IMAGE_LINKS),
        200: {
            "model": ImageOut,
            **ok_response(first, duplicate, IMAGE_LINKS),
        },
    }


def example(model: type[BaseModel]) -> Any:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list)
    return examples[0]
