"""Every error of the API as an RFC 9457 problem (application/problem+json), built in one place."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import TITLES as PIPELINE_TITLES
from core.errors import (
    Archived,
    ErrorCode,
    Forbidden,
    NotFound,
    PermanentError,
    TransientError,
    UploadClosed,
    UploadNotReceived,
)

log = logging.getLogger("imgpipe.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
# A problem names the path it answers, but a path of megabytes must not make a problem of them.
INSTANCE_CHARS = 256


class ApiCode(StrEnum):
    """Codes of refusals that belong to HTTP rather than to the pipeline (see core.errors)."""

    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    VALIDATION_FAILED = "validation_failed"
    ARCHIVED = "archived"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    INVALID_SIGNATURE = "invalid_signature"
    DUPLICATE_API_KEY = "duplicate_api_key"
    UPLOAD_COMPLETED = "upload_completed"
    REQUEST_TIMEOUT = "request_timeout"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal_error"


TITLES: dict[str, str] = {
    ApiCode.UNAUTHORIZED: "Unauthorized",
    ApiCode.FORBIDDEN: "Forbidden",
    ApiCode.NOT_FOUND: "Not found",
    ApiCode.METHOD_NOT_ALLOWED: "Method not allowed",
    ApiCode.UNSUPPORTED_MEDIA_TYPE: "Unsupported media type",
    ApiCode.VALIDATION_FAILED: "Request validation failed",
    ApiCode.ARCHIVED: "Rendition archived",
    ApiCode.IDEMPOTENCY_CONFLICT: "Idempotency key reused",
    ApiCode.INVALID_SIGNATURE: "Invalid signature",
    ApiCode.DUPLICATE_API_KEY: "More than one API key",
    ApiCode.UPLOAD_COMPLETED: "Upload completed",
    ApiCode.REQUEST_TIMEOUT: "Request timeout",
    ApiCode.UNAVAILABLE: "Service unavailable",
    ApiCode.INTERNAL: "Internal error",
}

# Titles of every code a problem may carry: the pipeline's refusals and the API's own.
ALL_TITLES: dict[str, str] = {str(code): title for code, title in PIPELINE_TITLES.items()} | TITLES


class Problem(BaseModel):
    """An RFC 9457 problem document. Extension members depend on the code (errors, restore...)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:imgpipe:problem:unsupported_format",
                    "title": "Unsupported image format",
                    "status": 415,
                    "detail": "the bytes are SVG, which is not an accepted image format",
                    "code": "unsupported_format",
                    "instance": "/v1/images",
                    "request_id": "6f1c0c1e9d7a4c7e8f0b2a51c3d4e5f6",
                }
            ]
        },
    )

    type: str = Field(description="URI naming the kind of problem: urn:imgpipe:problem:{code}.")
    title: str = Field(description="Short, human-readable summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request.")
    code: str = Field(description="Stable machine code (see core/errors.py and ApiCode).")
    instance: str | None = Field(
        default=None, description=f"The request path (its first {INSTANCE_CHARS} characters)."
    )
    request_id: str | None = Field(default=None, description="Echo of X-Request-Id.")


class ApiError(Exception):
    """A refusal raised by a route; turned into a problem response by the app's handlers.
    `kept` False: an Idempotency-Key does not replay it, as a retry may be answered otherwise."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        kept: bool = True,
        **extensions: Any,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or ALL_TITLES.get(code) or code.replace("_", " ").capitalize()
        self.headers = headers or {}
        self.kept = kept
        self.extensions = extensions


def problem_response(request: Request, error: ApiError) -> JSONResponse:
    """The response for one refusal: the problem document, its status and its headers."""
    body: dict[str, Any] = {
        "type": f"urn:imgpipe:problem:{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        "instance": request.url.path[:INSTANCE_CHARS],
        "request_id": request.scope.get("state", {}).get("request_id"),
        **error.extensions,
    }
    return JSONResponse(
        body, status_code=error.status, headers=error.headers, media_type=PROBLEM_MEDIA_TYPE
    )


def as_api_error(exc: Exception) -> ApiError:
    """The refusal an exception stands for; anything unexpected is a problem 500."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, PermanentError):
        return ApiError(exc.http_status, exc.code, exc.detail, title=exc.title)
    if isinstance(exc, TransientError):
        seconds = max(1, math.ceil(exc.retry_after))
        return ApiError(
            503,
            ApiCode.UNAVAILABLE,
            f"{unavailable(exc)} unavailable, retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
            retry_after=seconds,
        )
    if isinstance(exc, UploadNotReceived):
        return ApiError(
            404,
            ErrorCode.SOURCE_NOT_FOUND,
            f"nothing has been sent for upload {exc.upload_id} yet: send the image to its URL, "
            "then complete it again",
            kept=False,
        )
    if isinstance(exc, UploadClosed):
        return ApiError(
            409,
            ApiCode.UPLOAD_COMPLETED,
            f"upload {exc.upload_id} is completed and takes no new object; start a new upload",
        )
    if isinstance(exc, Forbidden):
        return ApiError(403, ApiCode.FORBIDDEN, exc.detail)
    if isinstance(exc, NotFound):
        return ApiError(404, ApiCode.NOT_FOUND, f"{exc.what} does not exist")
    if isinstance(exc, Archived):
        return ApiError(
            409,
            ApiCode.ARCHIVED,
            f"{exc.key} is archived ({exc.state.storage_class}); request a restore first",
            restore=restore_state(exc),
        )
    if isinstance(exc, RequestValidationError):
        errors = [
            {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error["type"]}
            for error in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return ApiError(422, ApiCode.VALIDATION_FAILED, where or "invalid request", errors=errors)
    if isinstance(exc, StarletteHTTPException):
        code = {
            # FastAPI's only 400 of its own: a JSON body that is not even UTF-8 text.
            400: ErrorCode.INVALID_REQUEST,
            404: ApiCode.NOT_FOUND,
            405: ApiCode.METHOD_NOT_ALLOWED,
            401: ApiCode.UNAUTHORIZED,
            413: ErrorCode.TOO_LARGE,
            415: ApiCode.UNSUPPORTED_MEDIA_TYPE,
        }.get(exc.status_code, f"http_{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = "no route matches this path"
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "the body cannot be parsed: send JSON encoded as UTF-8"
        return ApiError(exc.status_code, code, detail, headers=dict(exc.headers or {}))
    return ApiError(500, ApiCode.INTERNAL, "an unexpected error occurred; quote the request id")


def unavailable(exc: TransientError) -> str:
    """What a client is told is unavailable ("storage", "warehouse"): never the detail, which
    names paths and driver errors. Errors raised without a name get that of the repository
    module that raised them."""
    if exc.dependency:
        return exc.dependency
    raised_in = ""
    frame = exc.__traceback__
    while frame is not None:
        module = str(frame.tb_frame.f_globals.get("__name__", ""))
        if module.startswith("core.repository"):
            raised_in = module
        frame = frame.tb_next
    if "warehouse" in raised_in:
        return "warehouse"
    return "storage" if raised_in else "a dependency"


def restore_state(exc: Archived) -> dict[str, Any]:
    state = exc.state
    return {
        "storage_class": state.storage_class,
        "ongoing": state.ongoing,
        "expiry": state.expiry,
    }


async def handle_exception(request: Request, exc: Exception) -> JSONResponse:
    """The one exception handler the app registers for every kind of refusal. What made a
    dependency unavailable goes to the log, with the request id, not to the client."""
    if isinstance(exc, TransientError):
        log.warning(
            "%s unavailable: %s",
            unavailable(exc),
            exc.detail,
            extra={"request_id": request.scope.get("state", {}).get("request_id")},
        )
    return problem_response(request, as_api_error(exc))


HANDLED: tuple[type[Exception], ...] = (
    ApiError,
    PermanentError,
    TransientError,
    NotFound,
    Archived,
    Forbidden,
    UploadNotReceived,
    UploadClosed,
    RequestValidationError,
    StarletteHTTPException,
)


@dataclass(frozen=True, slots=True)
class ProblemDoc:
    """How the OpenAPI document describes one error status: when it happens, an example
    problem a client would receive, and the headers that come with it."""

    description: str
    code: str
    title: str
    detail: str
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)

    def example(self, status: int) -> dict[str, Any]:
        return {
            "type": f"urn:imgpipe:problem:{self.code}",
            "title": self.title,
            "status": status,
            "detail": self.detail,
            "code": self.code,
            "instance": "/v1/images",
            "request_id": "6f1c0c1e9d7a4c7e8f0b2a51c3d4e5f6",
            **self.extensions,
        }


PROBLEM_DOCS: dict[int, ProblemDoc] = {
    400: ProblemDoc(
        "Malformed request (e.g. a multipart body without a `file` part, a foreign cursor)",
        ErrorCode.INVALID_REQUEST,
        "Invalid request",
        "the multipart body has no part named `file` (parts found: `image`)",
    ),
    401: ProblemDoc(
        "Missing or wrong X-API-Key, or more than one (`duplicate_api_key`)",
        ApiCode.UNAUTHORIZED,
        "Unauthorized",
        "send your API key in the X-API-Key header",
        headers={
            "WWW-Authenticate": {
                "description": "The scheme to authenticate with: the X-API-Key header.",
                "schema": {"type": "string"},
            }
        },
    ),
    403: ProblemDoc(
        "The key may not read that customer's numbers",
        ApiCode.FORBIDDEN,
        "Forbidden",
        "this key sees only the statistics of customer 'acme'",
    ),
    404: ProblemDoc(
        "No such resource for this customer (or, completing an upload, no image sent yet: "
        "`source_not_found`, which a retry after sending it does not replay)",
        ApiCode.NOT_FOUND,
        "Not found",
        "image 3f1e5a52-8a0c-5b8e-9d27-52c1f6d1a0b4 does not exist",
    ),
    408: ProblemDoc(
        "The body stopped arriving: no bytes for longer than the read timeout",
        ApiCode.REQUEST_TIMEOUT,
        "Request timeout",
        "no part of the request body arrived for 30 s",
    ),
    409: ProblemDoc(
        "Conflict: archived rendition, or Idempotency-Key reused with another body",
        ApiCode.IDEMPOTENCY_CONFLICT,
        "Idempotency key reused",
        "this Idempotency-Key was used with another request; use a new key for a new request",
    ),
    413: ProblemDoc(
        "Body larger than the limit (refused while reading)",
        ErrorCode.TOO_LARGE,
        "Request too large",
        "the request body is over the limit of 26279936 bytes; for large images use "
        "POST /v1/uploads",
        extensions={"max_bytes": 26279936},
    ),
    415: ProblemDoc(
        "Not an accepted image format or media type",
        ErrorCode.UNSUPPORTED_FORMAT,
        "Unsupported image format",
        "the bytes are SVG, which is not an accepted image format",
    ),
    422: ProblemDoc(
        "Undecodable image, decompression bomb, or invalid parameters",
        ApiCode.VALIDATION_FAILED,
        "Request validation failed",
        "query.limit: Input should be a valid integer, unable to parse string as an integer",
        extensions={
            "errors": [
                {
                    "loc": ["query", "limit"],
                    "msg": "Input should be a valid integer",
                    "type": "int_parsing",
                }
            ]
        },
    ),
    503: ProblemDoc(
        "A dependency is unavailable; retry after Retry-After seconds",
        ApiCode.UNAVAILABLE,
        "Service unavailable",
        "warehouse unavailable, retry in 5 s",
        headers={
            "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
        extensions={"retry_after": 5},
    ),
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each a Problem (moved to problem+json)
    with an example and the headers that come with it."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        doc = PROBLEM_DOCS[status]
        response: dict[str, Any] = {
            "model": Problem,
            "description": doc.description,
            "content": {"application/json": {"example": doc.example(status)}},
        }
        if doc.headers:
            response["headers"] = doc.headers
        responses[status] = response
    return responses


def move_problems_to_problem_json(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents every response model as application/json; errors are problem+json."""
    ref = "#/components/schemas/Problem"
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                json_body = content.get("application/json")
                if (
                    status[0] in "45"
                    and json_body
                    and json_body.get("schema", {}).get("$ref") == ref
                ):
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return schema
