"""Reading images back: a manifest by id, a rendition's storage state, listings and restores."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from core.errors import Archived, NotFound, RestoreState
from core.layout import manifest_key
from core.models import Manifest, RenditionRecord

if TYPE_CHECKING:
    from core.bootstrap import Context
    from core.models import ImageRecord
    from core.repository.objects import ObjectInfo, ObjectStore, RestoreTier


@dataclass(frozen=True, slots=True)
class StoredRendition:
    """A rendition as the manifest describes it, with where its object stands in storage."""

    record: RenditionRecord
    storage_class: str
    restore: RestoreState | None

    @property
    def archived(self) -> bool:
        return self.storage_class in {"GLACIER", "DEEP_ARCHIVE"}

    @property
    def readable(self) -> bool:
        return not self.archived or (self.restore is not None and self.restore.readable)


@dataclass(frozen=True, slots=True)
class ImageView:
    """One image of one customer: its manifest and the state of each rendition."""

    manifest: Manifest
    renditions: tuple[StoredRendition, ...]


def load_manifest(image_id: uuid.UUID, customer_id: str, objects: ObjectStore) -> Manifest:
    """The image's manifest. Another customer's image is NotFound, as if it did not exist."""
    try:
        manifest = Manifest.from_json(json.loads(objects.get(manifest_key(image_id))))
    except NotFound:
        raise NotFound(f"image {image_id}") from None
    if manifest.customer_id != customer_id:
        raise NotFound(f"image {image_id}")
    return manifest


def get_image(image_id: uuid.UUID, customer_id: str, ctx: Context) -> ImageView:
    """The manifest from object storage (never the warehouse) and each rendition's state."""
    manifest = load_manifest(image_id, customer_id, ctx.objects)
    return ImageView(manifest, tuple(_stored(ctx.objects, r) for r in manifest.renditions))


def find_rendition(manifest: Manifest, name: str) -> RenditionRecord:
    for record in manifest.renditions:
        if record.name == name:
            return record
    raise NotFound(f"rendition {name!r} of image {manifest.image_id}")


def open_rendition(
    image_id: uuid.UUID, name: str, customer_id: str, ctx: Context
) -> tuple[RenditionRecord, ObjectInfo]:
    """A rendition that can be read now. Raises NotFound, or Archived (with its restore state)
    when it sits in an archive class and no restored copy is readable."""
    record = find_rendition(load_manifest(image_id, customer_id, ctx.objects), name)
    info = ctx.objects.head(record.key)
    if not info.readable:
        raise Archived(record.key, info.restore or RestoreState(info.storage_class))
    return record, info


def presigned_rendition_url(record: RenditionRecord, ctx: Context) -> str | None:
    """A short-lived URL where storage serves the rendition itself (S3), or None when the app
    serves the bytes (the folder store: see read_rendition)."""
    if ctx.objects.urls_served_by_app:
        return None
    return ctx.objects.presign_get(record.key)


def read_rendition(record: RenditionRecord, ctx: Context) -> bytes:
    return ctx.objects.get(record.key)


def request_restore(
    image_id: uuid.UUID,
    customer_id: str,
    ctx: Context,
    *,
    days: int,
    tier: RestoreTier = "Bulk",
    names: list[str] | None = None,
) -> ImageView:
    """Ask storage to restore the image's archived renditions (those named, or all) that are
    neither readable nor already being restored; the view shows the states afterwards."""
    manifest = load_manifest(image_id, customer_id, ctx.objects)
    records = (
        [find_rendition(manifest, name) for name in names] if names else list(manifest.renditions)
    )
    for record in records:
        state = _stored(ctx.objects, record)
        if state.archived and not state.readable and not (state.restore and state.restore.ongoing):
            ctx.objects.restore(record.key, days, tier)
    return get_image(image_id, customer_id, ctx)


@dataclass(frozen=True, slots=True)
class ImagePage:
    """One page of a customer's images, oldest first; `next_cursor` None on the last page."""

    items: Sequence[ImageRecord]
    next_cursor: str | None


def list_images(
    customer_id: str,
    ctx: Context,
    *,
    limit: int,
    cursor: str | None = None,
    since: datetime | None = None,
) -> ImagePage:
    """The customer's images from the warehouse (a listing, not a point lookup). Raises
    PermanentError(INVALID_REQUEST) for a cursor the warehouse did not issue."""
    rows, next_cursor = ctx.warehouse.list_images(
        customer_id, limit=limit, cursor=cursor, since=since
    )
    return ImagePage(rows, next_cursor)


def _stored(objects: ObjectStore, record: RenditionRecord) -> StoredRendition:
    info = objects.head(record.key)
    return StoredRendition(record, info.storage_class, info.restore)
