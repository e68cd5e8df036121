"""The size rule of renditions, the JPEG decode scale that serves it, and orientation."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

LANCZOS = Image.Resampling.LANCZOS
# reduce() by an integer factor first while the LANCZOS pass that follows still shrinks by at
# least this much, which hides the box filter's softness (Pillow advises 2). Just under 2 so
# that 2000 -> 256 reduces by 4, a fast path, rather than by 3: half the time, and within half
# a grey level on average of a direct LANCZOS.
REDUCING_GAP = 1.9

# EXIF orientation -> the transpose that shows the image upright.
ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SWAPS_AXES = {5, 6, 7, 8}


def fit_size(width: int, height: int, longest: int) -> tuple[int, int]:
    """The size with `longest` as its longest side and the same aspect ratio (never upscaled)."""
    side = max(width, height)
    if side <= longest:
        return width, height
    scale = longest / side
    if width >= height:
        return longest, max(1, round(height * scale))
    return max(1, round(width * scale)), longest


def in_window(side: int, target: int, tolerance: float) -> bool:
    """Whether a longest side satisfies a rendition of `target` from a larger source."""
    return math.ceil((1 - tolerance) * target - 1e-9) <= side <= target


def jpeg_scale(width: int, height: int, target: int, tolerance: float) -> int:
    """The smallest JPEG DCT scale (1/8, 1/4, 1/2 or 1) whose decode still serves `target`.

    At that scale the decode either lands inside the size window (no resample at all) or is
    the smallest decode that still covers the target, to be resampled down once.
    """
    for scale in (8, 4, 2):
        if scale > min(width, height):
            continue
        side = max(-(-width // scale), -(-height // scale))
        if side >= target or in_window(side, target, tolerance):
            return scale
    return 1


@dataclass(frozen=True, slots=True)
class Made:
    """An image the pipeline holds: the decoded source or a rendition, and whether upright."""

    image: Image.Image
    upright: bool

    @property
    def side(self) -> int:
        return max(self.image.size)


def resample(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.size == size:
        return image
    return image.resize(size, LANCZOS, reducing_gap=REDUCING_GAP)


def rendition_image(base: Made, target: int, orientation: int) -> Made:
    """The upright image of a rendition of longest side `target`, made from `base`.

    `base` is the decoded source or the rendition made just before: either larger than the
    target (resampled down once), or already inside the size window, or the whole source.
    """
    image = base.image
    if base.side > target:
        image = resample(image, fit_size(*image.size, target))
    if not base.upright:
        image = upright(image, orientation)
    return Made(image, upright=True)


def upright(image: Image.Image, orientation: int) -> Image.Image:
    method = ORIENTATION.get(orientation)
    return image.transpose(method) if method is not None else image
