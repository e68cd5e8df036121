"""The upload API on AWS Lambda behind API Gateway (HTTP API payload 2.0, or REST API v1).

The app, its database engine and storage client are built once per container, at import, and
reused by every invocation; Mangum's lifespan is off because it would run on each invocation.
Each invocation's metrics leave as EMF documents on stdout when it ends.
"""

from __future__ import annotations

from mangum import Mangum

from services.invocation import instrumented
from services.upload_api.app import create_app
from services.upload_api.gateway import GatewayStage

# Problem documents are text: without this Mangum would base64 them like images.
TEXT_MIME_TYPES = [
    "text/",
    "application/json",
    "application/problem+json",
    "application/javascript",
    "application/vnd.oai.openapi",
]


app = create_app()
handler = instrumented(Mangum(GatewayStage(app), lifespan="off", text_mime_types=TEXT_MIME_TYPES))
