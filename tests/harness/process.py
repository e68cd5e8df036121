"""Servers run as child processes by the tests and benchmarks: started, waited for, stopped."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx


def start(
    command: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """The command running, its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_until(
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes],
    log: Path,
    *,
    what: str,
    timeout: float = 60,
) -> None:
    """Poll `ready` until it holds; RuntimeError with the log if the process exits or is late."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}): {log.read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer in {timeout:.0f} s: {log.read_text()}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def answers_http(url: str, *, ok_only: bool = True) -> Callable[[], bool]:
    """Readiness: a GET of `url` answers (200 only, unless ok_only is False)."""

    def ready() -> bool:
        try:
            response = httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            return False
        return response.status_code == 200 or not ok_only

    return ready


def listens(port: int) -> Callable[[], bool]:
    """Readiness: something accepts connections on 127.0.0.1:port."""

    def ready() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return False
        return True

    return ready


@contextlib.contextmanager
def running(
    command: Sequence[str],
    log: Path,
    ready: Callable[[], bool],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """The command running and ready for the block, stopped after it."""
    process = start(command, log, env=env, cwd=cwd)
    try:
        wait_until(ready, process, log, what=what, timeout=timeout)
        yield process
    finally:
        stop(process)


def python_child(
    args: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> tuple[Any, str]:
    """Run `python ARGS` to its end: the last line it printed, read as JSON, and its stderr.
    A child that fails fails the test, with the end of its stderr."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr
