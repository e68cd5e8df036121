"""The one use case: ingest images (process, store objects, record facts) for both services."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from core import facts
from core.budget import decoding
from core.duplicates import claim_picture
from core.erasure_scan import Traces, rewrite_one
from core.errors import ErrorCode, NotFound, PermanentError, TransientError
from core.layout import (
    IMMUTABLE_CACHE_CONTROL,
    MANIFEST_CACHE_CONTROL,
    erasing_key,
    manifest_key,
    rendition_key,
)
from core.limits import refuse_if_too_large
from core.models import (
    IngestRequest,
    IngestResult,
    Manifest,
    Match,
    ProcessedImage,
    Rendition,
    RenditionRecord,
    Status,
    image_id_for,
    utcnow,
)
from core.processing import process
from core.telemetry import metrics
from core.telemetry.traces import span

if TYPE_CHECKING:
    from core.bootstrap import Context
    from core.repository.objects import ObjectStore

log = logging.getLogger("imgpipe.ingest")


def ingest(request: IngestRequest, ctx: Context) -> IngestResult:
    """Ingest one image. Raises TransientError when object storage is unreachable."""
    return ingest_batch([request], ctx)[0]


def ingest_batch(requests: Sequence[IngestRequest], ctx: Context) -> list[IngestResult]:
    """Ingest images, a few at a time (Pillow frees the GIL), then append all of their rows to
    the fact log as one object. Storage alone decides each status; the warehouse hears of
    them when the loader loads the facts. A TransientError leaves nothing a retry cannot
    finish. Direct uploads (object_key) are left in place: see discard_upload."""
    results = list(ctx.map(lambda request: _ingest_one(request, ctx), requests))
    key = record_facts(ctx.objects, results)
    if key is not None:
        _withdraw_erased(ctx, key, results)
    metrics.record_results(results)  # once the facts hold them: counted as the log has them
    return results


def record_facts(objects: ObjectStore, results: Sequence[IngestResult]) -> str | None:
    """Step 8: the call's rows, one fact object for the whole call; its key."""
    if not results:
        return None
    with span("facts"):
        data = facts.encode(facts.rows_of(results))
        key = facts.new_fact_key()
        objects.put(key, data, facts.CONTENT_TYPE)
    return key


def _withdraw_erased(ctx: Context, key: str, results: Sequence[IngestResult]) -> None:
    """An image erased between this call finding (or storing) it and its facts being written
    would be named by them after the erasure had rewritten the log: so each image's manifest
    is looked for once more, and the fact object rewritten without any that is gone. (An
    erasure that deletes the manifest after this look finds the facts when it reads the log.)"""
    manifests = {str(r.manifest.image_id): r.manifest for r in results if r.manifest is not None}
    if not manifests:
        return
    present = ctx.io_map(
        lambda m: ctx.objects.exists(manifest_key(m.image_id)), list(manifests.values())
    )
    for manifest, there in zip(manifests.values(), present, strict=True):
        if not there:
            log.warning("image %s erased while ingested: its facts withdrawn", manifest.image_id)
            rewrite_one(ctx.objects, key, Traces(str(manifest.image_id), manifest.metadata.sha256))


def _ingest_one(request: IngestRequest, ctx: Context) -> IngestResult:
    started = time.perf_counter()
    data = b""
    try:
        data = _read_bytes(request, ctx)  # step 0: the bytes, or why there are none
        image_id = image_id_for(request.customer_id, hashlib.sha256(data).hexdigest())  # step 6
        match: Match = "exact"
        with IMAGE_LOCKS.hold(image_id):  # same image, same process: one encodes, one finds
            manifest = stored_manifest(ctx.objects, image_id)
            if manifest is None:
                with decoding(data, ctx.settings), span("processing"):  # waits its turn
                    processed = process(data, ctx.settings.processing)  # steps 1-5
                # The same picture with other metadata, stored before: nothing new is written.
                with span("object_storage"):
                    manifest = _first_of_picture(ctx, request, image_id, processed)
                    if manifest is None:
                        manifest = _store(ctx, request, image_id, processed)  # step 7
                    else:
                        match = "content"
    except PermanentError as refusal:
        return _result(request, started, len(data), refusal=refusal)
    # Whoever created the manifest is `processed` (again, when it retries); anyone else finds
    # the image stored: `duplicate`.
    if manifest.first_event_id == request.event_id:
        return _result(request, started, len(data), manifest=manifest, status="processed")
    return _result(request, started, len(data), manifest=manifest, status="duplicate", match=match)


def _first_of_picture(
    ctx: Context, request: IngestRequest, image_id: uuid.UUID, processed: ProcessedImage
) -> Manifest | None:
    """The manifest of another image of this customer with the same picture, when stored."""
    return claim_picture(
        ctx.objects,
        request.customer_id,
        processed.metadata.content_sha256,
        image_id,
        lambda first: stored_manifest(ctx.objects, first),
    )


def _read_bytes(request: IngestRequest, ctx: Context) -> bytes:
    """The request's bytes, or those of its direct upload (size checked before reading it)."""
    if request.refusal is not None:
        raise request.refusal
    if request.data is not None:
        data = request.data
    elif request.fetch is not None:  # a stream record's S3 source: read now, in this worker
        data = request.fetch()
    elif request.object_key is None:
        raise PermanentError(ErrorCode.INVALID_REQUEST, "request carries neither bytes nor a key")
    else:
        try:
            size = ctx.objects.head(request.object_key).size
        except NotFound:
            raise PermanentError(ErrorCode.SOURCE_NOT_FOUND, "the upload has no object") from None
        refuse_if_too_large(size, ctx.settings.max_bytes)
        data = ctx.objects.get(request.object_key)
    if not data:
        raise PermanentError(ErrorCode.EMPTY, "no bytes")
    return data


def stored_manifest(objects: ObjectStore, image_id: uuid.UUID) -> Manifest | None:
    """The image's manifest when it is stored and readable. One that cannot be read (cut
    short by hand, or of a shape no longer understood) counts as missing, so that the image
    is stored again: raising would fail every retry of its Kafka record, blocking the
    partition behind it."""
    key = manifest_key(image_id)
    try:
        return Manifest.from_json(json.loads(objects.get(key)))
    except NotFound:
        return None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        log.warning("manifest %s unreadable, storing the image again: %r", key, error)
        return None


def _store(
    ctx: Context, request: IngestRequest, image_id: uuid.UUID, processed: ProcessedImage
) -> Manifest:
    """Renditions first (in parallel), then the manifest, created only if none is there: a
    manifest never names an object that is missing, and of two writers of one image, exactly
    one creates it. The other gets the winner's manifest."""
    objects = ctx.objects

    def put(rendition: Rendition) -> RenditionRecord:
        key = rendition_key(rendition.name, image_id, rendition.extension)
        objects.put(
            key, rendition.data, rendition.content_type, cache_control=IMMUTABLE_CACHE_CONTROL
        )
        return RenditionRecord(
            rendition.name,
            rendition.width,
            rendition.height,
            rendition.size,
            rendition.content_type,
            key,
        )

    records = ctx.io_map(put, processed.renditions)
    manifest = Manifest(
        image_id=image_id,
        customer_id=request.customer_id,
        metadata=processed.metadata,
        renditions=tuple(records),
        created_at=utcnow(),
        source=request.source,
        attributes=request.attributes,
        first_event_id=request.event_id,
        first_seen_at=request.received_at,
    )
    body = json.dumps(manifest.to_json(), separators=(",", ":")).encode()
    key = manifest_key(image_id)
    _refuse_while_erasing(objects, image_id, records)
    if objects.create(key, body, "application/json", cache_control=MANIFEST_CACHE_CONTROL):
        _refuse_while_erasing(objects, image_id, records, created=key)
        return manifest
    winner = stored_manifest(objects, image_id)
    if winner is not None:
        return winner
    # What is there cannot be read (see _stored_manifest): ours replaces it.
    objects.put(key, body, "application/json", cache_control=MANIFEST_CACHE_CONTROL)
    return manifest


def _refuse_while_erasing(
    objects: ObjectStore,
    image_id: uuid.UUID,
    records: Sequence[RenditionRecord],
    created: str | None = None,
) -> None:
    """No new manifest while the image is being erased (core.erasure): what this attempt
    wrote is taken back and it is retried (503) after the erasure, as a new image. Checked
    before the manifest is created and again after: an erasure that began in between may
    have deleted the renditions already, or may not see the manifest."""
    if not objects.exists(erasing_key(image_id)):
        return
    for key in [*([created] if created else []), *(record.key for record in records)]:
        objects.delete(key)
    raise TransientError("the image is being erased; retry", retry_after=2.0)


def _result(
    request: IngestRequest,
    started: float,
    bytes_in: int,
    *,
    manifest: Manifest | None = None,
    status: Status = "rejected",
    refusal: PermanentError | None = None,
    match: Match | None = None,
) -> IngestResult:
    return IngestResult(
        event_id=request.event_id,
        customer_id=request.customer_id,
        source=request.source,
        status=status,
        received_at=request.received_at,
        bytes_in=bytes_in,
        processing_ms=round((time.perf_counter() - started) * 1000, 3),
        manifest=manifest,
        error_code=refusal.code if refusal else None,
        error_detail=refusal.detail if refusal else None,
        match=match,
        duplicate_of=manifest.image_id if manifest and match else None,
    )


def discard_upload(objects: ObjectStore, key: str) -> None:
    """Delete a direct upload its caller is done with: after its facts are written and after
    whatever tells a retry what the upload became. Lifecycle expires any left over."""
    try:
        objects.delete(key)
    except TransientError as error:
        log.warning("could not delete %s: %s", key, error.detail)


class _ImageLocks:
    """A lock per image being stored in this process: two threads given the same image take
    turns, so that one encodes and stores it and the other finds its manifest, while images
    that differ never wait for each other. Each holder holds one lock at a time and waits on
    nothing else meanwhile: no deadlock. Across processes, deterministic keys and idempotent
    rows keep the outcome right; only the work is done twice."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[uuid.UUID, tuple[threading.Lock, int]] = {}  # lock, its users

    @contextlib.contextmanager
    def hold(self, image_id: uuid.UUID) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(image_id, (threading.Lock(), 0))
            self._locks[image_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[image_id]
                if users == 1:
                    del self._locks[image_id]  # forgotten once unused: the map stays small
                else:
                    self._locks[image_id] = (lock, users - 1)


IMAGE_LOCKS = _ImageLocks()
