"""The app as its callers meet it: API keys of the test customers, `imgpipe serve` and other
`imgpipe` commands run as subprocesses on a free port and in a working directory of their own."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tests.harness.process import answers_http, running
from tests.harness.proxy import free_port

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]

# Plain keys the tests send; the app is configured with their sha256 only (key_pairs).
KEYS = {"acme": "acme-secret-key", "globex": "globex-secret-key", "ops": "ops-secret-key"}


def key_pairs() -> list[str]:
    """IMGPIPE_API_KEYS entries (customer:sha256hex) for every test customer."""
    return [
        f"{customer}:{hashlib.sha256(key.encode()).hexdigest()}" for customer, key in KEYS.items()
    ]


def headers_for(customer: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[customer]}


def loaded(client: TestClient) -> TestClient:
    """The client, once its app's facts are in the warehouse: what the loader does within a
    load interval, done now, so that lists and statistics show what was just sent."""
    from core.loader import load_once

    load_once(client.app.state.ctx)  # type: ignore[attr-defined]
    return client


def _environment(env: Mapping[str, str]) -> dict[str, str]:
    """This environment without imgpipe's own settings or Lambda's marker, then `env` over it."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("IMGPIPE_")}
    base.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    return {**base, "PYTHONPATH": str(ROOT), **env}


@contextlib.contextmanager
def serving(workdir: Path, env: Mapping[str, str]) -> Iterator[tuple[str, Path]]:
    """`imgpipe serve` (uvicorn, one worker) in a subprocess on a free port, in `workdir`, with
    `env` as its settings; yields its base URL and log file, and stops it afterwards."""
    with serving_process(workdir, env) as (base, log, _):
        yield base, log


@contextlib.contextmanager
def serving_process(
    workdir: Path, env: Mapping[str, str]
) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """As serving, and the server's process too (its pid, for /proc)."""
    port = free_port()
    log = workdir / f"serve-{port}.log"
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "services.cli", "serve", "--port", str(port)]
    ready = answers_http(f"{base}/healthz")
    with running(
        command, log, ready, what="imgpipe serve", env=_environment(env), cwd=workdir
    ) as process:
        yield base, log, process


def run_imgpipe(
    workdir: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`imgpipe ARGS` in `workdir`, with `env` as its settings (else the embedded defaults)."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=workdir,
        env=_environment(env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
