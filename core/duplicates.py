"""Metadata-blind duplicates: the content index names a customer's first image of a picture.

An image's id comes from its bytes, so the same picture with edited EXIF or a comment gets
another id. Its content hash (core.processing.hashes) does not change: one index object per
(customer, content hash), created with a conditional write, names the image that claimed the
picture first. Storage decides, as it does for exact duplicates with manifests.

An index naming an image whose manifest is gone (erased, or never written after a crash) is
dangling: it must not make a new upload a duplicate of nothing. It is replaced, conditionally
too, by the next generation of the key (`....1.json`, `....2.json`, ...), so that of two
uploads finding the same dangling index exactly one claims the picture.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from core.errors import NotFound
from core.layout import RECORD_CACHE_CONTROL, content_index_key

if TYPE_CHECKING:
    from core.models import Manifest
    from core.repository.objects import ObjectStore

log = logging.getLogger("imgpipe.duplicates")

# Generations walked before giving up: past them an image is stored as new, unindexed. Each
# takes an erasure (or a lost write) of the picture's first image: a handful at most.
MAX_GENERATIONS: Final = 16


def claim_picture(
    objects: ObjectStore,
    customer_id: str,
    content_sha256: str | None,
    image_id: uuid.UUID,
    stored_manifest: Callable[[uuid.UUID], Manifest | None],
) -> Manifest | None:
    """The manifest of the customer's first image of this picture when it is another image
    and still stored; None when `image_id` is (or now becomes) the first, which the caller
    then stores. `stored_manifest` reads a manifest, None when missing or unreadable."""
    if not content_sha256:
        return None  # a manifest from before content hashes: nothing to index by
    body = json.dumps({"image_id": str(image_id), "content_sha256": content_sha256}).encode()
    for generation in range(MAX_GENERATIONS):
        key = content_index_key(customer_id, content_sha256, generation)
        if objects.create(key, body, "application/json", cache_control=RECORD_CACHE_CONTROL):
            return None  # claimed: ours is the first
        first = _named_image(objects, key)
        if first == image_id:
            # Claimed by this image before, by an attempt that stored no manifest (or one
            # since erased): it stands, unless another image has replaced it since.
            if not objects.exists(content_index_key(customer_id, content_sha256, generation + 1)):
                return None
            continue
        if first is not None:
            manifest = stored_manifest(first)
            if (
                manifest is not None
                and manifest.customer_id == customer_id
                and manifest.metadata.content_sha256 == content_sha256
            ):
                return manifest
        log.info("content index %s is dangling; trying the next generation", key)
    log.warning("content index of %s: %d dangling generations", image_id, MAX_GENERATIONS)
    return None


def _named_image(objects: ObjectStore, key: str) -> uuid.UUID | None:
    """The image an index object names; None when it is gone or cannot be read (dangling)."""
    try:
        return uuid.UUID(json.loads(objects.get(key))["image_id"])
    except NotFound:
        return None
    except (ValueError, KeyError, TypeError) as error:
        log.warning("content index %s unreadable: %r", key, error)
        return None
