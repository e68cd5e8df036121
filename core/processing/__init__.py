"""The image pipeline: bytes in, renditions and metadata out. Pure: no I/O, no mutable globals.

`process` is the entry point; the modules beside it hold one concern each: sniffing, opening
within the limits, colour, the size rule, EXIF, hashes and encoding.
"""

from core.processing.formats import OUTPUT_FORMATS, OUTPUT_MEDIA_TYPES, OutputFormat
from core.processing.hashes import perceptual_hash
from core.processing.pipeline import process
from core.processing.policy import ProcessingPolicy, RenditionSpec
from core.processing.sizes import LANCZOS, REDUCING_GAP, fit_size, in_window, jpeg_scale
from core.processing.sniff import sniff_format

__all__ = [
    "LANCZOS",
    "OUTPUT_FORMATS",
    "OUTPUT_MEDIA_TYPES",
    "REDUCING_GAP",
    "OutputFormat",
    "ProcessingPolicy",
    "RenditionSpec",
    "fit_size",
    "in_window",
    "jpeg_scale",
    "perceptual_hash",
    "process",
    "sniff_format",
]
