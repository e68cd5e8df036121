"""The Lambda handler on real-shaped API Gateway events: HTTP API (2.0) and REST API (v1)."""

from __future__ import annotations

import base64
import importlib
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import httpx
import pytest
from PIL import Image

import core.bootstrap
from core.config import get_settings
from tests.harness.app import KEYS, key_pairs
from tests.images import jpeg_photo

ROOT = Path(__file__).resolve().parents[2]
HOST = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
CONTEXT = SimpleNamespace(
    function_name="imgpipe-upload",
    aws_request_id="8f5a2e1c-0d6b-4d3e-9b7a-2c1f0e9d8c7b",
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:imgpipe-upload",
)


def multipart(data: bytes, filename: str = "photo.jpg") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def http_api_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    query: str = "",
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API event, payload format 2.0, as the $default stage sends it."""
    all_headers = {
        "accept": "*/*",
        "host": HOST,
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-6745a0f1-4c2b8a1d3e5f60718293a4b5",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **{k.lower(): v for k, v in (headers or {}).items()},
    }
    if body is not None:
        all_headers["content-length"] = str(len(body))
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "a1b2c3d4e5",
        "domainName": HOST,
        "domainPrefix": "a1b2c3d4e5",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7",
            "userAgent": "curl/8.5.0",
        },
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": "$default",
        "stage": "$default",
        "time": "26/Nov/2026:09:30:00 +0000",
        "timeEpoch": 1795685400000,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all_headers,
        "requestContext": context,
        "isBase64Encoded": body is not None,
    }
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
    return event


def raw_jpeg_post(width: int, height: int, path: str = "/v1/images") -> dict[str, Any]:
    """An HTTP API event posting a JPEG photo as the raw body, with acme's key."""
    return http_api_event(
        "POST",
        path,
        headers={"content-type": "image/jpeg", "x-api-key": KEYS["acme"]},
        body=jpeg_photo(width, height),
    )


def rest_api_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST API (v1) proxy event on a `{proxy+}` resource of stage `prod`."""
    all_headers = {
        "Accept": "*/*",
        "Host": HOST,
        "User-Agent": "curl/8.5.0",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "a1b2c3d4e5",
        "domainName": HOST,
        "extendedRequestId": "BXh9aFb1joEFYxg=",
        "httpMethod": method,
        "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
        "path": f"/prod{path}",
        "protocol": "HTTP/1.1",
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "requestTime": "26/Nov/2026:09:30:00 +0000",
        "requestTimeEpoch": 1795685400000,
        "resourceId": "x1y2z3",
        "resourcePath": "/{proxy+}",
        "stage": "prod",
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": context,
        "body": base64.b64encode(body).decode() if body is not None else None,
        "isBase64Encoded": body is not None,
    }


def _forget_process_state() -> None:
    sys.modules.pop("services.upload_api.lambda_handler", None)
    sys.modules.pop("services.loader.lambda_handler", None)
    get_settings.cache_clear()
    core.bootstrap._default = None


@pytest.fixture
def load_handler(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Callable[..., ModuleType]]:
    """Import the handler module afresh, as a new Lambda container would, on this env."""

    def load(**env: str) -> ModuleType:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "imgpipe-upload")
        monkeypatch.setenv("IMGPIPE_DATABASE_URL", f"sqlite:///{tmp_path}/warehouse.db")
        monkeypatch.setenv("IMGPIPE_STORAGE_URL", f"file://{tmp_path}/objects")
        monkeypatch.setenv("IMGPIPE_API_KEYS", ",".join(key_pairs()))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        _forget_process_state()
        return importlib.import_module("services.upload_api.lambda_handler")

    yield load
    _forget_process_state()


@pytest.fixture
def s3_env(make_settings: Callable[..., Any], postgres_url: str) -> dict[str, str]:
    """Environment of a container on PostgreSQL (migrated) and moto S3."""
    from core.repository.migrations import upgrade

    upgrade(postgres_url)
    settings = make_settings()
    return {
        "IMGPIPE_DATABASE_URL": postgres_url,
        "IMGPIPE_STORAGE_URL": settings.storage_url,
        "IMGPIPE_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
        "IMGPIPE_AWS_REGION": settings.aws_region or "us-east-1",
    }


def body_of(response: dict[str, Any]) -> bytes:
    if response.get("isBase64Encoded"):
        return base64.b64decode(response["body"])
    return str(response.get("body", "")).encode()


def test_http_api_multipart_upload_then_rendition_redirect(
    load_handler: Callable[..., ModuleType], s3_env: dict[str, str]
) -> None:
    module = load_handler(**s3_env)
    body, content_type = multipart(jpeg_photo(1200, 900))
    event = http_api_event(
        "POST",
        "/v1/images",
        headers={"content-type": content_type, "x-api-key": KEYS["acme"]},
        body=body,
    )
    response = module.handler(event, CONTEXT)
    assert response["statusCode"] == 201, response
    assert response["headers"]["content-type"] == "application/json"
    assert response["isBase64Encoded"] is False
    assert response["headers"]["x-request-id"] == "JKJaXmPLvHcESHA="
    image = json.loads(response["body"])
    assert image["renditions"][0]["url"].startswith(f"https://{HOST}/v1/images/")

    get = http_api_event(
        "GET",
        f"/v1/images/{image['id']}/renditions/thumb",
        headers={"x-api-key": KEYS["acme"]},
    )
    redirect = module.handler(get, CONTEXT)
    assert redirect["statusCode"] == 307
    thumb = httpx.get(redirect["headers"]["location"])
    assert thumb.status_code == 200
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 256


def test_rest_api_multipart_upload_with_an_authoriser_context(
    load_handler: Callable[..., ModuleType], s3_env: dict[str, str]
) -> None:
    module = load_handler(IMGPIPE_AUTH="gateway", IMGPIPE_API_KEYS="", **s3_env)
    body, content_type = multipart(jpeg_photo(800, 600))
    event = rest_api_event(
        "POST",
        "/v1/images",
        headers={"Content-Type": content_type},
        body=body,
        authorizer={"customer_id": "globex", "principalId": "user-42", "integrationLatency": 12},
    )
    response = module.handler(event, CONTEXT)
    assert response["statusCode"] == 201, response
    image = json.loads(response["body"])
    # Links lead back through the stage the client called.
    assert response["headers"]["location"] == f"https://{HOST}/prod/v1/images/{image['id']}"
    assert image["renditions"][0]["url"].startswith(f"https://{HOST}/prod/v1/images/")

    # The scheduled loader's next run (its own function on AWS; here the same container's
    # settings) puts the upload's facts in the warehouse, which the listing reads.
    loader = importlib.import_module("services.loader.lambda_handler")
    assert loader.handler({}, CONTEXT) == {
        "loads": 1,
        "files": 1,
        "rows": 4,
        "rejected": 0,
        "pending": 0,
        "lag_seconds": 0.0,
    }
    listing = rest_api_event("GET", "/v1/images", authorizer={"customer_id": "globex"})
    listed = json.loads(module.handler(listing, CONTEXT)["body"])
    assert [item["id"] for item in listed["items"]] == [image["id"]]
    other = rest_api_event("GET", f"/v1/images/{image['id']}", authorizer={"principalId": "x"})
    assert module.handler(other, CONTEXT)["statusCode"] == 404
    anonymous = rest_api_event("GET", "/v1/images")
    refused = module.handler(anonymous, CONTEXT)
    assert refused["statusCode"] == 401
    assert refused["headers"]["content-type"] == "application/problem+json"
    assert refused["isBase64Encoded"] is False
    assert json.loads(refused["body"])["code"] == "unauthorized"


def test_http_api_jwt_authoriser_names_the_customer(
    load_handler: Callable[..., ModuleType],
) -> None:
    module = load_handler(IMGPIPE_AUTH="gateway", IMGPIPE_API_KEYS="")
    event = http_api_event(
        "POST",
        "/v1/images",
        headers={"content-type": "image/jpeg"},
        body=jpeg_photo(300, 200),
        authorizer={"jwt": {"claims": {"sub": "initech"}, "scopes": ["images/write"]}},
    )
    response = module.handler(event, CONTEXT)
    assert response["statusCode"] == 201
    manifest_id = json.loads(response["body"])["id"]
    mine = http_api_event(
        "GET",
        f"/v1/images/{manifest_id}",
        authorizer={"lambda": {"customer_id": "initech"}},
    )
    assert module.handler(mine, CONTEXT)["statusCode"] == 200


def test_rendition_bytes_from_the_folder_store_come_back_base64_and_head_without_them(
    load_handler: Callable[..., ModuleType],
) -> None:
    module = load_handler()
    image = json.loads(module.handler(raw_jpeg_post(640, 480), CONTEXT)["body"])
    get = http_api_event(
        "GET",
        f"/v1/images/{image['id']}/renditions/thumb",
        headers={"x-api-key": KEYS["acme"]},
    )
    response = module.handler(get, CONTEXT)
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    assert response["headers"]["content-type"] == "image/jpeg"
    assert response["headers"]["etag"].startswith('"')
    picture = Image.open(io.BytesIO(base64.b64decode(response["body"])))
    assert picture.format == "JPEG"
    assert response["headers"]["strict-transport-security"].startswith("max-age=")  # https
    head = module.handler(
        http_api_event("HEAD", get["rawPath"], headers={"x-api-key": KEYS["acme"]}), CONTEXT
    )
    assert head["statusCode"] == 200
    assert body_of(head) == b""
    assert head["headers"]["etag"] == response["headers"]["etag"]
    assert head["headers"]["content-length"] == str(len(body_of(response)))


def test_bad_input_through_lambda_is_a_problem_in_text(
    load_handler: Callable[..., ModuleType],
) -> None:
    module = load_handler()
    event = http_api_event(
        "POST",
        "/v1/images",
        headers={"content-type": "image/svg+xml", "x-api-key": KEYS["acme"]},
        body=b'<svg xmlns="http://www.w3.org/2000/svg"/>',
    )
    response = module.handler(event, CONTEXT)
    assert response["statusCode"] == 415
    assert response["isBase64Encoded"] is False
    assert json.loads(response["body"])["code"] == "unsupported_format"


def test_the_app_is_built_once_per_container_not_per_invocation(
    load_handler: Callable[..., ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_handler()
    import services.upload_api.app as app_module

    def no_rebuild(*args: object, **kwargs: object) -> None:
        raise AssertionError("create_app called during an invocation")

    monkeypatch.setattr(app_module, "create_app", no_rebuild)
    monkeypatch.setattr(core.bootstrap, "build_context", no_rebuild)
    ctx = module.app.state.ctx
    for _ in range(3):
        response = module.handler(http_api_event("GET", "/readyz"), CONTEXT)
        assert response["statusCode"] == 200
    assert module.app.state.ctx is ctx


def test_without_keys_on_lambda_the_container_refuses_to_start(
    load_handler: Callable[..., ModuleType],
) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError):
        load_handler(IMGPIPE_API_KEYS="")


def test_the_handler_module_never_imports_the_kafka_client(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AWS_LAMBDA_FUNCTION_NAME": "imgpipe-upload",
        "IMGPIPE_DATABASE_URL": f"sqlite:///{tmp_path}/w.db",
        "IMGPIPE_STORAGE_URL": f"file://{tmp_path}/objects",
        "IMGPIPE_API_KEYS": ",".join(key_pairs()),
    }
    script = (
        "import sys, json\n"
        "from services.upload_api.lambda_handler import handler\n"
        "from tests.api.test_lambda import http_api_event, CONTEXT\n"
        "response = handler(http_api_event('GET', '/readyz'), CONTEXT)\n"
        "print(json.dumps({'status': response['statusCode'],"
        " 'kafka': sorted(m for m in sys.modules if m.startswith('confluent_kafka'))}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"status": 200, "kafka": []}


@pytest.mark.parametrize(
    ("context", "prefix"),
    [
        ({"stage": "$default", "http": {"path": "/v1/images"}}, ""),  # HTTP API, default stage
        ({"stage": "prod", "http": {"path": "/prod/v1/images"}}, "/prod"),  # HTTP API, named
        ({"stage": "prod", "path": "/prod/v1/images"}, "/prod"),  # REST API, execute-api host
        ({"stage": "prod", "path": "/v1/images"}, ""),  # REST API behind a custom domain
        ({}, ""),
    ],
)
def test_links_keep_the_stage_only_when_the_client_url_has_it(
    context: dict[str, Any], prefix: str
) -> None:
    from services.upload_api.gateway import stage_prefix

    assert stage_prefix({"requestContext": context}) == prefix


def test_http_api_named_stage_routes_and_links_through_it(
    load_handler: Callable[..., ModuleType],
) -> None:
    module = load_handler()
    event = raw_jpeg_post(320, 240, path="/prod/v1/images")
    event["requestContext"]["stage"] = "prod"
    response = module.handler(event, CONTEXT)
    assert response["statusCode"] == 201, response
    assert response["headers"]["location"].startswith(f"https://{HOST}/prod/v1/images/")
