"""Hashes of a picture: the 64-bit perceptual hash (dHash)."""

from __future__ import annotations

from PIL import Image

from core.processing.colour import flatten


def perceptual_hash(image: Image.Image) -> str:
    """64-bit difference hash (dHash) as 16 hex digits: near-identical pictures differ in few bits.

    Each bit says whether a cell of a 9x8 grey thumbnail is brighter than its right neighbour.
    """
    grey = flatten(image).convert("L").resize((9, 8), Image.Resampling.BOX)
    cells = grey.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            left, right = cells[row * 9 + col], cells[row * 9 + col + 1]
            bits = (bits << 1) | (left > right)
    return f"{bits:016x}"
