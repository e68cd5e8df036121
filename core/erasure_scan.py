"""What names an erased image: stored records searched for its id or sha256, and fact objects
rewritten without it, so that no copy and no replay of the log can bring it back."""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import logging
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from core import facts
from core.errors import NotFound

if TYPE_CHECKING:
    from core.repository.objects import ObjectStore

log = logging.getLogger("imgpipe.erasure")

# Records (idempotency answers, dead letters, upload records) are small; an object larger than
# this under those prefixes is read for the id in its text only, not unpacked.
MAX_RECORD_BYTES: Final = 64 * 1024 * 1024
# Rewrites of one fact object raced by another writer (another erasure) before giving up.
MAX_REWRITES: Final = 5


@dataclass(frozen=True, slots=True)
class Traces:
    """What identifies an image in stored text: its id and the sha256 of its bytes, and whose
    it is (another customer's record of the same bytes is that customer's, not this image's)."""

    image_id: str
    sha256: str
    customer_id: str | None = None

    @property
    def needles(self) -> tuple[bytes, ...]:
        # Sealing an erasure knows the id alone (its fact never held the sha256).
        found = (self.image_id, self.sha256, self.sha256.upper())
        return tuple(text.encode() for text in found if text)

    def found_in(self, data: bytes, depth: int = 0) -> bool:
        """Whether `data` names the image: the id or sha256 in its text, its bytes being the
        image's, or the same inside gzip, JSON strings or base64 fields (records keep bodies and
        Kafka values as base64)."""
        if any(needle in data for needle in self.needles):
            return True
        if self.sha256 and hashlib.sha256(data).hexdigest() == self.sha256:
            return True
        if depth >= 3 or len(data) > MAX_RECORD_BYTES:
            return False
        if data[:2] == b"\x1f\x8b":
            try:
                return self.found_in(gzip.decompress(data), depth + 1)
            except (OSError, EOFError, zlib.error):
                return False
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return False
        return any(self.found_in(blob, depth + 1) for blob in _base64_strings(doc))


def _base64_strings(doc: Any) -> Iterable[bytes]:
    """The decoded bytes of every string in a JSON document that is valid base64."""
    if isinstance(doc, dict):
        for value in doc.values():
            yield from _base64_strings(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _base64_strings(value)
    elif isinstance(doc, str) and len(doc) >= 8:
        try:
            yield base64.b64decode(doc, validate=True)
        except (binascii.Error, ValueError):
            return


def delete_naming(
    objects: ObjectStore,
    prefix: str,
    traces: Traces,
    owner_of: Callable[[str], str | None] | None = None,
) -> list[str]:
    """Delete the objects under `prefix` that name the image, unless they say (or `owner_of`
    their key says) that they are another customer's; their keys."""
    removed = []
    for key in objects.keys(prefix):
        try:
            data = objects.get(key)
        except NotFound:
            continue
        if not traces.found_in(data):
            continue
        owner = _owner(data) or (owner_of(key) if owner_of else None)
        if owner is not None and traces.customer_id is not None and owner != traces.customer_id:
            continue
        objects.delete(key)
        removed.append(key)
    return removed


def _owner(data: bytes) -> str | None:
    """The `customer_id` a JSON record names (dead letters and upload records do)."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    owner = doc.get("customer_id") if isinstance(doc, dict) else None
    return owner if isinstance(owner, str) else None


def owner_in(objects: ObjectStore, key: str) -> str | None:
    """The customer an object's record (`{key}.json`) names: whose a direct upload is."""
    try:
        return _owner(objects.get(f"{key}.json"))
    except NotFound:
        return None


@dataclass(slots=True)
class FactRewrite:
    """What rewriting the fact log took out."""

    objects: int = 0  # fact objects rewritten
    deleted: int = 0  # fact objects left empty, so deleted
    rows_removed: int = 0  # image and rendition rows dropped
    events_unlinked: int = 0  # event rows kept for the statistics, their link cleared

    def add(self, other: FactRewrite) -> None:
        self.objects += other.objects
        self.deleted += other.deleted
        self.rows_removed += other.rows_removed
        self.events_unlinked += other.events_unlinked


def rewrite_facts(
    objects: ObjectStore,
    prefix: str,
    traces: Traces,
    start_after: str | None = None,
    until: str | None = None,
) -> FactRewrite:
    """Rewrite every fact object from `start_after` on (up to `until`) that names the image:
    its image and rendition rows dropped, its events kept without image id or duplicate link.
    Erasure rows are kept: they are what the loader applies, and what a replay applies again."""
    total = FactRewrite()
    for key, _size in objects.scan(prefix, start_after=start_after):
        if until is not None and key > until:
            break
        total.add(rewrite_one(objects, key, traces))
    return total


def rewrite_one(objects: ObjectStore, key: str, traces: Traces) -> FactRewrite:
    """Rewrite one object, then read it back: another erasure rewriting it at the same time
    may have put back a version still naming this image, which is then rewritten again."""
    done = FactRewrite()
    for _attempt in range(MAX_REWRITES):
        try:
            data = objects.get(key)
        except NotFound:
            return done  # moved aside or emptied by another erasure
        try:
            rows = facts.decode(data)
        except facts.FactError:
            if traces.found_in(data):
                # Not loadable anyway (the loader moves it aside); the id must go all the same.
                objects.delete(key)
                done.deleted += 1
            return done
        kept, step = _without(rows, traces)
        if not (step.rows_removed or step.events_unlinked):
            return done
        if kept:
            objects.put(key, facts.encode(kept), facts.CONTENT_TYPE)
            done.objects += 1
        else:
            objects.delete(key)
            done.deleted += 1
        done.rows_removed += step.rows_removed
        done.events_unlinked += step.events_unlinked
    log.warning("fact object %s still names an erased image after %d rewrites", key, MAX_REWRITES)
    return done


def _without(rows: list[facts.Row], traces: Traces) -> tuple[list[facts.Row], FactRewrite]:
    step = FactRewrite()
    kept: list[facts.Row] = []
    for row in rows:
        kind = row.get("kind")
        if kind == "erasure":
            kept.append(row)
            continue
        if kind == "event":
            if traces.image_id in (row.get("image_id"), row.get("duplicate_of")):
                kept.append({**row, "image_id": None, "duplicate_of": None})
                step.events_unlinked += 1
            else:
                kept.append(row)
            continue
        # By id only: another customer's image of the same bytes has the same sha256.
        if row.get("image_id") == traces.image_id:
            step.rows_removed += 1
            continue
        kept.append(row)
    return kept, step
