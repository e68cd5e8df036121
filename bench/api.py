"""API benchmark: POST /v1/images on uvicorn (1 worker) against core.ingest in-process.

Both sides ingest the same 1 MP JPEG photos (each made unique by a JPEG comment, so that every
request is a new image, decoded and encoded in full) on the embedded defaults (SQLite and a
local folder, each in a fresh temporary directory), with the same number of requests in
flight, for a fixed time, in alternating rounds so that machine noise hits both alike. The load
generator runs in a process of its own (asyncio + httpx), as a client would.

    python -m bench api        # 3 rounds of 10 s per side, 2 requests in flight
    IMGPIPE_BENCH_SECONDS=20 IMGPIPE_BENCH_ROUNDS=5 IMGPIPE_BENCH_CONCURRENCY=4 python -m bench api

Besides images/s it records CPU seconds per image on each side (server + load generator
processes for the API, the benchmark process for in-process): on a machine shared with other
work the CPU a side gets varies from second to second; the CPU it spends per image does not.

Targets: API throughput >= 0.85x in-process; API p99 <= 2x its p50.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import peak_rss_mib, table, versions, write_result

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("IMGPIPE_BENCH_SECONDS", "10"))
# One request more than cores: while one is on the wire, both cores still have an image to
# process. Both sides get the same number (threads in-process, connections for the API).
CONCURRENCY = int(os.environ.get("IMGPIPE_BENCH_CONCURRENCY", "3"))
ROUNDS = int(os.environ.get("IMGPIPE_BENCH_ROUNDS", "3"))
WARMUP_SECONDS = 2.0
WIDTH, HEIGHT = 1155, 866  # 1.0 MP
PHOTOS = ("coffee", "chelsea", "astronaut", "rocket")

TARGET_THROUGHPUT = 0.85
TARGET_TAIL = 2.0


def base_photos() -> list[bytes]:
    """1 MP JPEGs of real photographs (scikit-image's bundled data)."""
    from tests.images import jpeg_photo

    return [jpeg_photo(WIDTH, HEIGHT, name=name, quality=90) for name in PHOTOS]


def unique(photo: bytes, serial: int) -> bytes:
    """The photo with a COM segment after SOI: new bytes (a new image id), the same pixels."""
    comment = f"imgpipe-bench {serial} {uuid.uuid4().hex}".encode()
    return photo[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + photo[2:]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies_ms: list[float], seconds: float, errors: int) -> dict[str, Any]:
    return {
        "requests": len(latencies_ms),
        "errors": errors,
        "seconds": round(seconds, 2),
        "per_second": round(len(latencies_ms) / seconds, 2) if seconds else 0.0,
        "p50_ms": round(percentile(latencies_ms, 0.50), 1),
        "p99_ms": round(percentile(latencies_ms, 0.99), 1),
        "mean_ms": round(statistics.fmean(latencies_ms), 1) if latencies_ms else None,
    }


# --- the load generator (its own process) ----------------------------------------------------


async def _load(base: str, seconds: float, concurrency: int, photos: list[bytes]) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    serial = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker(until: float, record: bool) -> None:
            nonlocal serial, errors
            while time.perf_counter() < until:
                serial += 1
                data = unique(photos[serial % len(photos)], serial)
                started = time.perf_counter()
                response = await client.post(
                    "/v1/images", files={"file": ("photo.jpg", data, "image/jpeg")}
                )
                elapsed = (time.perf_counter() - started) * 1000
                if not record:
                    continue
                if response.status_code == 201:
                    latencies.append(elapsed)
                else:
                    errors += 1

        warm_until = time.perf_counter() + WARMUP_SECONDS
        await asyncio.gather(*(worker(warm_until, False) for _ in range(concurrency)))
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(worker(until, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return summary(latencies, elapsed, errors)


def load_main(argv: list[str]) -> int:
    """`python -m bench.api load URL SECONDS CONCURRENCY`: prints one JSON summary."""
    base, seconds, concurrency = argv[0], float(argv[1]), int(argv[2])
    result = asyncio.run(_load(base, seconds, concurrency, base_photos()))
    print(json.dumps(result), flush=True)
    return 0


# --- the API under uvicorn -------------------------------------------------------------------


@contextlib.contextmanager
def api_server(workdir: Path) -> Iterator[tuple[str, int, dict[str, str]]]:
    """`imgpipe serve` (uvicorn, 1 worker, embedded defaults in workdir): URL, pid, env."""
    from tests.harness.process import answers_http, running
    from tests.harness.proxy import free_port

    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMGPIPE_")}
    env["PYTHONPATH"] = str(ROOT)
    env["IMGPIPE_LOG_LEVEL"] = "WARNING"  # a log line per request is not what is measured
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "services.cli", "serve", "--port", str(port)]
    ready = answers_http(f"{base}/readyz")
    log = workdir / "serve.log"
    with running(command, log, ready, what="imgpipe serve", env=env, cwd=workdir) as server:
        yield base, server.pid, env


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_api_round(base: str, pid: int, env: dict[str, str]) -> dict[str, Any]:
    """The load generator, in a process of its own, against the running server."""
    server_before, children_before = process_cpu_seconds(pid), children_cpu_seconds()
    generator = subprocess.run(
        [sys.executable, "-m", "bench.api", "load", base, str(SECONDS), str(CONCURRENCY)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=SECONDS + 120,
    )
    result = dict(json.loads(generator.stdout.strip().splitlines()[-1]))
    server_cpu = process_cpu_seconds(pid) - server_before
    generator_cpu = children_cpu_seconds() - children_before
    # Warm-up requests and the generator's start-up are in the CPU figures too: per image, they
    # are charged against the measured requests only, which slightly flatters neither side.
    result["server_cpu_s"] = round(server_cpu, 2)
    result["generator_cpu_s"] = round(generator_cpu, 2)
    return result


# --- core.ingest in-process ------------------------------------------------------------------


def run_in_process_round(ctx: Any, photos: list[bytes]) -> dict[str, Any]:
    """The same images through core.ingest, CONCURRENCY threads, on an embedded store."""
    from core.ingest import ingest
    from core.models import IngestRequest

    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0
    serial = 0
    offset = uuid.uuid4().int % 10**9  # event ids unique across rounds on one store

    def worker(until: float, record: bool) -> None:
        nonlocal serial, errors
        while time.perf_counter() < until:
            with lock:
                serial += 1
                mine = serial + offset
            data = unique(photos[mine % len(photos)], mine)
            started = time.perf_counter()
            result = ingest(
                IngestRequest(
                    customer_id="local", source="upload", event_id=f"bench:{mine}", data=data
                ),
                ctx,
            )
            elapsed = (time.perf_counter() - started) * 1000
            if record:
                with lock:
                    if result.status == "processed":
                        latencies.append(elapsed)
                    else:
                        errors += 1

    def phase(seconds: float, record: bool) -> float:
        until = time.perf_counter() + seconds
        started = time.perf_counter()
        threads = [
            threading.Thread(target=worker, args=(until, record)) for _ in range(CONCURRENCY)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started

    before = resource.getrusage(resource.RUSAGE_SELF)
    phase(WARMUP_SECONDS, False)
    elapsed = phase(SECONDS, True)
    after = resource.getrusage(resource.RUSAGE_SELF)
    result = summary(latencies, elapsed, errors)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    result["cpu_s"] = round(cpu, 2)
    return result


def combine(rounds: list[dict[str, Any]], cpu_keys: tuple[str, ...]) -> dict[str, Any]:
    """Rounds side by side: the median of each figure, and CPU seconds per image overall."""
    combined: dict[str, Any] = {
        key: round(statistics.median(r[key] for r in rounds), 2)
        for key in ("per_second", "p50_ms", "p99_ms")
    }
    requests = sum(r["requests"] for r in rounds)
    cpu = sum(r[key] for r in rounds for key in cpu_keys)
    combined.update(
        requests=requests,
        errors=sum(r["errors"] for r in rounds),
        cpu_ms_per_image=round(cpu * 1000 / requests, 1) if requests else None,
    )
    return combined


def main() -> int:
    from core.bootstrap import build_context
    from core.config import load_settings

    photos = base_photos()
    api_rounds: list[dict[str, Any]] = []
    local_rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-api-") as temp:
        local_dir, api_dir = Path(temp) / "in-process", Path(temp) / "api"
        local_dir.mkdir()
        api_dir.mkdir()
        ctx = build_context(
            load_settings(
                database_url=f"sqlite:///{local_dir}/warehouse.db",
                storage_url=f"file://{local_dir}/objects",
            )
        )
        with api_server(api_dir) as (base, pid, env):
            for index in range(ROUNDS):  # alternating, so that noise hits both sides alike
                local_rounds.append(run_in_process_round(ctx, photos))
                api_rounds.append(run_api_round(base, pid, env))
                print(
                    f"round {index + 1}/{ROUNDS}: in-process {local_rounds[-1]['per_second']}/s, "
                    f"API {api_rounds[-1]['per_second']}/s",
                    flush=True,
                )
        ctx.close()
    api = combine(api_rounds, ("server_cpu_s", "generator_cpu_s"))
    local = combine(local_rounds, ("cpu_s",))
    api_server_only = sum(r["server_cpu_s"] for r in api_rounds) * 1000 / api["requests"]
    api["server_cpu_ms_per_image"] = round(api_server_only, 1)
    throughput_ratio = round(api["per_second"] / local["per_second"], 3)
    tail_ratio = round(api["p99_ms"] / api["p50_ms"], 3)
    targets = {
        "api_throughput_vs_in_process": {
            "target": f">= {TARGET_THROUGHPUT}",
            "measured": throughput_ratio,
            "met": throughput_ratio >= TARGET_THROUGHPUT,
        },
        "cpu_per_image_in_process_vs_api_server": {
            "target": "(reported)",
            "measured": round(local["cpu_ms_per_image"] / api["server_cpu_ms_per_image"], 3),
            "met": True,
        },
        "api_p99_vs_p50": {
            "target": f"<= {TARGET_TAIL}",
            "measured": tail_ratio,
            "met": tail_ratio <= TARGET_TAIL,
        },
    }
    rows = [
        [name, side["per_second"], side["p50_ms"], side["p99_ms"], side["cpu_ms_per_image"]]
        for name, side in (("API (uvicorn, 1 worker)", api), ("core.ingest in-process", local))
    ]
    print(table(rows, ["path", "images/s", "p50 ms", "p99 ms", "CPU ms/image"]))
    print(f"API / in-process throughput: {throughput_ratio} (target >= {TARGET_THROUGHPUT})")
    print(f"API p99 / p50: {tail_ratio} (target <= {TARGET_TAIL})")
    print(
        f"CPU per image: in-process {local['cpu_ms_per_image']} ms, API server "
        f"{api['server_cpu_ms_per_image']} ms (+ load generator: {api['cpu_ms_per_image']} ms)"
    )
    path = write_result(
        "api",
        {
            "config": {
                "seconds_per_round": SECONDS,
                "rounds": ROUNDS,
                "concurrency": CONCURRENCY,
                "image": f"{WIDTH}x{HEIGHT} JPEG q90, {len(photos)} photos made unique per request",
                "request": "multipart POST /v1/images, keep-alive connections",
                "server": "imgpipe serve (uvicorn, 1 worker), SQLite + local folder",
            },
            "versions": versions("fastapi", "starlette", "uvicorn", "httpx", "pillow"),
            "api": api,
            "in_process": local,
            "rounds": {"api": api_rounds, "in_process": local_rounds},
            "targets": targets,
            "peak_rss_mib_bench_process": round(peak_rss_mib(), 1),
        },
    )
    print(f"wrote {path.relative_to(ROOT)}")
    return 0 if all(t["met"] for t in targets.values()) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        sys.exit(load_main(sys.argv[2:]))
    sys.exit(main())
