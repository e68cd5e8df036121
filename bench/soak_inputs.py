"""What the soak sends (distinct small images, hostile uploads and records) and its arithmetic."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bench.api import percentile

# Small images of several sizes: what a steady stream of phone thumbnails, avatars and web
# pictures looks like. PNG photographs grow fast with size, so they stay at the small end.
JPEG_SIZES = ((64, 48), (320, 240), (640, 480), (1024, 768))
PNG_SIZES = ((64, 48), (320, 240))
PHOTOS = ("coffee", "chelsea", "astronaut", "rocket")
BOUNDARY = "imgpipe-soak-boundary"
CUSTOMER = "soak"
API_KEY = "soak-key-not-a-secret"  # loopback only; the server holds its digest
WRONG_KEY = "soak-wrong-key"


def key_pair() -> str:
    """The IMGPIPE_API_KEYS entry of the soak's customer."""
    return f"{CUSTOMER}:{hashlib.sha256(API_KEY.encode()).hexdigest()}"


@cache
def base_images() -> tuple[tuple[str, bytes], ...]:
    """(content type, bytes) of every base image, made once, in memory."""
    from tests.images import encode, jpeg_photo, photo_at

    made: list[tuple[str, bytes]] = []
    for index, (width, height) in enumerate(JPEG_SIZES):
        name = PHOTOS[index % len(PHOTOS)]
        made.append(("image/jpeg", jpeg_photo(width, height, quality=85, name=name)))
    for index, (width, height) in enumerate(PNG_SIZES):
        made.append(("image/png", encode(photo_at(width, height, PHOTOS[-1 - index]), "PNG")))
    return tuple(made)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def distinct(content_type: str, data: bytes, tag: str) -> bytes:
    """The image made a picture of its own by `tag` (and the tag in a comment): a new image id
    and a new content hash, since a comment alone makes a metadata duplicate. Cheap at the
    soak's rates: a JPEG's quantisation table or a PNG's last row, not a new encoding."""
    text = f"imgpipe-soak {tag}".encode()
    mark = hashlib.sha256(text).digest()
    if content_type == "image/jpeg":
        data = _requantised(data, mark)
        return data[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + data[2:]
    header, head, compressor, last_row = _png_parts(data)
    tail = compressor.copy()
    pixels = head + tail.compress(last_row[:1] + mark[:8] + last_row[9:]) + tail.flush()
    comment = _png_chunk(b"tEXt", b"Comment\x00" + text)
    return header + comment + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")


def _requantised(data: bytes, mark: bytes) -> bytes:
    """The JPEG with the six highest-frequency entries of its first quantisation table taken
    from `mark`: the picture changes a little, the header and its size not at all."""
    at = 2
    while data[at + 1] != 0xDB:  # DQT; the soak's own JPEGs have one before the scan
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    first = at + 5 + 58  # marker, length, precision and id; the last 6 of 64 in zigzag order
    entries = bytes(b % 255 + 1 for b in mark[:6])
    return data[:first] + entries + data[first + 6 :]


@cache
def _png_parts(data: bytes) -> tuple[bytes, bytes, Any, bytes]:
    """The PNG as signature and header, its rows but the last compressed, the compressor
    that took them and the last row: a new last row is a new picture for one row's work."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
    width, height = rgb.size
    raw = rgb.tobytes()
    rows = [b"\x00" + raw[y * width * 3 : (y + 1) * width * 3] for y in range(height)]
    compressor = zlib.compressobj(6)
    head = compressor.compress(b"".join(rows[:-1]))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr), head, compressor, rows[-1]


def good_image(rng: random.Random, tag: str) -> tuple[str, bytes]:
    content_type, data = rng.choice(base_images())
    return content_type, distinct(content_type, data, tag)


@cache
def png_bomb() -> bytes:
    """A real decompression bomb: 8000x8000 grey pixels (64 MP, over the 50 MP default) in
    some 60 KB, well under the byte limit; refused before its pixels are decoded."""
    side = 8000
    rows = (b"\x00" + b"\x00" * side) * side
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    chunks = _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(rows, 9))
    return signature + chunks + _png_chunk(b"IEND", b"")


def hostile_image(kind: str, tag: str) -> bytes:
    """The bytes of a hostile image kind (each distinct, so that no refusal is cached)."""
    from tests.images import png_header_declaring, truncated

    if kind == "truncated":
        content_type, data = base_images()[1]
        return truncated(distinct(content_type, data, tag))
    if kind == "not_an_image":
        return f"<!DOCTYPE html><html><body>{tag}</body></html>".encode()
    if kind == "declared_dimensions":
        return png_header_declaring(100_000, 100_000)
    if kind == "bomb":
        return png_bomb()
    raise ValueError(kind)


# --- uploads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """One POST /v1/images as sent, and the statuses that answer it correctly."""

    kind: str
    headers: dict[str, str]
    body: bytes
    expected: frozenset[int]

    @property
    def hostile(self) -> bool:
        return self.kind != "good"


def multipart(data: bytes, content_type: str, boundary: str = BOUNDARY) -> bytes:
    extension = content_type.rsplit("/", 1)[-1]
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="soak.{extension}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode()


def _headers(key: str = API_KEY, boundary: str = BOUNDARY) -> dict[str, str]:
    return {"X-API-Key": key, "Content-Type": f"multipart/form-data; boundary={boundary}"}


UPLOAD_HOSTILE = (
    "truncated",
    "not_an_image",
    "declared_dimensions",
    "bomb",
    "bad_multipart",
    "wrong_key",
)
# The refusals of each kind, as the API documents them (tests/unit/test_soak.py checks them).
UPLOAD_EXPECTED = {
    "good": frozenset({201}),
    "truncated": frozenset({422}),
    "not_an_image": frozenset({415}),
    "declared_dimensions": frozenset({422}),
    "bomb": frozenset({422}),
    "bad_multipart": frozenset({400}),
    "wrong_key": frozenset({401}),
}


def upload(kind: str, rng: random.Random, tag: str) -> Upload:
    expected = UPLOAD_EXPECTED[kind]
    if kind == "good":
        content_type, data = good_image(rng, tag)
        return Upload(kind, _headers(), multipart(data, content_type), expected)
    if kind == "wrong_key":
        content_type, data = good_image(rng, tag)
        return Upload(kind, _headers(WRONG_KEY), multipart(data, content_type), expected)
    if kind == "bad_multipart":
        # A body whose parts never open with the declared boundary: nothing to read a file from.
        content_type, data = good_image(rng, tag)
        body = multipart(data, content_type, boundary="some-other-boundary")[:-4]
        return Upload(kind, _headers(), body, expected)
    return Upload(kind, _headers(), multipart(hostile_image(kind, tag), "image/png"), expected)


# --- stream records --------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One Kafka record as produced; `sha256` names the image it must store (None: refused)."""

    kind: str
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    sha256: str | None = None

    @property
    def hostile(self) -> bool:
        return self.sha256 is None


RECORD_HOSTILE = (
    "truncated",
    "not_an_image",
    "declared_dimensions",
    "bomb",
    "bad_json",
    "bad_base64",
)
CUSTOMER_HEADER = ("customer-id", CUSTOMER.encode())
JSON_HEADER = ("content-type", b"application/json")


def record(kind: str, rng: random.Random, tag: str) -> Record:
    if kind in ("good", "good_json"):
        content_type, data = good_image(rng, tag)
        digest = hashlib.sha256(data).hexdigest()
        if kind == "good":
            headers = [CUSTOMER_HEADER, ("content-type", content_type.encode())]
            return Record(kind, data, headers, digest)
        envelope = {"customer_id": CUSTOMER, "image_base64": base64.b64encode(data).decode()}
        return Record(kind, json.dumps(envelope).encode(), [JSON_HEADER], digest)
    # An envelope that cannot be read is filed under the header's customer: a producer sends it.
    if kind == "bad_json":
        value = b'{"customer_id": "soak", "image_base64": "' + tag.encode()  # cut off
        return Record(kind, value, [CUSTOMER_HEADER, JSON_HEADER])
    if kind == "bad_base64":
        text = json.dumps({"customer_id": CUSTOMER, "image_base64": f"*not base64* {tag}"})
        return Record(kind, text.encode(), [CUSTOMER_HEADER, JSON_HEADER])
    return Record(kind, hostile_image(kind, tag), [CUSTOMER_HEADER])


def pick(rng: random.Random, hostile_share: float, hostile: Sequence[str], good: str) -> str:
    return rng.choice(hostile) if rng.random() < hostile_share else good


# --- the report's arithmetic -----------------------------------------------------------------


def latency_summary(values_ms: Sequence[float]) -> dict[str, float | int | None]:
    if not values_ms:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "count": len(values_ms),
        "p50_ms": round(percentile(list(values_ms), 0.50), 1),
        "p99_ms": round(percentile(list(values_ms), 0.99), 1),
        "max_ms": round(max(values_ms), 1),
    }


def growth_percent(start: float, end: float) -> float:
    """How much `end` is above `start`, in percent of `start` (negative: it shrank)."""
    if start <= 0 or math.isnan(start):
        raise ValueError(f"no growth from a start of {start}")
    return round((end - start) * 100 / start, 1)


def paced_rate(capacity: float, share: float, floor: float = 0.2) -> float:
    """The open-loop rate for `share` of a measured capacity, never quite zero."""
    return max(floor, round(capacity * share, 2))
