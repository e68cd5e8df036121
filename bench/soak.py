"""Soak: `imgpipe serve` and `imgpipe consume` held at ~80% of their measured capacity.

    make soak                             # 600 s (SOAK_SECONDS=60 make soak for a short check)
    python -m bench.soak --seconds 60

Both run as real processes on loopback: PostgreSQL as bench/warehouse.py finds it (a schema
of its own, dropped after), a Tansu broker started here, object storage in a temporary folder
(removed after). The server's loader is the one loader, as deployed. Phases, each a mix of
uploads and stream records of small distinct JPEGs and PNGs with a share of hostile inputs:
warm-up (the consumer's group join, first imports); capacity (closed loop: a few upload
clients and a window of records in flight, both at once); the soak proper (open loop, each
paced at --share of its measured rate, bounded: a request or record that would exceed the
bounds is shed and counted). A stream record's latency runs from its produce call until its
manifest (or dead letter) is on disk, seen by a poll every 20 ms. The report: outcomes, errors
(any answer other than the one each input must get), p50/p99, RSS of both processes at the start
and end of the soak proper, load average, versions: bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import soak_inputs as inputs
from bench.common import versions, write_result
from bench.soak_watch import RecordWatcher, Tally, expected_events, rss_mib

ROOT = Path(__file__).resolve().parent.parent
UPLOAD_CLIENTS = 3  # closed loop: one more than the cores, as bench/api.py
RECORD_WINDOW = 20  # closed loop: records produced and not yet stored
MAX_UPLOADS_IN_FLIGHT = 16  # open loop: beyond these, an arrival is shed
MAX_RECORDS_PENDING = 400
SAMPLE_EVERY = 10.0
GOOD_JSON_SHARE = 0.2  # of the good records, those sent as a JSON envelope (base64)
RSS_GROWTH_GOAL = 10.0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0, help="the soak proper")
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--capacity-seconds", type=float, default=20.0)
    parser.add_argument("--share", type=float, default=0.8, help="of the measured capacity")
    parser.add_argument("--hostile", type=float, default=0.05, help="share of hostile inputs")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace serve's and consume's allocations; report their growth over the soak",
    )
    return parser.parse_args(argv)


@dataclass(frozen=True)
class Servers:
    base: str
    bootstrap: str
    topic: str
    server: subprocess.Popen[bytes]
    consumer: subprocess.Popen[bytes]
    consume_log: Path


@contextmanager
def processes(work: Path, trace: bool = False) -> Iterator[Servers]:
    """PostgreSQL, Tansu, `imgpipe serve` and `imgpipe consume`, ready, stopped after."""
    from bench.stream import tansu
    from bench.warehouse import fresh_schema, postgres_server
    from core.repository.migrations import upgrade
    from tests.harness.kafka import TEST_CONSUMER_CONFIG, create_topic
    from tests.harness.process import answers_http, running
    from tests.harness.proxy import free_port

    with ExitStack() as stack:
        database = stack.enter_context(fresh_schema(stack.enter_context(postgres_server())))
        upgrade(database)
        bootstrap = stack.enter_context(tansu())
        topic = create_topic(bootstrap, partitions=2)
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMGPIPE_")}
        env.update(
            PYTHONPATH=str(ROOT),
            IMGPIPE_DATABASE_URL=database,
            IMGPIPE_STORAGE_URL=f"file://{work}/objects",
            IMGPIPE_API_KEYS=inputs.key_pair(),
            IMGPIPE_LOG_LEVEL="WARNING",  # a line per request is not what is measured
        )
        if trace:
            env["PYTHONTRACEMALLOC"] = "1"  # SIGUSR1 then prints the growth: core/telemetry
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [sys.executable, "-m", "services.cli", "serve", "--host", "127.0.0.1"]
        server = stack.enter_context(
            running(
                [*serve, "--port", str(port)],
                work / "serve.log",
                answers_http(f"{base}/readyz"),
                what="imgpipe serve",
                env=env,
                cwd=work,
            )
        )
        consume_env = {
            **env,
            "IMGPIPE_KAFKA_CONSUMER_CONFIG": json.dumps(TEST_CONSUMER_CONFIG),
            "IMGPIPE_KAFKA_BATCH_WINDOW_MS": "100",
            "IMGPIPE_LOAD_INTERVAL_SECONDS": "0",  # the server's loader loads every fact
        }
        consume = [sys.executable, "-m", "services.cli", "consume", "--topic", topic]
        consumer = stack.enter_context(
            running(
                [*consume, "--bootstrap-servers", bootstrap, "--group-id", "soak"],
                work / "consume.log",
                lambda: True,  # ready once it stores the warm-up's first record
                what="imgpipe consume",
                env=consume_env,
                cwd=work,
            )
        )
        yield Servers(base, bootstrap, topic, server, consumer, work / "consume.log")


class Driver:
    """The load generator: uploads over HTTP (asyncio + httpx), records through a producer."""

    def __init__(self, base: str, watcher: RecordWatcher, seed: int, hostile: float) -> None:
        import httpx

        self.rng = random.Random(seed)
        self.hostile = hostile
        self.run_tag = uuid.uuid4().hex[:8]
        self.serial = 0
        self.watcher = watcher
        limits = httpx.Limits(max_connections=MAX_UPLOADS_IN_FLIGHT)
        self.client = httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0)
        self.in_flight: set[asyncio.Task[None]] = set()

    def tag(self) -> str:
        self.serial += 1
        return f"{self.run_tag}-{self.serial}"

    async def upload(self, tally: Tally) -> None:
        import httpx

        kind = inputs.pick(self.rng, self.hostile, inputs.UPLOAD_HOSTILE, "good")
        sent = inputs.upload(kind, self.rng, self.tag())
        started = time.perf_counter()
        try:
            response = await self.client.post("/v1/images", content=sent.body, headers=sent.headers)
        except httpx.HTTPError as exc:
            tally.error(f"upload:{kind}:transport", f"{type(exc).__name__}: {exc}")
            return
        elapsed = (time.perf_counter() - started) * 1000
        outcome = f"upload:{kind}:{response.status_code}"
        if response.status_code not in sent.expected:
            tally.error(outcome, response.text[:300])
            return
        tally.count(outcome)
        tally.latency("upload_hostile" if sent.hostile else "upload", elapsed)

    def produce(self, tally: Tally) -> bool:
        """Sends one record; False when the producer's bounded queue is full (shed)."""
        kind = inputs.pick(self.rng, self.hostile, inputs.RECORD_HOSTILE, "good")
        if kind == "good" and self.rng.random() < GOOD_JSON_SHARE:
            kind = "good_json"
        return self.watcher.send(inputs.record(kind, self.rng, self.tag()), tally)

    async def closed_loop(self, tally: Tally, seconds: float) -> dict[str, float]:
        """Upload clients and a window of records, as fast as answers come: the capacity."""
        started = time.perf_counter()
        until = started + seconds

        async def uploader() -> None:
            while time.perf_counter() < until:
                await self.upload(tally)

        async def records() -> None:
            while time.perf_counter() < until:
                if self.watcher.pending(tally) < RECORD_WINDOW and self.produce(tally):
                    continue
                await asyncio.sleep(0.005)

        await asyncio.gather(records(), *(uploader() for _ in range(UPLOAD_CLIENTS)))
        uploads_done = time.perf_counter()
        await self.watcher.drained(tally, within=60)
        records_done = tally.last_done or time.perf_counter()
        return {
            "uploads_per_second": round(tally.total("upload:") / (uploads_done - started), 2),
            "records_per_second": round(tally.total("stream:") / (records_done - started), 2),
        }

    async def paced(
        self,
        tally: Tally,
        seconds: float,
        rates: dict[str, float],
        sample: Callable[[], None],
    ) -> float:
        """Open loop: arrivals at fixed rates whatever the answers; returns the seconds run."""
        started = time.perf_counter()
        until = started + seconds

        async def uploads() -> None:
            interval = 1 / rates["uploads_per_second"]
            due = started
            while (due := due + interval) < until:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                if len(self.in_flight) >= MAX_UPLOADS_IN_FLIGHT:
                    tally.shed("upload")
                    continue
                task = asyncio.create_task(self.upload(tally))
                self.in_flight.add(task)
                task.add_done_callback(self.in_flight.discard)

        async def records() -> None:
            interval = 1 / rates["records_per_second"]
            due = started
            while (due := due + interval) < until:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                if self.watcher.pending(None) >= MAX_RECORDS_PENDING or not self.produce(tally):
                    tally.shed("stream")

        async def sampler() -> None:
            while time.perf_counter() + SAMPLE_EVERY < until:
                await asyncio.sleep(SAMPLE_EVERY)
                sample()

        await asyncio.gather(uploads(), records(), sampler())
        await asyncio.gather(*self.in_flight)
        return time.perf_counter() - started


def log_problems(path: Path) -> dict[str, Any]:
    """Lines of a process's log that tell of a failure: any is an error of the soak."""
    markers = ("Traceback", "unhandled error", '"status": 500', " ERROR ", " CRITICAL ")
    lines = [
        line
        for line in path.read_text(errors="replace").splitlines()
        if any(marker in line for marker in markers)
    ]
    return {"lines": len(lines), "first": [line[:300] for line in lines[:3]]}


def snapshot(pids: Iterable[int], trace: bool) -> None:
    """Has each traced process take a tracemalloc snapshot (the second one prints the growth)."""
    if trace:
        for pid in pids:
            os.kill(pid, signal.SIGUSR1)


def traced_growth(work: Path) -> dict[str, list[str]]:
    """The growth each traced process printed at the end of the soak proper."""
    from core.telemetry.memory import MARKER

    time.sleep(5.0)  # a snapshot of a traced process takes a few seconds
    found = {}
    for name in ("serve", "consume"):
        lines = (work / f"{name}.log").read_text(errors="replace").splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith(MARKER)]
        found[name] = lines[starts[-1] : starts[-1] + 21] if starts else []
    return found


def git_sha() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return git("rev-parse", "--short=12", "HEAD") + (
        "+dirty" if git("status", "--porcelain") else ""
    )


async def warehouse_totals(
    driver: Driver, expected: dict[str, int], within: float = 60.0
) -> dict[str, Any]:
    """GET /v1/stats until the loader has loaded every event the soak saw answered."""
    deadline = time.perf_counter() + within
    while True:
        response = await driver.client.get("/v1/stats", headers={"X-API-Key": inputs.API_KEY})
        response.raise_for_status()
        totals = response.json()["totals"]
        found = {name: totals[name] for name in expected}
        if found == expected or time.perf_counter() > deadline:
            return {
                "expected": expected,
                "found": found,
                "matches": found == expected,
                "rejections_by_reason": totals["rejections_by_reason"],
            }
        await asyncio.sleep(1.0)


async def drive(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    with processes(work, args.tracemalloc) as servers:
        watcher = RecordWatcher(work / "objects", servers.topic, servers.bootstrap)
        watcher.start()
        driver = Driver(servers.base, watcher, args.seed, args.hostile)
        phases = {name: Tally() for name in ("warmup", "capacity", "soak")}
        try:
            await watcher.first_stored(
                driver, phases["warmup"], servers.consumer, servers.consume_log
            )
            await driver.closed_loop(phases["warmup"], args.warmup)
            capacity = await driver.closed_loop(phases["capacity"], args.capacity_seconds)
            rates = {k: inputs.paced_rate(v, args.share) for k, v in capacity.items()}
            print(f"capacity {capacity}; soak paced at {rates}", flush=True)
            pids = {"serve": servers.server.pid, "consume": servers.consumer.pid}
            timeline: list[dict[str, Any]] = []
            began = time.perf_counter()

            def sample() -> None:
                point = {name: rss_mib(pid) for name, pid in pids.items()}
                point.update(t=round(time.perf_counter() - began, 1), load1=os.getloadavg()[0])
                timeline.append(point)

            sample()
            snapshot(pids.values(), args.tracemalloc)
            load_start = os.getloadavg()
            ran = await driver.paced(phases["soak"], args.seconds, rates, sample)
            sample()
            snapshot(pids.values(), args.tracemalloc)
            load_end = os.getloadavg()
            await watcher.drained(phases["soak"], within=120)
            warehouse = await warehouse_totals(driver, expected_events(phases))
        finally:
            watcher.stop()
            await driver.client.aclose()
    return {
        "capacity": capacity,
        "paced_rates": rates,
        "seconds_run": round(ran, 1),
        "phases": phases,
        "timeline": timeline,
        "load_average": {"start": load_start, "end": load_end},
        "warehouse": warehouse,
        "logs": {name: log_problems(work / f"{name}.log") for name in ("serve", "consume")},
        **({"tracemalloc": traced_growth(work)} if args.tracemalloc else {}),
    }


def main(argv: list[str] | None = None) -> int:
    from bench.soak_watch import report

    args = parse(argv if argv is not None else [])
    started_load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="imgpipe-soak-") as temp:
        measured = asyncio.run(drive(args, Path(temp)))
    payload = report(args, measured, RSS_GROWTH_GOAL)
    payload["machine_load_average_before"] = started_load
    payload["versions"] = {
        "imgpipe_git": git_sha(),
        **versions("pillow", "fastapi", "uvicorn", "httpx", "confluent-kafka", "psycopg"),
        "python": sys.version.split()[0],
    }
    payload["simulated"] = {
        "uploads": "multipart POST /v1/images, X-API-Key; distinct JPEGs "
        f"{inputs.JPEG_SIZES} and PNGs {inputs.PNG_SIZES} (a comment makes each new)",
        "records": f"raw image values (customer-id header), {GOOD_JSON_SHARE:.0%} as JSON "
        "envelopes with image_base64; 2 partitions, batch window 100 ms",
        "hostile_uploads": list(inputs.UPLOAD_HOSTILE),
        "hostile_records": list(inputs.RECORD_HOSTILE),
        "hostile_share": args.hostile,
        "bounds": {
            "upload_clients_closed_loop": UPLOAD_CLIENTS,
            "records_in_flight_closed_loop": RECORD_WINDOW,
            "max_uploads_in_flight": MAX_UPLOADS_IN_FLIGHT,
            "max_records_pending": MAX_RECORDS_PENDING,
        },
        "servers": "imgpipe serve (uvicorn, 1 worker) and imgpipe consume on loopback; "
        "PostgreSQL (fresh schema), Tansu (memory), folder object store, one loader (serve's)",
    }
    path = write_result("soak", payload)
    print(payload["summary"])
    print(f"wrote {path.relative_to(ROOT)}")
    return 0 if payload["goals"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
