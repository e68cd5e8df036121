"""What a front end shows before an image arrives: its ThumbHash and its dominant colour.

ThumbHash is Evan Wallace's placeholder format: the picture's luminance, two colour-difference
channels and alpha as a few low-frequency DCT coefficients, in ~25 bytes. Both are computed
from a downscale of the smallest rendition, which is what makes them cheap.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from functools import cache
from operator import mul

from PIL import Image

from core.processing.sizes import fit_size

# Samples a side of the downscale both are computed from. ThumbHash keeps at most 7 terms a side:
# from 16 samples its hashes of photographs are within two quantisation steps, over all terms,
# of those from 100 (the format's largest input), at a sixth of the cost.
SAMPLE_SIDE = 16


@dataclass(frozen=True, slots=True)
class Placeholder:
    thumbhash: str  # base64
    dominant_color: str | None  # #rrggbb; None when no pixel is visible


def placeholder(image: Image.Image) -> Placeholder:
    """The ThumbHash and dominant colour of an upright 8-bit L, LA, RGB or RGBA image."""
    small = image.resize(fit_size(*image.size, SAMPLE_SIDE), Image.Resampling.BOX)
    small = small.convert("RGBA" if "A" in small.getbands() else "RGB")
    return Placeholder(thumbhash(small), dominant_color(small))


def dominant_color(image: Image.Image) -> str | None:
    """The mean of the most common colour among the visible pixels, colours told apart at
    3 bits a channel, as #rrggbb."""
    rgba = image.convert("RGBA").tobytes()
    buckets: dict[int, list[int]] = {}  # colour -> pixels, red, green, blue
    for red, green, blue, alpha in zip(rgba[0::4], rgba[1::4], rgba[2::4], rgba[3::4], strict=True):
        if alpha < 128:
            continue
        bucket = buckets.setdefault(red >> 5 << 6 | green >> 5 << 3 | blue >> 5, [0, 0, 0, 0])
        bucket[0] += 1
        bucket[1] += red
        bucket[2] += green
        bucket[3] += blue
    if not buckets:
        return None
    count, *sums = max(buckets.values())
    red, green, blue = (_round(total / count) for total in sums)
    return f"#{red:02x}{green:02x}{blue:02x}"


def _round(value: float) -> int:
    return math.floor(value + 0.5)  # half up, as the format's reference rounds


def thumbhash(image: Image.Image) -> str:
    """The base64 ThumbHash of an RGB or RGBA image of at most 100x100 pixels."""
    width, height = image.size
    if max(width, height) > 100:
        raise ValueError(f"{width}x{height} is larger than ThumbHash's 100x100")
    bands = [band.tobytes() for band in image.split()]
    red, green, blue = ([value / 255 for value in band] for band in bands[:3])
    alpha = [value / 255 for value in bands[3]] if len(bands) == 4 else [1.0] * len(red)
    total_alpha = sum(alpha)
    has_alpha = total_alpha < len(alpha)
    if has_alpha:  # transparent pixels take the average colour of the visible ones
        weight = total_alpha or 1.0
        mean = [sum(map(mul, alpha, channel)) / weight for channel in (red, green, blue)]
        red, green, blue = (
            [m * (1 - a) + a * v for a, v in zip(alpha, channel, strict=True)]
            for m, channel in zip(mean, (red, green, blue), strict=True)
        )
    luma = [(r + g + b) / 3 for r, g, b in zip(red, green, blue, strict=True)]
    yellow_blue = [(r + g) / 2 - b for r, g, b in zip(red, green, blue, strict=True)]
    red_green = [r - g for r, g in zip(red, green, strict=True)]

    limit = 5 if has_alpha else 7  # fewer luminance terms leave room for alpha
    longest = max(width, height)
    lx, ly = max(1, _round(limit * width / longest)), max(1, _round(limit * height / longest))
    l_dc, l_ac, l_scale = _terms(luma, width, height, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _terms(yellow_blue, width, height, 3, 3)
    q_dc, q_ac, q_scale = _terms(red_green, width, height, 3, 3)

    landscape = width > height
    header24 = (
        _round(63 * l_dc)
        | _round(31.5 + 31.5 * p_dc) << 6
        | _round(31.5 + 31.5 * q_dc) << 12
        | _round(31 * l_scale) << 18
        | has_alpha << 23
    )
    header16 = (
        (ly if landscape else lx)
        | _round(63 * p_scale) << 3
        | _round(63 * q_scale) << 9
        | landscape << 15
    )
    out = [header24 & 255, header24 >> 8 & 255, header24 >> 16, header16 & 255, header16 >> 8]
    terms = [l_ac, p_ac, q_ac]
    if has_alpha:
        a_dc, a_ac, a_scale = _terms(alpha, width, height, 5, 5)
        out.append(_round(15 * a_dc) | _round(15 * a_scale) << 4)
        terms.append(a_ac)
    nibbles = [_round(15 * value) for channel in terms for value in channel]
    nibbles += [0] * (len(nibbles) % 2)
    out += [low | high << 4 for low, high in zip(nibbles[::2], nibbles[1::2], strict=True)]
    return base64.b64encode(bytes(out)).decode("ascii")


@cache
def _cosines(size: int, k: int) -> tuple[float, ...]:
    """cos(pi / size * k * (i + 0.5)) for each sample i: the k-th DCT basis over `size`."""
    return tuple(math.cos(math.pi / size * k * (i + 0.5)) for i in range(size))


def _terms(
    channel: list[float], width: int, height: int, nx: int, ny: int
) -> tuple[float, list[float], float]:
    """The DC term, the AC terms scaled to 0..1, and their scale, of the terms cx, cy with
    cx * ny < nx * (ny - cy): the low frequencies, in a triangle. Row by row: each row's
    projection on a horizontal basis first, then those on the vertical one."""
    rows = [channel[y * width : (y + 1) * width] for y in range(height)]
    by_row = [[sum(map(mul, row, _cosines(width, cx))) for row in rows] for cx in range(nx)]
    dc, ac = 0.0, []
    for cy in range(ny):
        fy = _cosines(height, cy)
        cx = 0
        while cx * ny < nx * (ny - cy):
            term = sum(map(mul, by_row[cx], fy)) / (width * height)
            if cx or cy:
                ac.append(term)
            else:
                dc = term
            cx += 1
    scale = max((abs(term) for term in ac), default=0.0)
    if scale:
        ac = [0.5 + 0.5 / scale * term for term in ac]
    return dc, ac, scale
