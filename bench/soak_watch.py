"""The soak's bookkeeping: outcomes per phase, records followed from produce to disk, the report."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import soak_inputs as inputs

if TYPE_CHECKING:
    from bench.soak import Driver

POLL_SECONDS = 0.02
LOST_AFTER = 120.0  # a record neither stored nor dead-lettered by then is lost: an error
MAX_EXAMPLES = 20


@dataclass
class Tally:
    """What one phase saw. Written by the event loop (uploads) and the watcher (records)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    shed_counts: Counter[str] = field(default_factory=Counter)
    last_done: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1

    def error(self, outcome: str, detail: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            self.errors += 1
            if len(self.error_examples) < MAX_EXAMPLES:
                self.error_examples.append(f"{outcome}: {detail}")

    def latency(self, name: str, ms: float) -> None:
        with self.lock:
            self.latencies[name].append(ms)

    def shed(self, channel: str) -> None:
        with self.lock:
            self.shed_counts[channel] += 1

    def total(self, prefix: str) -> int:
        with self.lock:
            return sum(n for outcome, n in self.outcomes.items() if outcome.startswith(prefix))


@dataclass
class Pending:
    record: inputs.Record
    tally: Tally
    sent: float
    manifest: Path | None
    letter: Path | None = None  # known once the broker has the record (its offset)


class RecordWatcher:
    """Produces records and follows each until its manifest or its dead letter is on disk."""

    def __init__(self, objects: Path, topic: str, bootstrap: str) -> None:
        from confluent_kafka import Producer

        self.objects = objects
        self.topic = topic
        # A bounded queue: beyond it, produce() refuses and the soak counts the record shed.
        self.producer: Any = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "linger.ms": 5,
                "queue.buffering.max.messages": 1000,
                "message.max.bytes": 1_048_576,
            }
        )
        self.lock = threading.Lock()
        self.waiting: dict[int, Pending] = {}
        self.serial = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soak-watcher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.producer.flush(5)
        self.producer = None  # closes its connections now, before the broker stops

    def send(self, record: inputs.Record, tally: Tally) -> bool:
        """Produces one record; False when the producer's queue is full (nothing sent)."""
        from core.layout import manifest_key
        from core.models import image_id_for

        manifest = None
        if record.sha256 is not None:
            image_id = image_id_for(inputs.CUSTOMER, record.sha256)
            manifest = self.objects / manifest_key(image_id)
        with self.lock:
            self.serial += 1
            token = self.serial
            self.waiting[token] = Pending(record, tally, time.perf_counter(), manifest)
        headers: list[tuple[str, str | bytes | None]] = list(record.headers)
        try:
            self.producer.produce(
                self.topic,
                record.value,
                headers=headers,
                on_delivery=lambda err, msg: self._delivered(token, err, msg),
            )
        except BufferError:
            with self.lock:
                del self.waiting[token]
            return False
        return True

    def _delivered(self, token: int, err: Any, msg: Any) -> None:
        from core.layout import dead_letter_key

        with self.lock:
            pending = self.waiting.get(token)
            if pending is None:
                return
            if err is not None:
                del self.waiting[token]
            else:
                key = dead_letter_key(self.topic, msg.partition(), msg.offset())
                pending.letter = self.objects / key
        if err is not None:
            pending.tally.error(f"stream:{pending.record.kind}:produce", str(err))

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.producer.poll(0)
            self._check()
            time.sleep(POLL_SECONDS)

    def _check(self) -> None:
        with self.lock:
            waiting = list(self.waiting.items())
        for token, pending in waiting:
            now = time.perf_counter()
            if pending.manifest is not None and pending.manifest.exists():
                self._done(token, pending, "stored", now)
            elif pending.letter is not None and pending.letter.exists():
                self._done(token, pending, "dead_lettered", now)
            elif now - pending.sent > LOST_AFTER:
                self._done(token, pending, "lost", now)

    def _done(self, token: int, pending: Pending, outcome: str, now: float) -> None:
        with self.lock:
            self.waiting.pop(token, None)
        record, tally = pending.record, pending.tally
        key = f"stream:{record.kind}:{outcome}"
        expected = "dead_lettered" if record.hostile else "stored"
        if outcome != expected:
            detail = "not stored nor dead-lettered"
            if outcome == "dead_lettered" and pending.letter is not None:
                detail = json.dumps(json.loads(pending.letter.read_text())["error"])
            tally.error(key, detail)
        else:
            tally.count(key)
            name = "stream_hostile" if record.hostile else "stream"
            tally.latency(name, (now - pending.sent) * 1000)
        with tally.lock:
            tally.last_done = now

    def pending(self, tally: Tally | None) -> int:
        with self.lock:
            return sum(1 for p in self.waiting.values() if tally is None or p.tally is tally)

    async def drained(self, tally: Tally, within: float) -> None:
        """Waits until the phase's records are all finished (or `within` seconds pass)."""
        deadline = time.perf_counter() + within
        # The watcher's thread finishes records: polling their count is all the loop can do.
        while self.pending(tally) and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def first_stored(
        self,
        driver: Driver,
        tally: Tally,
        consumer: subprocess.Popen[bytes],
        log: Path,
        within: float = 120.0,
    ) -> None:
        """Sends a record a second until one is stored: the consumer has joined its group."""
        deadline = time.perf_counter() + within
        while tally.total("stream:") == 0:
            if consumer.poll() is not None or time.perf_counter() > deadline:
                text = await asyncio.to_thread(log.read_text)
                raise RuntimeError(f"imgpipe consume stored nothing in {within:.0f} s: {text}")
            if self.pending(tally) < 5:
                self.send(inputs.record("good", driver.rng, driver.tag()), tally)
            await asyncio.sleep(1.0)


def expected_events(phases: dict[str, Tally]) -> dict[str, int]:
    """The warehouse's event counts the soak's answers imply: a row per image ingested or
    refused (a wrong key or an unreadable form reaches no ingest, so leaves no row)."""
    counts = {"processed": 0, "rejected": 0}
    for tally in phases.values():
        for outcome, n in tally.outcomes.items():
            channel, kind, result = outcome.split(":")
            if result in ("201", "stored"):
                counts["processed"] += n
            elif result == "dead_lettered" or (
                channel == "upload" and kind not in ("good", "bad_multipart", "wrong_key")
            ):
                counts["rejected"] += n
    return counts


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")


def phase_summary(tally: Tally, seconds: float | None = None) -> dict[str, Any]:
    lat = tally.latencies
    summary: dict[str, Any] = {
        "outcomes": dict(sorted(tally.outcomes.items())),
        "errors": tally.errors,
        "error_examples": tally.error_examples,
        "shed": dict(tally.shed_counts),
        "upload_latency": inputs.latency_summary(lat["upload"]),
        "upload_hostile_latency": inputs.latency_summary(lat["upload_hostile"]),
        "stream_end_to_end": inputs.latency_summary(lat["stream"]),
        "stream_hostile_end_to_end": inputs.latency_summary(lat["stream_hostile"]),
    }
    if seconds:
        summary["throughput"] = {
            "uploads_per_second": round(tally.total("upload:") / seconds, 2),
            "records_per_second": round(tally.total("stream:") / seconds, 2),
        }
    return summary


def report(args: argparse.Namespace, measured: dict[str, Any], goal: float) -> dict[str, Any]:
    """The result document: phases, RSS at start and end, goals, and a one-line summary."""
    phases: dict[str, Tally] = measured["phases"]
    timeline: list[dict[str, Any]] = measured["timeline"]
    rss = {}
    for name in ("serve", "consume"):
        start, end = timeline[0][name], timeline[-1][name]
        rss[name] = {
            "start_mib": start,
            "end_mib": end,
            "peak_mib": max(point[name] for point in timeline),
            "growth_percent": inputs.growth_percent(start, end),
        }
    soak = phase_summary(phases["soak"], measured["seconds_run"])
    errors = sum(tally.errors for tally in phases.values())
    log_lines = sum(log["lines"] for log in measured["logs"].values())
    shed = sum(phases["soak"].shed_counts.values())
    goals: dict[str, Any] = {
        "errors": {"target": 0, "measured": errors + log_lines, "met": errors + log_lines == 0},
        **{
            f"rss_growth_{name}_percent": {
                "target": f"< {goal}",
                "measured": rss[name]["growth_percent"],
                "met": rss[name]["growth_percent"] < goal,
            }
            for name in rss
        },
        "shed_by_the_bounds": {"target": 0, "measured": shed, "met": shed == 0},
        "warehouse_events_match_answers": {
            "target": True,
            "measured": measured["warehouse"]["matches"],
            "met": measured["warehouse"]["matches"],
        },
    }
    goals["met"] = all(g["met"] for g in goals.values() if isinstance(g, dict))
    up, st = soak["upload_latency"], soak["stream_end_to_end"]
    summary = (
        f"soak {measured['seconds_run']:.0f} s at {args.share:.0%} of capacity "
        f"{measured['capacity']}: uploads {soak['throughput']['uploads_per_second']}/s "
        f"p50 {up['p50_ms']} ms p99 {up['p99_ms']} ms; records "
        f"{soak['throughput']['records_per_second']}/s end-to-end p50 {st['p50_ms']} ms "
        f"p99 {st['p99_ms']} ms; errors {errors} (+{log_lines} log lines), shed {shed}; RSS "
        + ", ".join(
            f"{n} {r['start_mib']}->{r['end_mib']} MiB ({r['growth_percent']:+}%)"
            for n, r in rss.items()
        )
        + f"; load {measured['load_average']['start'][0]:.1f}->"
        f"{measured['load_average']['end'][0]:.1f}; goals {'met' if goals['met'] else 'MISSED'}"
    )
    return {
        "summary": summary,
        "settings": {
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "capacity_seconds": args.capacity_seconds,
            "share_of_capacity": args.share,
            "hostile_share": args.hostile,
            "seed": args.seed,
        },
        "capacity": measured["capacity"],
        "paced_rates": measured["paced_rates"],
        "soak": soak,
        "capacity_phase": phase_summary(phases["capacity"], args.capacity_seconds),
        "warmup_phase": phase_summary(phases["warmup"]),
        "warehouse": measured["warehouse"],
        "rss": rss,
        "rss_timeline": timeline,
        "load_average": measured["load_average"],
        "logs": measured["logs"],
        **({"tracemalloc": measured["tracemalloc"]} if "tracemalloc" in measured else {}),
        "goals": goals,
    }
