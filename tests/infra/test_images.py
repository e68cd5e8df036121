"""The Dockerfile and its images: stages, handlers, and what each handler really imports."""

from __future__ import annotations

import base64
import importlib.metadata
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bench.coldstart import http_api_event, msk_event, run_child, tiny_jpeg
from infra.check import load_template
from infra.locks import IMAGES, REQUIREMENTS, parse_lock

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_BASE = re.compile(
    r"^public\.ecr\.aws/lambda/python:3\.(1[2-9]|[2-9]\d)(@sha256:[0-9a-f]{64})?$"
)
FORBIDDEN = {
    "upload-api": {"confluent_kafka", "uvicorn"},
    "stream-worker": {"fastapi", "mangum"},
    "loader": {"confluent_kafka", "fastapi", "mangum", "uvicorn"},
}
ENTRY_POINTS = {"upload-api": "upload_api", "stream-worker": "stream_worker", "loader": "loader"}
# Imported when present, done without otherwise: the images need not carry them.
OPTIONAL = {
    "pygments": "mako.exceptions highlights tracebacks with it when it is installed",
    # Off Lambda (as this child runs) metrics go to it when installed; on Lambda they are EMF.
    "prometheus-client": "core.telemetry.metrics keeps counters in it when it is installed",
}


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse_dockerfile() -> tuple[dict[str, str], dict[str, Stage]]:
    """(ARG defaults before the first FROM, stages by name)."""
    text = (ROOT / "Dockerfile").read_text()
    logical = re.sub(r"\\\n\s*", " ", text)
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", rest, re.IGNORECASE)
            assert match, f"every stage is named: {line}"
            current = Stage(match.group(1), match.group(2))
            stages[current.name] = current
        elif current is None:
            assert keyword == "ARG", line
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            current.instructions.append((keyword, rest))
    return args, stages


def dockerfile_handlers() -> dict[str, str]:
    _, stages = parse_dockerfile()
    handlers = {}
    for image in IMAGES:
        (command,) = [rest for keyword, rest in stages[image].instructions if keyword == "CMD"]
        (handler,) = json.loads(command)
        handlers[image] = handler
    return handlers


def template_handlers() -> dict[str, str]:
    template = load_template()
    handlers = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        image = resource["Metadata"]["DockerBuildTarget"]  # the stage `sam build` builds
        (handler,) = props["ImageConfig"]["Command"]
        handlers[image] = handler
    return handlers


def test_final_images_start_from_the_lambda_python_base_image() -> None:
    args, stages = parse_dockerfile()
    assert LAMBDA_BASE.match(args["LAMBDA_BASE"]), args["LAMBDA_BASE"]
    for image in IMAGES:
        assert stages[image].base == "${LAMBDA_BASE}"


def test_final_images_only_copy_files_and_name_their_handler() -> None:
    """No RUN in a final stage: no compiler, package manager or cache can end up in it."""
    _, stages = parse_dockerfile()
    for image in IMAGES:
        keywords = [keyword for keyword, _ in stages[image].instructions]
        assert set(keywords) - {"ENV"} == {"COPY", "CMD"}, image
        for keyword, rest in stages[image].instructions:
            if keyword == "ENV":  # the allocator's settings, nothing of imgpipe's
                assert all(pair.startswith("MALLOC_") for pair in rest.split()), rest
        sources = {
            re.search(r"--from=(\S+)", rest).group(1)  # type: ignore[union-attr]
            for keyword, rest in stages[image].instructions
            if keyword == "COPY"
        }
        assert sources == {f"deps-{image}", f"source-{image}"}


def test_dependencies_install_from_the_hashed_lock_of_their_own_image() -> None:
    _, stages = parse_dockerfile()
    for image in IMAGES:
        deps = stages[f"deps-{image}"]
        copies = [rest for keyword, rest in deps.instructions if keyword == "COPY"]
        assert copies == [f"requirements/{image}.txt /tmp/requirements.txt"]
        (install,) = [rest for keyword, rest in deps.instructions if keyword == "RUN"]
        for flag in ("--require-hashes", "--no-cache-dir", "--only-binary=:all:", "--target"):
            assert flag in install, f"{image}: {flag}"
        assert "-r /tmp/requirements.txt" in install


def test_each_image_leaves_out_the_other_entry_points() -> None:
    _, stages = parse_dockerfile()
    for image, own in ENTRY_POINTS.items():
        others = " ".join(f"services/{p}" for p in ENTRY_POINTS.values() if p != own)
        assert ("RUN", f"rm -rf {others}") in stages[f"source-{image}"].instructions


def test_build_context_holds_only_the_code_and_the_locks() -> None:
    rules = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*"
    assert {rule for rule in rules if rule.startswith("!")} == {
        "!requirements/*.txt",
        "!core/",
        "!services/",
    }


def test_dockerfile_and_template_name_the_same_handlers() -> None:
    assert dockerfile_handlers() == template_handlers()
    assert dockerfile_handlers() == {
        "upload-api": "services.upload_api.lambda_handler.handler",
        "stream-worker": "services.stream_worker.lambda_handler.handler",
        "loader": "services.loader.lambda_handler.handler",
    }


# --- the handlers, each in a fresh interpreter on the embedded defaults ------------------------


def _handlers() -> list[tuple[str, str]]:
    found = {**template_handlers(), **dockerfile_handlers()}
    pairs = {(image, handler) for image, handler in dockerfile_handlers().items()}
    pairs |= {(image, handler) for image, handler in template_handlers().items()}
    assert set(found) == set(IMAGES)
    return sorted(pairs)


def sample_event(image: str) -> dict[str, Any]:
    if image == "upload-api":
        return http_api_event("GET", "/healthz")
    if image == "loader":
        return SCHEDULED_EVENT
    return msk_event([tiny_jpeg(seed=7)], customer="sample")


# What EventBridge Scheduler sends a Lambda target: the handler reads nothing of it.
SCHEDULED_EVENT: dict[str, Any] = {}


@pytest.mark.parametrize(("image", "handler"), _handlers())
def test_image_handler_answers_its_sample_event(image: str, handler: str, tmp_path: Path) -> None:
    run = run_child("handler", handler, sample_event(image), tmp_path)
    if image == "upload-api":
        assert run.answer["statusCode"] == 200
        body = run.answer["body"]
        body = base64.b64decode(body).decode() if run.answer.get("isBase64Encoded") else body
        assert json.loads(body)
    elif image == "loader":
        assert run.answer == {
            "loads": 1,
            "files": 0,
            "rows": 0,
            "rejected": 0,
            "pending": 0,
            "lag_seconds": 0.0,
        }
    else:
        assert run.answer == {"batchItemFailures": []}
        manifests = list((tmp_path / ".imgpipe" / "objects" / "manifests").glob("*.json"))
        assert len(manifests) == 1, "the record's image was stored"


def test_stream_handler_answers_an_event_without_records(tmp_path: Path) -> None:
    run = run_child("handler", dockerfile_handlers()["stream-worker"], msk_event([]), tmp_path)
    assert run.answer == {"batchItemFailures": []}


def _distributions(modules: list[str]) -> set[str]:
    """Third-party distributions that provide the given imported modules."""
    owners = importlib.metadata.packages_distributions()
    tops = {name.split(".")[0] for name in modules}
    found = set()
    for top in tops - set(sys.stdlib_module_names) - {"core", "services", "__main__"}:
        for distribution in owners.get(top, []):
            found.add(re.sub(r"[-_.]+", "-", distribution).lower())
    return found


def first_event(image: str) -> dict[str, Any]:
    """The event that walks the whole path: an image upload, or a one-image record."""
    if image == "upload-api":
        return http_api_event(
            "POST", "/v1/images", tiny_jpeg(seed=11), {"content-type": "image/jpeg"}
        )
    if image == "loader":
        return SCHEDULED_EVENT
    return msk_event([tiny_jpeg(seed=12)], customer="sample")


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_handler_imports_only_what_its_image_installs(image: str, tmp_path: Path) -> None:
    run = run_child("handler", dockerfile_handlers()[image], first_event(image), tmp_path)
    imported = {name.split(".")[0] for name in run.modules}
    assert not imported & FORBIDDEN[image]
    others = [f"services.{p}" for i, p in ENTRY_POINTS.items() if i != image]
    assert not [name for name in run.modules if name.startswith(tuple(others))]
    locked = set(parse_lock((REQUIREMENTS / f"{image}.txt").read_text()))
    missing = _distributions(run.modules) - locked - set(OPTIONAL)
    assert not missing, f"{image} imports packages its lock does not install: {sorted(missing)}"
