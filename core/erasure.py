"""Erasure: remove an image and every stored trace of it, and answer with a receipt.

What goes: the manifest, the renditions (archived copies too: deleting from DEEP_ARCHIVE is
allowed, and billed as if kept 180 days), the content index naming the image, idempotency
records, dead letters, direct uploads and their records that name it, and the image's rows in
the fact log (image and rendition rows dropped; events kept for the statistics, their image id
and duplicate link cleared). Then one `erasure` fact is appended: the loader applies it (the
warehouse's image and rendition rows go, events lose their link) and the publisher announces it
as image.deleted. That fact names the image id (never its sha256 or metadata) until it is
spent: loaded, announced, past the settle window; then core.erasure_seal deletes it.

Against a concurrent ingest of the same image the rule is: an erasure marker is written first
(`erasing/{sha256(image id)}.json`, holding the manifest until the erasure completes); while it
is there ingest creates no manifest for the image (it answers 503, a stream batch is retried).
Within a process the erasure also holds the image's ingest lock. After its pass the erasure
looks again: a manifest created meanwhile (by an ingest that passed the marker just before it
was written) is erased in another pass. So afterwards the image is either fully gone or, when
the ingest came after the erasure, fully there as a new image. An erasure cut short leaves its
marker: DELETE again finishes it.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from core import facts, layout
from core.duplicates import MAX_GENERATIONS
from core.erasure_scan import FactRewrite, Traces, delete_naming, owner_in, rewrite_facts
from core.erasure_seal import note_unsealed
from core.errors import NotFound
from core.ingest import IMAGE_LOCKS, stored_manifest
from core.layout import RECORD_CACHE_CONTROL
from core.models import Manifest, moment, utcnow

if TYPE_CHECKING:
    from core.bootstrap import Context
    from core.repository.objects import ObjectStore

log = logging.getLogger("imgpipe.erasure")

# Passes before giving up on an image that keeps being stored again: each one needs an ingest
# of the same bytes that slipped in before the marker, which only the first pass can meet.
MAX_PASSES: Final = 3
DEEP_ARCHIVE_NOTE: Final = (
    "Renditions in DEEP_ARCHIVE were deleted too; S3 bills an archived object deleted early "
    "as if it had been kept its 180-day minimum."
)


@dataclass(slots=True)
class Receipt:
    """What an erasure removed, when, and what is left to happen."""

    erasure_id: str
    image_id: str
    customer_id: str
    requested_at: datetime
    completed_at: datetime | None = None
    removed: dict[str, list[str]] = field(default_factory=dict)  # object keys, by what they were
    facts: FactRewrite = field(default_factory=FactRewrite)
    erasure_fact: str = ""
    passes: int = 0
    # first_event_id of each stored image erased (one, or more when it was stored again
    # during the erasure): what tells the loader the erased rows from a later upload's.
    generations: list[str] = field(default_factory=list)

    def note(self, what: str, keys: list[str]) -> None:
        known = self.removed.setdefault(what, [])
        known.extend(key for key in keys if key not in known)

    @property
    def scheduled(self) -> list[dict[str, str]]:
        return [
            {
                "what": "warehouse",
                "when": "next load",
                "detail": "the loader applies the erasure fact: the image and rendition rows go, "
                "ingest events keep their statistics without the image id",
            },
            {
                "what": "event",
                "when": "next publish",
                "detail": "image.deleted is announced to the configured sinks",
            },
            {
                "what": "erasure_fact",
                "when": "a full load after the settle window",
                "detail": f"{self.erasure_fact} names the image id alone (no sha256, no "
                "metadata) until the warehouse has loaded it and every event sink has announced "
                "it; then it is deleted (core/erasure_seal.py)",
            },
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "erasure_id": self.erasure_id,
            "image_id": self.image_id,
            "customer_id": self.customer_id,
            "requested_at": self.requested_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "removed": {
                "objects": {what: sorted(keys) for what, keys in sorted(self.removed.items())},
                "fact_objects_rewritten": self.facts.objects,
                "fact_objects_deleted": self.facts.deleted,
                "fact_rows_removed": self.facts.rows_removed,
                "fact_events_unlinked": self.facts.events_unlinked,
            },
            "erasure_fact": self.erasure_fact,
            "scheduled": self.scheduled,
            "note": DEEP_ARCHIVE_NOTE,
        }


def erase_image(image_id: uuid.UUID, customer_id: str | None, ctx: Context) -> Receipt:
    """Erase one image of `customer_id` (None: of any customer, for administrators). Raises
    NotFound when there is no such image (or it is another customer's), TransientError when
    storage fails, after which the same call finishes the erasure."""
    objects = ctx.objects
    with IMAGE_LOCKS.hold(image_id):
        manifest, marker = _target(objects, image_id)
        if manifest is None or (customer_id is not None and manifest.customer_id != customer_id):
            raise NotFound(f"image {image_id}")
        receipt = Receipt(
            erasure_id=str(marker.get("erasure_id") or layout.new_ulid()),
            image_id=str(image_id),
            customer_id=manifest.customer_id,
            requested_at=moment(marker.get("requested_at")) or utcnow(),
        )
        marker_body = json.dumps(
            {
                "erasure_id": receipt.erasure_id,
                "requested_at": receipt.requested_at.isoformat(),
                "manifest": manifest.to_json(),
            }
        ).encode()
        objects.put(
            layout.erasing_key(image_id), marker_body, "application/json", RECORD_CACHE_CONTROL
        )
        scan_from = _scan_start(manifest, ctx)
        traces = Traces(str(image_id), manifest.metadata.sha256, manifest.customer_id)
        while manifest is not None and receipt.passes < MAX_PASSES:
            receipt.passes += 1
            receipt.generations.append(manifest.first_event_id)
            traces = Traces(str(image_id), manifest.metadata.sha256, manifest.customer_id)
            _erase_pass(objects, manifest, traces, receipt, scan_from)
            # An ingest that passed the marker before it was written may have stored it again.
            manifest = stored_manifest(objects, image_id)
            if manifest is not None:
                log.warning("image %s was stored again during its erasure: erasing again", image_id)
                scan_from = _scan_start(manifest, ctx)
        receipt.erasure_fact = _append_erasure_fact(objects, receipt)
        note_unsealed(objects, receipt.erasure_id, receipt.erasure_fact)
        # Facts of an ingest that found the image just before the erasure, written since.
        late = _fact_start(receipt.requested_at, ctx)
        receipt.facts.add(rewrite_facts(objects, layout.FACTS, traces, late))
        objects.delete(layout.erasing_key(image_id))
        receipt.completed_at = utcnow()
    log.info(
        "erased image %s (erasure %s): %d objects, %d fact objects rewritten",
        image_id,
        receipt.erasure_id,
        sum(len(keys) for keys in receipt.removed.values()),
        receipt.facts.objects + receipt.facts.deleted,
    )
    return receipt


def _target(objects: ObjectStore, image_id: uuid.UUID) -> tuple[Manifest | None, dict[str, Any]]:
    """The image's manifest, or the one an erasure cut short kept in its marker."""
    try:
        marker: dict[str, Any] = json.loads(objects.get(layout.erasing_key(image_id)))
    except NotFound:
        marker = {}
    except ValueError:
        marker = {}
    manifest = stored_manifest(objects, image_id)
    if manifest is None and isinstance(marker.get("manifest"), dict):
        manifest = Manifest.from_json(marker["manifest"])
    return manifest, marker


def _erase_pass(
    objects: ObjectStore, manifest: Manifest, traces: Traces, receipt: Receipt, scan_from: str
) -> None:
    """Delete what names the image: the manifest first (from then on GET answers 404), the
    renditions, the records, then the image's rows in the fact log."""
    image_id = manifest.image_id
    objects.delete(layout.manifest_key(image_id))
    receipt.note("manifest", [layout.manifest_key(image_id)])
    renditions = [record.key for record in manifest.renditions]
    for key in renditions:
        objects.delete(key)
    receipt.note("renditions", renditions)
    receipt.note("content_index", _unindex(objects, manifest))
    customer = manifest.customer_id
    receipt.note("idempotency", delete_naming(objects, layout.idempotency_prefix(customer), traces))
    receipt.note("dead_letters", delete_naming(objects, layout.DEAD_LETTERS, traces))
    uploads = delete_naming(objects, layout.UPLOADS, traces, lambda key: owner_in(objects, key))
    for key in [k for k in uploads if k.endswith(".json")]:
        upload = key.removesuffix(".json")  # the upload beside its record, if still there
        if objects.exists(upload):
            objects.delete(upload)
            uploads.append(upload)
    receipt.note("uploads", uploads)
    receipt.note("rejected_facts", delete_naming(objects, layout.FACTS_REJECTED, traces))
    receipt.facts.add(rewrite_facts(objects, layout.FACTS, traces, scan_from))


def _unindex(objects: ObjectStore, manifest: Manifest) -> list[str]:
    """Content index objects naming the image: deleted, or, when a later generation exists
    (its chain must stay walkable, see core.duplicates), emptied of the id."""
    content = manifest.metadata.content_sha256
    if not content:
        return []
    removed = []
    for generation in range(MAX_GENERATIONS):
        key = layout.content_index_key(manifest.customer_id, content, generation)
        try:
            named = json.loads(objects.get(key)).get("image_id")
        except NotFound:
            break
        except (ValueError, AttributeError):
            continue
        if named != str(manifest.image_id):
            continue
        following = layout.content_index_key(manifest.customer_id, content, generation + 1)
        if objects.exists(following):
            body = json.dumps({"image_id": None}).encode()
            objects.put(key, body, "application/json", cache_control=RECORD_CACHE_CONTROL)
        else:
            objects.delete(key)
        removed.append(key)
    return removed


def _append_erasure_fact(objects: ObjectStore, receipt: Receipt) -> str:
    """The erasure's rows, one per stored image erased: the loader applies them, the publisher
    announces them. `recorded_at` and `first_event_id` tell the loader the erased rows from
    those of the same bytes uploaded again (a later upload, or a retry with the same event)."""
    recorded_at = utcnow().isoformat()
    rows = [
        {
            "kind": "erasure",
            "erasure_id": receipt.erasure_id,
            "image_id": receipt.image_id,
            "customer_id": receipt.customer_id,
            "first_event_id": first_event_id,
            "requested_at": receipt.requested_at.isoformat(),
            "recorded_at": recorded_at,
        }
        for first_event_id in dict.fromkeys(receipt.generations)
    ]
    key = facts.new_fact_key()
    objects.put(key, facts.encode(rows), facts.CONTENT_TYPE)
    return key


def _scan_start(manifest: Manifest, ctx: Context) -> str:
    """Facts naming an image are written after it was first received: the fact log is read
    from then on, less the settle window for writers' clocks."""
    return _fact_start(min(manifest.seen_at, manifest.created_at), ctx)


def _fact_start(at: datetime, ctx: Context) -> str:
    since = at - timedelta(seconds=ctx.settings.load_settle_seconds)
    return layout.fact_key(layout.ulid_floor(since))
