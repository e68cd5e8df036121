"""The one use case: ingest images (process, store objects, record rows) for both services."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.budget import decoding
from core.errors import ErrorCode, NotFound, PermanentError, TransientError
from core.models import (
    IngestRequest,
    IngestResult,
    Manifest,
    ProcessedImage,
    RenditionRecord,
    Status,
    image_id_for,
    manifest_key,
    rendition_key,
    utcnow,
)
from core.processing import process
from core.repository.objects import IMMUTABLE_CACHE_CONTROL

if TYPE_CHECKING:
    from core.bootstrap import Context
    from core.repository.objects import ObjectStore

log = logging.getLogger("imgpipe.ingest")


def ingest(request: IngestRequest, ctx: Context) -> IngestResult:
    """Ingest one image. Raises TransientError when storage or the warehouse is unreachable."""
    return ingest_batch([request], ctx)[0]


def ingest_batch(requests: Sequence[IngestRequest], ctx: Context) -> list[IngestResult]:
    """Ingest images: process them (in a few threads), store their objects, then write all of
    their rows in one transaction. A TransientError leaves nothing a retry cannot finish.
    Direct uploads (object_key) are left in place: see discard_upload."""
    sources = [_Source.read(request, ctx) for request in requests]
    # An image sent twice in one batch is stored once, as its first request describes it.
    unique = {s.image_id: s for s in reversed(sources) if s.image_id is not None}
    stored = dict(ctx.map(lambda s: (s.image_id, _store(s, ctx)), list(unique.values())))
    return ctx.warehouse.write_batch([_result(s, stored.get(s.image_id)) for s in sources])


@dataclass(slots=True)
class _Source:
    """A request with its bytes read and its identity known (or the reason it has none)."""

    request: IngestRequest
    data: bytes
    image_id: uuid.UUID | None
    started: float
    refusal: PermanentError | None = None
    finished: float | None = None

    @classmethod
    def read(cls, request: IngestRequest, ctx: Context) -> _Source:
        started = time.perf_counter()
        if request.refusal is not None:
            return cls(request, b"", None, started, request.refusal)
        try:
            data = _read_bytes(request, ctx)
        except PermanentError as refusal:
            return cls(request, b"", None, started, refusal)
        if not data:
            return cls(request, data, None, started, PermanentError(ErrorCode.EMPTY, "no bytes"))
        sha256 = hashlib.sha256(data).hexdigest()
        return cls(request, data, image_id_for(request.customer_id, sha256), started)


def _read_bytes(request: IngestRequest, ctx: Context) -> bytes:
    """The request's bytes, or those of its direct upload (size checked before reading it)."""
    if request.data is not None:
        return request.data
    if request.object_key is None:
        raise PermanentError(ErrorCode.INVALID_REQUEST, "request carries neither bytes nor a key")
    try:
        size = ctx.objects.head(request.object_key).size
    except NotFound:
        raise PermanentError(ErrorCode.SOURCE_NOT_FOUND, "the upload has no object") from None
    if size > ctx.settings.max_bytes:
        raise PermanentError(
            ErrorCode.TOO_LARGE, f"{size} bytes is over the limit of {ctx.settings.max_bytes}"
        )
    return ctx.objects.get(request.object_key)


def _store(source: _Source, ctx: Context) -> Manifest | PermanentError:
    """Steps 1-7 of one image: its manifest when stored (now or before), else why not."""
    assert source.image_id is not None
    try:
        with _IMAGE_LOCKS.hold(source.image_id):
            existing = _stored_manifest(ctx.objects, source.image_id)
            if existing is not None:  # the customer sent these bytes before: nothing to encode
                return existing
            try:
                with decoding(source.data, ctx.settings):  # waits its turn in the decode budget
                    processed = process(source.data, ctx.settings)  # sniff, limits, decode, ...
            except PermanentError as refusal:
                return refusal
            return _write_objects(ctx.objects, source, processed)
    finally:
        source.finished = time.perf_counter()


def _stored_manifest(objects: ObjectStore, image_id: uuid.UUID) -> Manifest | None:
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


def _write_objects(objects: ObjectStore, source: _Source, processed: ProcessedImage) -> Manifest:
    """Renditions first, the manifest last: a manifest never names an object that is missing."""
    assert source.image_id is not None
    records = []
    for rendition in processed.renditions:
        key = rendition_key(rendition.name, source.image_id, rendition.extension)
        objects.put(
            key, rendition.data, rendition.content_type, cache_control=IMMUTABLE_CACHE_CONTROL
        )
        records.append(
            RenditionRecord(
                rendition.name,
                rendition.width,
                rendition.height,
                rendition.size,
                rendition.content_type,
                key,
            )
        )
    manifest = Manifest(
        image_id=source.image_id,
        customer_id=source.request.customer_id,
        metadata=processed.metadata,
        renditions=tuple(records),
        created_at=utcnow(),
        source=source.request.source,
        attributes=source.request.attributes,
    )
    body = json.dumps(manifest.to_json(), separators=(",", ":")).encode()
    objects.put(manifest_key(source.image_id), body, "application/json", cache_control="no-cache")
    return manifest


def _result(source: _Source, outcome: Manifest | PermanentError | None) -> IngestResult:
    request = source.request
    refusal = source.refusal or (outcome if isinstance(outcome, PermanentError) else None)
    manifest = outcome if isinstance(outcome, Manifest) else None
    # The warehouse settles processed vs duplicate: it alone knows whether the image is new.
    status: Status = "rejected" if refusal or manifest is None else "processed"
    return IngestResult(
        event_id=request.event_id,
        customer_id=request.customer_id,
        source=request.source,
        status=status,
        received_at=request.received_at,
        bytes_in=len(source.data),
        processing_ms=round(((source.finished or time.perf_counter()) - source.started) * 1000, 3),
        manifest=manifest,
        error_code=refusal.code if refusal else None,
        error_detail=refusal.detail if refusal else None,
    )


def discard_upload(objects: ObjectStore, key: str) -> None:
    """Delete a direct upload its caller is done with: after the rows are written and after
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


_IMAGE_LOCKS = _ImageLocks()
