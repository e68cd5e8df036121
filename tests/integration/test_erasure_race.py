"""An erasure racing an ingest of the same image, in threads against the real stores (folder,
moto S3): afterwards the image is fully there (manifest, every rendition) or fully gone
(nothing names it but the erasure fact), whichever came first; the warehouse agrees once the
loader ran. Run with the erasure sharing the ingest's lock (one process) and without it (as
from another process, where only the erasure marker keeps them apart)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from core import erasure, facts, layout
from core.bootstrap import Context
from core.errors import NotFound, TransientError
from core.ingest import ingest
from core.loader import load_once
from core.models import Manifest
from tests.integration.test_erasure_loader import rows_of_image
from tests.integration.test_loader import Stack, _photos, _request
from tests.integration.test_loader import stack as stack  # noqa: PLC0414 - the fixture, shared

ROUNDS = 6


def state_of(ctx: Context, image_id: uuid.UUID) -> str:
    """`there` or `gone`; fails on anything in between."""
    objects = ctx.objects
    assert not objects.exists(layout.erasing_key(image_id)), "an erasure marker was left"
    try:
        manifest = Manifest.from_json(json.loads(objects.get(layout.manifest_key(image_id))))
    except NotFound:
        manifest = None
    if manifest is not None:
        for record in manifest.renditions:
            assert objects.exists(record.key), f"{record.key} missing under a stored manifest"
        return "there"
    needle = str(image_id)
    for key in objects.keys(""):
        assert needle not in key, f"{key} names an erased image"
        data = objects.get(key)
        if key.startswith(layout.FACTS):
            named = [row for row in facts.decode(data) if needle in json.dumps(row)]
            assert all(row["kind"] == "erasure" for row in named), (key, named)
        else:
            assert needle.encode() not in data, f"{key} names an erased image"
    return "gone"


def race(ctx: Context, photo: bytes, image_id: uuid.UUID, erasure_first: bool) -> None:
    """An erasure and an ingest of the same bytes, let go at the same moment in two threads."""
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(step: Callable[[], Any]) -> None:
        start.wait()
        try:
            step()
        except (TransientError, NotFound):
            pass  # 503 (being erased: retried later) or 404 (gone already): both allowed
        except BaseException as error:
            errors.append(error)

    steps: list[Callable[[], Any]] = [
        lambda: erasure.erase_image(image_id, "acme", ctx),
        lambda: ingest(_request(photo), ctx),
    ]
    if not erasure_first:
        steps.reverse()
    threads = [threading.Thread(target=run, args=(step,)) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


@pytest.mark.parametrize("one_process", [True, False], ids=["shared-lock", "marker-only"])
def test_an_erasure_racing_an_ingest_of_the_same_image_ends_fully_there_or_fully_gone(
    stack: Stack, one_process: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not one_process:
        monkeypatch.setattr(erasure, "IMAGE_LOCKS", type(erasure.IMAGE_LOCKS)())
    ctx = stack.ctx
    outcomes: dict[str, int] = {}
    for round_number, photo in enumerate(_photos(ROUNDS, seed=80)):
        image_id = ingest(_request(photo), ctx).image_id
        assert image_id is not None
        # Alternate which of the two starts a hair earlier, so both orders are met.
        race(ctx, photo, image_id, erasure_first=round_number % 2 == 0)
        state = state_of(ctx, image_id)
        outcomes[state] = outcomes.get(state, 0) + 1
        load_once(ctx)
        in_warehouse = rows_of_image(stack, "images", str(image_id))
        assert in_warehouse == (1 if state == "there" else 0), (state, in_warehouse)
        if state == "there":  # the next round starts from a clean slate
            erasure.erase_image(image_id, "acme", ctx)
            load_once(ctx)
    assert sum(outcomes.values()) == ROUNDS
