"""The structure of JPEG and PNG files: where each segment or chunk lies, never its pixels."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SOS, EOI, COM, APP0, APP15 = 0xDA, 0xD9, 0xFE, 0xE0, 0xEF
# A marker inside entropy-coded data: 0xFF followed by neither a stuffed 0x00, nor a restart
# marker (RST0-7, which belong to the scan), nor another 0xFF (fill).
_SCAN_END = re.compile(rb"\xff(?=[\x01-\xcf\xd8-\xfe])")  # a lookahead: faster here
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RSTn: no length field


@dataclass(frozen=True, slots=True)
class Segment:
    """One JPEG marker segment, from its 0xFF to its end; an SOS segment holds its scan data."""

    marker: int
    start: int
    end: int

    def payload(self, data: bytes) -> bytes:
        """What follows the marker and its length field (for SOS: the header, then the scan)."""
        return data[min(self.start + 4, self.end) : self.end]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One PNG chunk: its type and where its payload lies (length and CRC around it)."""

    kind: bytes
    start: int
    end: int


def jpeg_segments(data: bytes) -> list[Segment]:
    """The segments after SOI in file order, EOI last; whatever follows EOI is left out.

    Raises ValueError when the bytes do not follow the marker structure.
    """
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("no SOI marker")
    segments: list[Segment] = []
    pos, size = 2, len(data)
    while pos + 2 <= size:
        if data[pos] != 0xFF:
            raise ValueError(f"no marker at {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == EOI:
            segments.append(Segment(marker, pos, pos + 2))
            return segments
        if marker in _STANDALONE:
            segments.append(Segment(marker, pos, pos + 2))
            pos += 2
            continue
        if pos + 4 > size:
            break
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > size:
            raise ValueError(f"segment 0x{marker:02X} at {pos} runs past the end")
        if marker == SOS:
            found = _SCAN_END.search(data, end)
            if found is None:
                raise ValueError("scan without an end")
            end = found.start()
        segments.append(Segment(marker, pos, end))
        pos = end
    raise ValueError("no EOI marker")


def png_chunks(data: bytes) -> list[Chunk]:
    """The chunks from IHDR to IEND in file order. Raises ValueError on a broken structure."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("no PNG signature")
    chunks: list[Chunk] = []
    pos, size = len(PNG_SIGNATURE), len(data)
    while pos + 8 <= size:
        length, kind = struct.unpack_from(">I4s", data, pos)
        start = pos + 8
        end = start + length
        if end + 4 > size:
            raise ValueError(f"chunk {kind!r} at {pos} runs past the end")
        chunks.append(Chunk(kind, start, end))
        if kind == b"IEND":
            return chunks
        pos = end + 4  # the CRC
    raise ValueError("no IEND chunk")


@dataclass(frozen=True, slots=True)
class Layout:
    """A JPEG's segments or a PNG's chunks; both empty for other formats and broken files."""

    segments: tuple[Segment, ...] = ()
    chunks: tuple[Chunk, ...] = ()


def layout(data: bytes, fmt: str) -> Layout:
    try:
        if fmt == "jpeg":
            return Layout(segments=tuple(jpeg_segments(data)))
        if fmt == "png":
            return Layout(chunks=tuple(png_chunks(data)))
    except ValueError:  # decodable, but not as the standard lays it out: no structure to use
        pass
    return Layout()
