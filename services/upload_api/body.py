"""Reads the image of a POST: a multipart part named `file`, or a raw image/* body, streamed."""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from core.errors import ErrorCode, PermanentError
from services.upload_api.problems import ApiCode, ApiError

FILE_FIELD = "file"
RAW_TYPES = ("image/", "application/octet-stream")
# A refusal names the parts it found, but a body of a million tiny parts must not become a
# problem document of megabytes.
NAMES_SHOWN = 10
NAME_CHARS = 64


@dataclass(frozen=True, slots=True)
class PostedImage:
    """The bytes of an image as posted, with what the client said about them (not trusted)."""

    data: bytes = field(repr=False)
    declared_type: str | None
    filename: str | None


async def read_posted_image(request: Request) -> PostedImage:
    """The posted image; 415 for a body that is neither multipart nor image/*, 400 for a
    multipart body without a `file` part. The body limit is the middleware's."""
    coding = request.headers.get("content-encoding", "identity").strip().lower()
    if coding not in {"", "identity"}:
        # Unread, the compressed bytes would be refused as an unknown image format, which
        # would send the client looking in the wrong place (RFC 7694: 415 for a coding).
        raise ApiError(
            415,
            ApiCode.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Encoding {coding[:40]!r} is not accepted: send the image as it is "
            "(image formats are compressed already)",
            headers={"Accept-Encoding": "identity"},
        )
    content_type = request.headers.get("content-type", "")
    media_type, options = parse_options_header(content_type)
    kind = media_type.decode("latin-1").lower()
    if kind == "multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise PermanentError(
                ErrorCode.INVALID_REQUEST, "the multipart Content-Type names no boundary"
            )
        return await _read_multipart(request, boundary)
    if kind.startswith(RAW_TYPES):
        data = bytearray()
        async for chunk in request.stream():
            data.extend(chunk)
        return PostedImage(bytes(data), kind, None)
    shown = kind[:100] or "no Content-Type"
    raise ApiError(
        415,
        ApiCode.UNSUPPORTED_MEDIA_TYPE,
        f"{shown} is not accepted: send multipart/form-data with a part named "
        f"`{FILE_FIELD}`, or the image itself with an image/* Content-Type",
    )


class _Parts:
    """Collects the part named `file`; remembers the names of the others and counts any
    further `file` parts, so that a request carrying two images is refused, not half-read."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.data = bytearray()
        self.found = False
        self.extra_files = 0
        self.complete = False
        self.ended = False
        self.declared_type: str | None = None
        self.filename: str | None = None
        self._collecting = False
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}

    def on_part_begin(self) -> None:
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name.extend(data[start:end])

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value.extend(data[start:end])

    def on_header_end(self) -> None:
        self._headers[self._header_name.decode("latin-1").lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if len(self.names) < NAMES_SHOWN:
            self.names.append(name[:NAME_CHARS])
        if name == FILE_FIELD and self.found:
            self.extra_files += 1
        self._collecting = name == FILE_FIELD and not self.found
        if self._collecting:
            self.found = True
            filename = params.get(b"filename")
            self.filename = filename.decode("utf-8", "replace") if filename else None
            part_type, _ = parse_options_header(self._headers.get("content-type", b""))
            self.declared_type = part_type.decode("latin-1").lower() or None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._collecting:
            self.data.extend(data[start:end])

    def on_part_end(self) -> None:
        if self._collecting:
            self.complete = True
        self._collecting = False

    def on_end(self) -> None:
        self.ended = True


async def _read_multipart(request: Request, boundary: bytes) -> PostedImage:
    parts = _Parts()
    # FormParserError, not only MultipartParseError: the constructor refuses a boundary over
    # 256 bytes with the base class, and that is as much the client's fault as a bad body.
    try:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": parts.on_part_begin,
                "on_header_field": parts.on_header_field,
                "on_header_value": parts.on_header_value,
                "on_header_end": parts.on_header_end,
                "on_headers_finished": parts.on_headers_finished,
                "on_part_data": parts.on_part_data,
                "on_part_end": parts.on_part_end,
                "on_end": parts.on_end,
            },
        )
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as error:
        raise PermanentError(
            ErrorCode.INVALID_REQUEST, f"the multipart body cannot be parsed: {error}"
        ) from None
    if not parts.found:
        others = ", ".join(f"`{name}`" for name in parts.names if name) or "none"
        raise PermanentError(
            ErrorCode.INVALID_REQUEST,
            f"the multipart body has no part named `{FILE_FIELD}` (parts found: {others})",
        )
    if parts.extra_files:
        raise PermanentError(
            ErrorCode.INVALID_REQUEST,
            f"the multipart body has {parts.extra_files + 1} parts named `{FILE_FIELD}`; "
            "send one image per request",
        )
    if not parts.complete or not parts.ended:
        raise PermanentError(
            ErrorCode.INVALID_REQUEST, f"the multipart body ends inside the `{FILE_FIELD}` part"
        )
    return PostedImage(bytes(parts.data), parts.declared_type, parts.filename)
