"""Lambda cold starts: a fresh interpreter to the answer of each handler's first event, beside
the bare import time of only the libraries that path uses, in one run.

Each measurement is a new Python process (as a new Lambda container would start one), timed
from the parent from spawn to answer, median of repeated runs, contenders interleaved round by
round so that machine noise hits all alike. The child also reports which modules it imported:
the upload path must not import confluent_kafka, the stream path must not import FastAPI.
Target: each cold path <= 1.3x its floor (nothing imported that the path does not use, no
heavy work at import time). The child looks like Lambda (its markers, the X-Ray trace header),
so the Lambda-only path runs: the Powertools Logger, EMF metrics and the Tracer with the X-Ray
SDK, whose subsegments go by UDP to a daemon address nobody listens on. The floor includes
those Powertools modules; a bare floor without them, measured in the same rounds, shows what
Powertools and X-Ray cost. Runs on the embedded defaults (SQLite, a local folder) in a
temporary directory: no AWS call.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import median

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.3
ROUNDS = 7

# What a new process runs: as little as possible besides the thing measured.
CHILD = r"""
import json, sys, time
started = time.perf_counter()
import importlib

class LambdaContext:
    function_name = "imgpipe-coldstart"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:imgpipe-coldstart"
    memory_limit_in_mb = 1769
    aws_request_id = "coldstart"
    log_group_name = "/aws/lambda/imgpipe-coldstart"
    log_stream_name = "coldstart"
    def get_remaining_time_in_millis(self):
        return 29000

mode, target, event_path = sys.argv[1:4]
answer = None
if mode == "floor":
    for name in target.split(","):
        importlib.import_module(name)
    imported = time.perf_counter()
else:
    module_name, _, attribute = target.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    imported = time.perf_counter()
    with open(event_path) as handle:
        event = json.load(handle)
    answer = handler(event, LambdaContext())
answered = time.perf_counter()
print(json.dumps({
    "import_ms": (imported - started) * 1000,
    "invoke_ms": (answered - imported) * 1000,
    "answer": answer,
    "modules": sorted(sys.modules),
}))
"""


@dataclass(frozen=True)
class LambdaPath:
    """One image's handler, the event it answers first, and the libraries it really uses."""

    image: str
    handler: str
    floor: tuple[str, ...]
    forbidden: tuple[str, ...]

    @property
    def powertools_floor(self) -> tuple[str, ...]:
        return (*self.floor, *POWERTOOLS)


# What the Lambda path imports of Powertools and X-Ray: the Logger (logs.configure), the EMF
# provider (metrics.flush), the Tracer and the X-Ray SDK it loads (traces.span).
POWERTOOLS = (
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch",
    "aws_lambda_powertools.tracing",
    "aws_xray_sdk.core",
)

# The floors: the libraries each issue names for its path, plus pydantic-settings, the settings
# class both paths read before anything else.
PATHS = (
    LambdaPath(
        image="upload-api",
        handler="services.upload_api.lambda_handler.handler",
        floor=(
            "fastapi",
            "mangum",
            "PIL.Image",
            "sqlalchemy",
            "sqlalchemy.dialects.sqlite",
            "sqlite3",
            "boto3",
            "pydantic_settings",
        ),
        forbidden=("confluent_kafka", "uvicorn"),
    ),
    LambdaPath(
        image="stream-worker",
        handler="services.stream_worker.lambda_handler.handler",
        floor=(
            "PIL.Image",
            "sqlalchemy",
            "sqlalchemy.dialects.sqlite",
            "sqlite3",
            "boto3",
            "pydantic_settings",
        ),
        forbidden=("fastapi", "starlette", "mangum", "uvicorn"),
    ),
)


@dataclass(frozen=True)
class ChildRun:
    wall_ms: float
    import_ms: float
    invoke_ms: float
    answer: Any
    modules: list[str]


def child_environment(cwd: Path) -> dict[str, str]:
    """A Lambda container's environment, as far as imgpipe and Powertools read it, on the
    embedded defaults: none of the parent's imgpipe settings, AWS keys or X-Ray settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IMGPIPE_", "AWS_", "_X_AMZN", "LAMBDA_", "POWERTOOLS_"))
    }
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": "imgpipe-coldstart",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LAMBDA_TASK_ROOT": str(cwd),  # the X-Ray SDK's test for "on Lambda"
            # A sampled trace, as Lambda sets with Tracing: Active; no daemon listens, and a
            # missing context is logged rather than raised.
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;"
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            # The template sets no POWERTOOLS_* variable (the code names the service itself);
            # an API on Lambda must authenticate: the gateway's authoriser names the customer.
            "IMGPIPE_AUTH": "gateway",
        }
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_child(mode: str, target: str, event: dict[str, Any] | None, cwd: Path) -> ChildRun:
    """A fresh interpreter imports `target` (comma-separated modules for `floor`, a handler
    path for `handler`) and, for a handler, answers `event`."""
    event_path = cwd / "event.json"
    event_path.write_text(json.dumps(event or {}))
    command = [sys.executable, "-c", CHILD, mode, target, str(event_path)]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=child_environment(cwd), capture_output=True, text=True, check=False
    )
    wall_ms = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{mode} {target} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return ChildRun(
        wall_ms, report["import_ms"], report["invoke_ms"], report["answer"], report["modules"]
    )


def tiny_jpeg(seed: int, side: int = 64) -> bytes:
    """A small photo-like JPEG, different for every seed (so no run meets a duplicate)."""
    from PIL import Image

    rng = random.Random(seed)
    image = Image.new("RGB", (side, side), (rng.randrange(256), rng.randrange(256), 128))
    image.putdata(
        [
            (rng.randrange(256), (x * 4) % 256, (y * 4) % 256)
            for y in range(side)
            for x in range(side)
        ]
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def http_api_event(
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, as Lambda receives it."""
    now = time.time()
    request_headers = {
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "imgpipe-coldstart",
        **(headers or {}),
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "ANY /{proxy+}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": request_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": request_headers["host"],
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": request_headers["user-agent"],
            },
            "requestId": f"req-{int(now * 1000)}",
            "routeKey": "ANY /{proxy+}",
            "stage": "$default",
            "authorizer": {"lambda": {"customer_id": "coldstart"}},
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "pathParameters": {"proxy": path.lstrip("/")},
        "isBase64Encoded": body is not None,
    }
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
    return event


def _header(value: str) -> list[int]:
    # MSK events carry header values as signed bytes.
    return [b - 256 if b > 127 else b for b in value.encode()]


def msk_event(
    values: list[bytes], topic: str = "images", customer: str = "coldstart", first_offset: int = 0
) -> dict[str, Any]:
    """An Amazon MSK event with one record per value, all on partition 0."""
    now = int(time.time() * 1000)
    records = [
        {
            "topic": topic,
            "partition": 0,
            "offset": first_offset + index,
            "timestamp": now,
            "timestampType": "CREATE_TIME",
            "key": None,
            "value": base64.b64encode(value).decode(),
            "headers": [
                {"content-type": _header("image/jpeg")},
                {"customer-id": _header(customer)},
            ],
        }
        for index, value in enumerate(values)
    ]
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/images/0a1b2c3d-4e5f",
        "bootstrapServers": "b-1.images.abc.kafka.us-east-1.amazonaws.com:9098",
        "records": {f"{topic}-0": records} if records else {},
    }


def first_event(path: LambdaPath, seed: int) -> dict[str, Any]:
    image = tiny_jpeg(seed)
    if path.image == "upload-api":
        return http_api_event("POST", "/v1/images", image, {"content-type": "image/jpeg"})
    return msk_event([image], first_offset=seed)


def answered(path: LambdaPath, answer: Any) -> bool:
    if path.image == "upload-api":
        return isinstance(answer, dict) and answer.get("statusCode") in (200, 201)
    return isinstance(answer, dict) and answer.get("batchItemFailures") == []


def measure(rounds: int = ROUNDS) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="imgpipe-coldstart-") as tmp:
        folders = {path.image: Path(tmp) / path.image for path in PATHS}
        for folder in folders.values():
            folder.mkdir()
        timings: dict[str, dict[str, list[ChildRun]]] = {
            path.image: {"cold": [], "floor": [], "bare": []} for path in PATHS
        }
        # Round 0 warms the disk cache and creates the embedded database: not counted.
        for round_number in range(rounds + 1):
            for path in PATHS:
                folder = folders[path.image]
                bare = run_child("floor", ",".join(path.floor), None, folder)
                floor = run_child("floor", ",".join(path.powertools_floor), None, folder)
                seed = round_number * len(PATHS) + PATHS.index(path)
                cold = run_child("handler", path.handler, first_event(path, seed), folder)
                if not answered(path, cold.answer):
                    raise RuntimeError(f"{path.image}: unexpected answer {cold.answer!r}")
                if round_number:
                    timings[path.image]["floor"].append(floor)
                    timings[path.image]["bare"].append(bare)
                    timings[path.image]["cold"].append(cold)
    for path in PATHS:
        cold_runs = timings[path.image]["cold"]
        floor_runs = timings[path.image]["floor"]
        cold_ms = median([run.wall_ms for run in cold_runs])
        floor_ms = median([run.wall_ms for run in floor_runs])
        bare_ms = median([run.wall_ms for run in timings[path.image]["bare"]])
        imported = set(cold_runs[-1].modules)
        results[path.image] = {
            "handler": path.handler,
            "first_event": "POST /v1/images (64x64 JPEG)"
            if path.image == "upload-api"
            else "MSK event, one 64x64 JPEG record",
            "cold_ms": round(cold_ms, 1),
            "cold_import_ms": round(median([run.import_ms for run in cold_runs]), 1),
            "cold_invoke_ms": round(median([run.invoke_ms for run in cold_runs]), 1),
            "floor_ms": round(floor_ms, 1),
            "floor_modules": list(path.powertools_floor),
            "bare_floor_ms": round(bare_ms, 1),
            "powertools_xray_import_ms": round(floor_ms - bare_ms, 1),
            "traced": "aws_xray_sdk.core" in imported,
            "ratio": round(cold_ms / floor_ms, 3),
            "forbidden_imported": sorted(name for name in path.forbidden if name in imported),
            "runs": len(cold_runs),
        }
    return results


def main() -> int:
    from bench.common import table, versions, write_result

    results = measure()
    rows = []
    passed = True
    for image, result in results.items():
        ok = result["ratio"] <= TARGET_RATIO and not result["forbidden_imported"]
        passed &= ok
        rows.append(
            [
                image,
                result["cold_ms"],
                result["cold_import_ms"],
                result["cold_invoke_ms"],
                result["floor_ms"],
                result["bare_floor_ms"],
                f"{result['ratio']:.2f}x",
                ",".join(result["forbidden_imported"]) or "-",
                "ok" if ok else "MISSED",
            ]
        )
    print(
        table(
            rows,
            [
                "image",
                "cold ms",
                "import ms",
                "invoke ms",
                "floor ms",
                "bare floor ms",
                "cold/floor",
                "forbidden",
                f"<= {TARGET_RATIO}x",
            ],
        )
    )
    path = write_result(
        "coldstart",
        {
            "target_ratio": TARGET_RATIO,
            "method": "median wall time of fresh interpreters, spawn to answer, interleaved; "
            "Lambda-like environment (Powertools Logger, EMF, Tracer with X-Ray SDK on the "
            "path); floor includes Powertools and X-Ray modules, bare floor does not",
            "versions": versions(
                "fastapi",
                "mangum",
                "pillow",
                "sqlalchemy",
                "boto3",
                "confluent-kafka",
                "aws-lambda-powertools",
                "aws-xray-sdk",
            ),
            "results": results,
            "passed": passed,
        },
    )
    print(f"results: {path.relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
