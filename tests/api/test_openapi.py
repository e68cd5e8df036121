"""The OpenAPI document integrators read, and schemathesis against the running server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from schemathesis import checks
from schemathesis.core.failures import FailureGroup

from tests.harness.app import KEYS

METHODS = {"get", "post", "put", "delete", "patch"}


def operations(schema: dict) -> Iterator[tuple[str, str, dict]]:  # type: ignore[type-arg]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_the_document_describes_the_api_for_integrators(embedded_client: TestClient) -> None:
    schema = embedded_client.get("/openapi.json").json()
    info = schema["info"]
    assert info["title"] == "imgpipe upload API"
    assert info["version"]
    assert "POST /v1/uploads" in info["description"] and "multipart" in info["description"]
    assert {tag["name"] for tag in schema["tags"]} == {"images", "uploads", "stats", "health"}
    used = {tag for _, _, operation in operations(schema) for tag in operation["tags"]}
    assert used <= {tag["name"] for tag in schema["tags"]}  # every tag used is described
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "Your API key. The server keeps only its SHA-256 digest.",
    }
    paths = {path for path, _, _ in operations(schema)}
    assert {
        "/v1/images",
        "/v1/images/{image_id}",
        "/v1/images/{image_id}/renditions/{name}",
        "/v1/images/{image_id}/restore",
        "/v1/uploads",
        "/v1/uploads/{upload_id}/complete",
        "/healthz",
        "/readyz",
    } <= paths
    assert not any(path.startswith("/local-objects") for path in paths)


def test_every_route_has_a_summary_an_example_and_documented_problems(
    embedded_client: TestClient,
) -> None:
    schema = embedded_client.get("/openapi.json").json()
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("tags"), where
        success = [r for s, r in operation["responses"].items() if s.startswith("2")]
        has_example = any(
            "example" in media or "examples" in media
            for response in success
            for media in response.get("content", {}).values()
        )
        assert has_example or path.endswith("/renditions/{name}"), where
        for status, response in operation["responses"].items():
            if status[0] in "45":
                content = response["content"]
                assert list(content) == ["application/problem+json"], (where, status)
                ref = content["application/problem+json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Problem", (where, status)
        if path.startswith("/v1"):
            assert "401" in operation["responses"], where
    post = schema["paths"]["/v1/images"]["post"]
    body = post["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["required"] == ["file"]
    assert "image/jpeg" in body
    assert {"200", "201", "413", "415", "422"} <= set(post["responses"])
    assert schema["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
        "code",
    ]


def test_the_document_is_valid_openapi(embedded_client: TestClient) -> None:
    schema = embedded_client.get("/openapi.json").json()
    validate(schema)
    undescribed = [
        name
        for name, model in schema["components"]["schemas"].items()
        if not model.get("description")
    ]
    assert undescribed == []  # every body an integrator meets says what it is


def test_operation_ids_are_the_route_names_and_links_lead_to_them(
    embedded_client: TestClient,
) -> None:
    schema = embedded_client.get("/openapi.json").json()
    ids = {operation["operationId"] for _, _, operation in operations(schema)}
    assert {"post_image", "list_images", "get_image", "get_rendition", "restore_image"} <= ids
    assert {"create_upload", "complete_upload", "get_stats", "healthz", "readyz"} <= ids
    posted = schema["paths"]["/v1/images"]["post"]["responses"]
    for status in ("200", "201"):
        link = posted[status]["links"]["GetImage"]
        assert link == {
            "operationId": "get_image",
            "parameters": {"image_id": "$response.body#/id"},
            "description": link["description"],
        }
    started = schema["paths"]["/v1/uploads"]["post"]["responses"]["201"]
    assert started["links"]["CompleteUpload"]["operationId"] == "complete_upload"
    for _, _, operation in operations(schema):
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                assert link["operationId"] in ids


def test_every_problem_response_has_an_example_and_its_headers(
    embedded_client: TestClient,
) -> None:
    schema = embedded_client.get("/openapi.json").json()
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            where = (method.upper(), path, status)
            assert "X-Request-Id" in response["headers"], where
            assert response["description"] != "Successful Response", where
            if status[0] not in "45":
                continue
            example = response["content"]["application/problem+json"]["example"]
            assert example["status"] == int(status), where
            assert example["type"] == f"urn:imgpipe:problem:{example['code']}", where
            if status == "503":
                assert "Retry-After" in response["headers"], where
            if status == "401":
                assert "WWW-Authenticate" in response["headers"], where


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
# Bounded for CI, yet enough that each operation meets odd strings, numbers, headers and bodies
# in both modes: about 700 requests, some seconds on a small machine.
EXAMPLES = 40
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: a failure here is reproducible
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
AUTH = {"X-API-Key": KEYS["acme"]}


def exercise(operation, mode, calls: Counter[str], label: str) -> None:  # type: ignore[no-untyped-def]
    """Calls one operation with SETTINGS' share of generated cases, checking each answer."""

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @SETTINGS
    def call(case) -> None:  # type: ignore[no-untyped-def]
        calls[label] += 1
        case.call_and_validate(headers=AUTH, checks=CHECKS, timeout=30)

    call()


@pytest.mark.slow
def test_no_input_makes_a_5xx_and_every_answer_matches_its_schema(embedded_server: str) -> None:
    """schemathesis on every operation of /openapi.json, with requests that follow the schema
    and requests that break it, a bounded number of each."""
    api = schemathesis.openapi.from_url(f"{embedded_server}/openapi.json")
    failures: dict[str, str] = {}
    calls: Counter[str] = Counter()
    for result in api.get_all_operations():
        operation = result.ok()
        for mode in MODES:
            label = f"{operation.label} ({mode.value})"
            try:
                exercise(operation, mode, calls, label)
            except hypothesis.errors.Unsatisfiable:
                continue  # nothing to break: an operation without parameters or body
            except (Exception, FailureGroup) as failure:
                failures[label] = str(failure)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    exercised = {label.split(" (")[0] for label in calls}
    assert len(exercised) >= 10, exercised
    many = [label for label, count in calls.items() if count >= EXAMPLES]
    assert len(many) >= 14, calls  # all but the parameterless probes ran their full share


@pytest.mark.slow
def test_calls_chained_by_the_links_make_no_5xx(embedded_server: str) -> None:
    """schemathesis follows the document's links (upload -> get -> rendition -> restore,
    start -> complete), so the operations on an id also meet ids that exist."""
    # Without DELETE: an erasure changes which ids exist between hypothesis' runs of the
    # same case, which it takes for a strategy depending on outside state. The stateless test
    # above calls DELETE; tests/api/test_erasure.py follows an id through it.
    api = schemathesis.openapi.from_url(f"{embedded_server}/openapi.json").exclude(method="DELETE")
    statuses: Counter[tuple[str, int]] = Counter()

    class Chained(api.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):  # type: ignore[no-untyped-def]
            return {"headers": AUTH, "timeout": 30}

        def after_call(self, response, case) -> None:  # type: ignore[no-untyped-def]
            statuses[(case.operation.label, response.status_code)] += 1

        def validate_response(self, response, case, **kwargs) -> None:  # type: ignore[no-untyped-def]
            case.validate_response(response, checks=CHECKS)

    Chained.run(settings=hypothesis.settings(SETTINGS, stateful_step_count=5))
    assert statuses[("GET /v1/images/{image_id}", 200)] >= 1, statuses  # a link was followed
    assert not [key for key in statuses if key[1] >= 500], statuses
