"""The upload API's FastAPI app: one factory, the same app under uvicorn and on Lambda."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from importlib import metadata
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from core.bootstrap import Context, build_context, default_context
from core.config import Settings
from core.health import LagProbe
from core.telemetry.logs import configure as configure_logging
from services.upload_api.auth import Authenticator
from services.upload_api.docs import install_docs
from services.upload_api.limits import BodyLimitMiddleware
from services.upload_api.problems import HANDLED, handle_exception, move_problems_to_problem_json
from services.upload_api.protocol import HeadAsGetMiddleware, SecurityHeadersMiddleware
from services.upload_api.request_log import (
    RequestLogMiddleware,
    document_request_id,
)
from services.upload_api.routes import (
    dashboard,
    health,
    images,
    local_objects,
    stats,
    uploads,
)
from services.upload_api.routes import metrics as metrics_route

# One line per resource; a new resource is a module under routes/ and a line here.
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    images.router,
    uploads.router,
    stats.router,
    dashboard.router,
)

TITLE = "imgpipe upload API"

DESCRIPTION = """
Send images; get back their metadata and renditions (`display`, `thumb`, ...), stored in object
storage and recorded for statistics.

**Two ways to send an image**

1. **In the request**: `POST /v1/images` with a multipart form whose part `file` is the image,
   or the image itself as the body with an `image/*` Content-Type. Good up to ~6 MB on AWS
   (the Lambda payload limit; API Gateway's is 10 MB).
2. **Straight to storage**, for anything larger (up to the size limit, 25 MiB by default):
   `POST /v1/uploads` answers a presigned URL valid for at most 15 minutes; send the image
   there, then `POST /v1/uploads/{upload_id}/complete`, which answers like `POST /v1/images`.

The format is read from the bytes, never from names or declared types. The same bytes from the
same customer are the same image (same id): sending them again answers 200 with
`duplicate: true`.

**Authentication**: an `X-API-Key` header (or, behind API Gateway, its authoriser).
**Retries**: send an `Idempotency-Key` header on POSTs; repeating the request with it returns
the first answer. **Errors** are `application/problem+json` with a stable `code`; 503 comes with
`Retry-After`. Every response carries an `X-Request-Id`.

Renditions move to S3 Glacier Deep Archive after 7 days: reading one then needs
`POST /v1/images/{image_id}/restore` and some hours.
"""

TAGS: list[dict[str, Any]] = [
    {"name": "images", "description": "Upload images and read them back."},
    {"name": "uploads", "description": "Direct uploads to storage for large images."},
    {"name": "stats", "description": "Key statistics: volume, bytes, latency, rejections."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


def operation_id(route: APIRoute) -> str:
    """The route function's name (`list_images`, not `list_images_v1_images_get`): client
    generators make method names of operation ids, and links refer to them."""
    return route.name


def _version() -> str:
    try:
        return metadata.version("imgpipe")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


def create_app(
    settings: Settings | None = None,
    ctx: Context | None = None,
    *,
    background_loader: bool = False,
    serve_metrics: bool = False,
) -> FastAPI:
    """The app on `ctx` (or a Context built from `settings`, or the process's default one).
    Everything costly is built here, once, not in a lifespan that Mangum would rerun. With
    `background_loader` (a server of its own, not a Lambda), the app also loads the fact log
    into the warehouse every IMGPIPE_LOAD_INTERVAL_SECONDS while it runs; with
    `serve_metrics`, it answers GET /metrics (Prometheus text) to operators."""
    if ctx is None:
        ctx = build_context(settings) if settings is not None else default_context()
    configure_logging(ctx.settings.log_level)
    app = FastAPI(
        title=TITLE,
        version=_version(),
        description=DESCRIPTION,
        openapi_tags=TAGS,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        lifespan=_loading(ctx) if background_loader else None,
    )
    app.state.ctx = ctx
    app.state.lag_probe = LagProbe()
    app.state.auth = Authenticator.from_settings(ctx.settings)
    for kind in HANDLED:
        app.add_exception_handler(kind, handle_exception)
    for router in ROUTERS:
        app.include_router(router)
    if ctx.objects.urls_served_by_app:
        app.include_router(local_objects.router)
    if serve_metrics:
        app.include_router(metrics_route.router)
    install_docs(app)
    # Added inside out: the last one added sees the request first.
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=ctx.settings.request_limit,
        read_timeout=ctx.settings.read_timeout_seconds,
    )
    app.add_middleware(RequestLogMiddleware)  # sees every request and every error as sent
    app.add_middleware(SecurityHeadersMiddleware)  # cannot fail; covers the log's last-resort 500
    if ctx.settings.cors_origins:  # outermost: a preflight is answered before auth or limits
        app.add_middleware(
            CORSMiddleware,
            allow_origins=ctx.settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST"],
            allow_headers=["X-API-Key", "Content-Type", "Idempotency-Key", "X-Request-Id"],
            expose_headers=["X-Request-Id", "Retry-After", "Location", "ETag"],
            max_age=600,
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            app.openapi_schema = document_request_id(move_problems_to_problem_json(schema))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_served_app() -> FastAPI:
    """What `imgpipe serve` runs: the app with its background loader and GET /metrics."""
    return create_app(background_loader=True, serve_metrics=True)


def _loading(ctx: Context) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from core.events.runner import start_publisher
        from core.loader import LoaderThread
        from services.stream_worker.kafka_config import client_config as kafka_client_config

        interval = ctx.settings.load_interval_seconds
        loader = LoaderThread(ctx, interval).start() if interval > 0 else None
        publisher = start_publisher(ctx, kafka_client_config)
        try:
            yield
        finally:
            if loader is not None:
                loader.stop()  # one last load: what was just accepted reaches the warehouse
            if publisher is not None:
                publisher.stop()  # one last run: what was just accepted is announced

    return lifespan
