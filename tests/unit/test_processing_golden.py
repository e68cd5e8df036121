"""Golden outputs of the default pipeline: what it computes today for real and generated images.

A change to the pipeline that is meant to be only faster must leave every value here as it is:
the content hash, ThumbHash, dominant colour, perceptual hash, rendition sizes and bytes, and
what metadata was removed. A change that is meant to alter an output rewrites the file and
says why in its commit:

    .venv/bin/python -m tests.unit.test_processing_golden
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.config import Settings
from core.processing import RenditionSpec, process
from tests import images

DATA = Path(__file__).parents[1] / "data"
FOLDER = DATA / "images"
GOLDEN = DATA / "processing-golden.json"
# Beside the defaults, a WebP that keeps alpha and a second JPEG made from it.
WITH_WEBP = (
    RenditionSpec(name="display", longest_side=1024, format="webp", quality=80),
    RenditionSpec(name="thumb", longest_side=64, quality=80, optimize=True),
)


def _photo(orientation: int) -> bytes:
    """A benchmark-like 12 MP photo, stored turned for `orientation`."""
    picture = images.mosaic_image(4000, 3000, seed=orientation)
    stored = Image.fromarray(images.stored_for_orientation(np.asarray(picture), orientation))
    exif = images.exif_block(orientation=orientation, make="Bench", model="Mosaic", gps=True)
    return images.encode(stored, "JPEG", quality=92, exif=exif)


def _odd(name: str) -> Callable[[], bytes]:
    return (FOLDER / name).read_bytes


GENERATED: dict[str, Callable[[], bytes]] = {
    "photo-12mp-upright": lambda: _photo(1),
    "photo-12mp-orientation-6": lambda: _photo(6),
    "photo-3000x2000-progressive": lambda: images.jpeg_photo(3000, 2000, progressive=True),
    "oriented-8.jpg": lambda: images.oriented_jpeg(8),
    "rgba.png": images.png_rgba,
    "la.png": images.png_la,
    "palette-transparent.png": images.png_palette_transparent,
    "16bit.png": images.png_16bit,
    "cmyk.jpg": images.cmyk_jpeg,
    "animated.gif": images.gif_animated,
    "chelsea.webp": lambda: images.in_format("webp"),
}
SOURCES: dict[str, Callable[[], bytes]] = {
    **{path.name: _odd(path.name) for path in sorted(FOLDER.iterdir()) if path.suffix != ".md"},
    **GENERATED,
}
POLICIES = {"defaults": (), "webp": WITH_WEBP}


@cache
def source(name: str) -> bytes:
    return SOURCES[name]()


def outputs(name: str, policy: str) -> dict[str, Any]:
    """What the golden file holds of one source under one policy."""
    renditions = POLICIES[policy]
    settings = Settings(renditions=renditions) if renditions else Settings()
    result = process(source(name), settings.processing)
    meta = result.metadata
    return {
        "content_sha256": meta.content_sha256,
        "thumbhash": meta.thumbhash,
        "dominant_color": meta.dominant_color,
        "phash": meta.phash,
        "size": [meta.width, meta.height],
        "metadata_removed": list(meta.metadata_removed or ()),
        "renditions": [
            {
                "name": r.name,
                "size": [r.width, r.height],
                "sha256": hashlib.sha256(r.data).hexdigest(),
            }
            for r in result.renditions
        ],
    }


def _cases() -> list[tuple[str, str]]:
    return [(name, policy) for name in SOURCES for policy in POLICIES]


@cache
def golden() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(GOLDEN.read_text())
    return loaded


def test_every_source_is_pinned() -> None:
    assert sorted(golden()) == sorted(f"{name} {policy}" for name, policy in _cases())


@pytest.mark.parametrize(("name", "policy"), _cases())
def test_outputs_are_as_pinned(name: str, policy: str) -> None:
    assert outputs(name, policy) == golden()[f"{name} {policy}"]


def write() -> None:
    pinned = {f"{name} {policy}": outputs(name, policy) for name, policy in _cases()}
    GOLDEN.write_text(json.dumps(pinned, indent=1, sort_keys=True) + "\n")
    print(f"written {GOLDEN} ({len(pinned)} cases)")


if __name__ == "__main__":
    write()
