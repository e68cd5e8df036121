"""Colour: every decoded image becomes 8-bit sRGB, L, RGB, LA or RGBA; alpha flattened on demand."""

from __future__ import annotations

import io
from functools import cache
from typing import cast

from PIL import Image, ImageCms

WHITE = (255, 255, 255)


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


_PROFILE_SPACES = {"RGB ": ("RGB",), "CMYK": ("CMYK",), "GRAY": ("L",)}


def icc_profile(icc: bytes | None) -> tuple[ImageCms.ImageCmsProfile | None, str | None]:
    if not icc:
        return None, None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(profile).strip() or None
    except Exception:  # a broken profile is ignored, as browsers do, not a reason to refuse
        return None, None
    return profile, description


def profile_space(profile: ImageCms.ImageCmsProfile) -> str:
    """The colour space of a profile's data, as ICC writes it: "RGB ", "CMYK", "GRAY" ..."""
    return str(getattr(profile.profile, "xcolor_space", "")).ljust(4)[:4]


def keeps_profile(image: Image.Image, profile: ImageCms.ImageCmsProfile | None) -> bool:
    """Whether the pixels can stay as they are with their profile beside them: an RGB profile
    on RGB (or RGB palette) data. Others are converted, whatever the policy."""
    return (
        profile is not None
        and profile_space(profile) == "RGB "
        and image.mode in ("RGB", "RGBA", "RGBX", "RGBa", "P", "PA")
    )


def to_srgb(
    image: Image.Image, profile: ImageCms.ImageCmsProfile | None, description: str | None
) -> Image.Image:
    """8-bit sRGB (or grey), alpha kept; ICC profiles honoured, 16-bit scaled, palettes expanded."""
    mode = image.mode
    if mode in {"P", "PA"}:
        has_alpha = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif mode in ("RGB", "L") and "transparency" in image.info:
        # One colour marked transparent (PNG tRNS): a real alpha channel from here on.
        image = image.convert("RGBA" if mode == "RGB" else "LA")
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        image = _sixteen_bit_to_l(image)
    elif mode == "F":
        image = image.convert("L")
    elif mode == "La":
        image = image.convert("LA")
    elif mode in ("RGBa", "RGBA;16B"):
        image = image.convert("RGBA")
    elif mode in ("RGBX", "YCbCr", "HSV", "RGB;16B"):
        image = image.convert("RGB")
    elif mode == "LAB":
        lab = ImageCms.createProfile("LAB")
        converted = ImageCms.profileToProfile(image, lab, _srgb_profile(), outputMode="RGB")
        assert converted is not None
        image, profile = converted, None
    if profile is not None and not (description or "").lower().startswith("srgb"):
        converted = _apply_profile(image, profile)
        if converted is not None:
            return converted
    if image.mode == "CMYK":
        return image.convert("RGB")
    if image.mode not in ("L", "LA", "RGB", "RGBA"):
        return image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return image


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    # Pillow's own conversion clips at 255; 16-bit grey must be scaled down instead.
    wide = image if image.mode == "I" else image.convert("I")
    lo, hi = cast(tuple[float, float], wide.getextrema())
    if image.mode == "I" and 0 <= lo <= hi <= 255:
        return wide.convert("L")
    return wide.point(lambda value: value / 257).convert("L")


def _apply_profile(image: Image.Image, profile: ImageCms.ImageCmsProfile) -> Image.Image | None:
    """The image converted from its embedded profile to sRGB, or None if they do not match."""
    base_modes = _PROFILE_SPACES.get(profile_space(profile), ())
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    base = image.convert(image.mode[:-1]) if alpha is not None else image
    if base.mode not in base_modes:
        return None
    try:
        transform = ImageCms.buildTransform(
            profile,
            _srgb_profile(),
            base.mode,
            "RGB",
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
        )
        converted = ImageCms.applyTransform(base, transform)
    except Exception:
        return None
    assert converted is not None
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    )


def flatten(image: Image.Image) -> Image.Image:
    """Alpha composited onto white: what a format without alpha shows."""
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, WHITE)
        background.paste(image, mask=image.getchannel("A"))
        return background
    if image.mode == "LA":
        background = Image.new("L", image.size, 255)
        background.paste(image.getchannel("L"), mask=image.getchannel("A"))
        return background
    return image
