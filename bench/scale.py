"""Scale benchmark: uploads/s of `imgpipe serve` when warehouse commits cost and queue as on
Redshift, against free commits, side by side in one run.

Redshift queues commits across the cluster (each costs ~50-600 ms): a warehouse transaction per
request would cap the whole system at a few images per second. Simulated on PostgreSQL: every
warehouse table gets a deferred constraint trigger that, once per transaction, takes one global
advisory lock (held to the commit: commits take turns) and sleeps COMMIT_MS. The service runs on
it with a local folder for objects (so storage is not what is measured), 16 clients POST
distinct small JPEGs for SECONDS, once with 0 ms and once with 150 ms commits.

    python -m bench scale   # IMGPIPE_BENCH_SECONDS (12), _CLIENTS (16), _ROUNDS (2, alternating)

Targets: uploads/s at 150 ms >= 0.8x of 0 ms; every accepted upload in ingest_events exactly
once within two load intervals after the run; warehouse commits per second reported (about one
per load interval).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import table, versions, write_result
from bench.warehouse import fresh_schema, postgres_server

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("IMGPIPE_BENCH_SECONDS", "12"))
CLIENTS = int(os.environ.get("IMGPIPE_BENCH_CLIENTS", "16"))
# Rounds alternate the two commit costs, so that a busy moment of the machine hits both.
ROUNDS = int(os.environ.get("IMGPIPE_BENCH_ROUNDS", "2"))
COMMIT_COSTS_MS = (0, 150)
LOAD_INTERVAL_SECONDS = 2.0
TARGET_RATIO = 0.8
TABLES = ("images", "renditions", "ingest_events", "loaded_facts")

COMMIT_COST_SQL = """
CREATE TABLE bench_commits (at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp());
CREATE FUNCTION bench_commit_cost() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('imgpipe_bench.charged', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('imgpipe_bench.charged', 'yes', true);  -- once per transaction
        PERFORM pg_advisory_xact_lock(720401);  -- held until the commit: commits queue
        PERFORM pg_sleep({seconds});
        INSERT INTO bench_commits DEFAULT VALUES;
    END IF;
    RETURN NULL;
END $$;
"""
TRIGGER_SQL = (
    "CREATE CONSTRAINT TRIGGER bench_commit_cost AFTER INSERT OR UPDATE OR DELETE ON {table} "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench_commit_cost()"
)


def small_jpeg() -> bytes:
    from tests.images import jpeg_photo

    return jpeg_photo(320, 240, quality=85)


def unique(photo: bytes, serial: int) -> bytes:
    """The photo with a COM segment after SOI: new bytes (a new image), the same pixels."""
    comment = f"imgpipe-scale {serial} {uuid.uuid4().hex}".encode()
    return photo[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + photo[2:]


# --- the load generator (its own process) ----------------------------------------------------


async def _load(base: str, seconds: float, clients: int) -> dict[str, Any]:
    import httpx

    photo = small_jpeg()
    accepted: list[str] = []
    statuses: dict[int, int] = {}
    serial = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

        async def worker(until: float) -> None:
            nonlocal serial
            while time.perf_counter() < until:
                serial += 1
                response = await client.post(
                    "/v1/images",
                    content=unique(photo, serial),
                    headers={"Content-Type": "image/jpeg"},
                )
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 201:
                    accepted.append(response.json()["id"])

        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {"accepted": accepted, "statuses": statuses, "seconds": elapsed}


def load_main(argv: list[str]) -> int:
    """`python -m bench.scale load URL SECONDS CLIENTS`: prints one JSON result."""
    print(json.dumps(asyncio.run(_load(argv[0], float(argv[1]), int(argv[2])))), flush=True)
    return 0


# --- one configuration -----------------------------------------------------------------------


def _libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def prepare(url: str, commit_ms: int) -> None:
    """Migrate the schema, then make every warehouse table's commits cost commit_ms, queued."""
    import psycopg

    from core.repository import migrations

    migrations.upgrade(url)
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute(COMMIT_COST_SQL.format(seconds=commit_ms / 1000))  # type: ignore[arg-type]
        for name in TABLES:
            conn.execute(TRIGGER_SQL.format(table=name))  # type: ignore[arg-type]


@contextlib.contextmanager
def serving(workdir: Path, url: str) -> Iterator[tuple[str, dict[str, str]]]:
    from tests.harness.process import answers_http, running
    from tests.harness.proxy import free_port

    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMGPIPE_")}
    env.update(
        PYTHONPATH=str(ROOT),
        IMGPIPE_LOG_LEVEL="WARNING",
        IMGPIPE_DATABASE_URL=url,
        IMGPIPE_STORAGE_URL=f"file://{workdir / 'objects'}",
        IMGPIPE_LOAD_INTERVAL_SECONDS=str(LOAD_INTERVAL_SECONDS),
        IMGPIPE_RENDITIONS="display:2048:jpeg:85,thumb:256:jpeg:80",
    )
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "services.cli", "serve", "--port", str(port)]
    with running(
        command,
        workdir / "serve.log",
        answers_http(f"{base}/readyz"),
        what="imgpipe serve",
        env=env,
        cwd=workdir,
    ):
        yield base, env


def run_configuration(commit_ms: int, server_url: str) -> dict[str, Any]:
    import psycopg

    with (
        fresh_schema(server_url) as url,
        tempfile.TemporaryDirectory(prefix="imgpipe-bench-scale-") as temp,
    ):
        prepare(url, commit_ms)
        with serving(Path(temp), url) as (base, env):
            generator = subprocess.run(
                [sys.executable, "-m", "bench.scale", "load", base, str(SECONDS), str(CLIENTS)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=SECONDS + 300,
            )
            ended = time.monotonic()
            result = json.loads(generator.stdout.strip().splitlines()[-1])
            accepted: list[str] = result["accepted"]
            # Every accepted upload, once, within two load intervals of the run's end.
            deadline = ended + 2 * LOAD_INTERVAL_SECONDS
            with psycopg.connect(_libpq(url), autocommit=True) as conn:
                while True:
                    rows, distinct, present = _counts(conn, accepted)
                    caught_up = present == len(set(accepted))
                    if caught_up or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                caught_up_after = time.monotonic() - ended
                commits = conn.execute(
                    "SELECT count(*), extract(epoch FROM max(at) - min(at)) FROM bench_commits"
                ).fetchone()
    assert commits is not None
    seconds = float(result["seconds"])
    commit_count, commit_span = int(commits[0]), float(commits[1] or 0.0)
    return {
        "commit_ms": commit_ms,
        "uploads": len(accepted),
        "uploads_per_second": round(len(accepted) / seconds, 2),
        "statuses": result["statuses"],
        "seconds": round(seconds, 2),
        "events_rows": rows,
        "events_distinct": distinct,
        "accepted_found": present,
        "all_loaded_within_two_intervals": caught_up,
        "loaded_after_run_seconds": round(caught_up_after, 2),
        "warehouse_commits": commit_count,
        "warehouse_commits_per_second": round(commit_count / max(commit_span, seconds), 2),
    }


def _counts(conn: Any, image_ids: list[str]) -> tuple[int, int, int]:
    """Event rows of the accepted images, their distinct event ids, and how many of the
    images have a `processed` event."""
    row = conn.execute(
        "SELECT count(*), count(DISTINCT event_id), "
        "count(DISTINCT image_id) FILTER (WHERE status = 'processed') "
        "FROM ingest_events WHERE image_id = ANY(%s)",
        (image_ids,),
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def main() -> int:
    with postgres_server() as server_url:
        runs = []
        for round_index in range(ROUNDS):
            for commit_ms in COMMIT_COSTS_MS:
                runs.append(run_configuration(commit_ms, server_url))
                print(
                    f"round {round_index + 1}/{ROUNDS}, {commit_ms} ms commits: "
                    f"{runs[-1]['uploads_per_second']} uploads/s, "
                    f"{runs[-1]['warehouse_commits_per_second']} warehouse commits/s",
                    flush=True,
                )
    rates = {
        ms: sum(r["uploads"] for r in runs if r["commit_ms"] == ms)
        / sum(r["seconds"] for r in runs if r["commit_ms"] == ms)
        for ms in COMMIT_COSTS_MS
    }
    ratio = round(rates[150] / rates[0], 3)
    exactly_once = all(
        r["all_loaded_within_two_intervals"]
        and r["events_rows"] == r["events_distinct"] == r["uploads"]
        for r in runs
    )
    targets = {
        "uploads_per_second_150ms_vs_0ms": {
            "target": f">= {TARGET_RATIO}",
            "measured": ratio,
            "met": ratio >= TARGET_RATIO,
        },
        "every_accepted_upload_loaded_once_within_two_load_intervals": {
            "target": "true",
            "measured": exactly_once,
            "met": exactly_once,
        },
    }
    rows = [
        [
            f"{r['commit_ms']} ms",
            r["uploads_per_second"],
            r["uploads"],
            r["events_rows"],
            r["loaded_after_run_seconds"],
            r["warehouse_commits_per_second"],
        ]
        for r in runs
    ]
    header = ["commits", "uploads/s", "accepted", "event rows", "loaded after s", "commits/s"]
    print(table(rows, header))
    print(
        f"uploads/s at 150 ms vs 0 ms commits, over {ROUNDS} alternating rounds: "
        f"{rates[150]:.1f} / {rates[0]:.1f} = {ratio} (target >= {TARGET_RATIO})"
    )
    path = write_result(
        "scale",
        {
            "config": {
                "seconds": SECONDS,
                "clients": CLIENTS,
                "rounds": ROUNDS,
                "image": "320x240 JPEG, made unique per request by a JPEG comment",
                "server": "imgpipe serve (uvicorn, 1 worker), local folder storage, "
                f"background loader every {LOAD_INTERVAL_SECONDS} s",
                "simulated": "PostgreSQL whose commits to any warehouse table take one "
                "global advisory lock and sleep the commit cost once per transaction "
                "(a deferred constraint trigger), as Redshift queues commits",
            },
            "versions": versions("sqlalchemy", "psycopg", "fastapi", "uvicorn"),
            "uploads_per_second": {f"{ms} ms": round(rate, 2) for ms, rate in rates.items()},
            "runs": runs,
            "targets": targets,
        },
    )
    print(f"wrote {path.relative_to(ROOT)}")
    return 0 if all(t["met"] for t in targets.values()) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        sys.exit(load_main(sys.argv[2:]))
    sys.exit(main())
