"""`imgpipe demo`: fill the configured storage and warehouse with two weeks of realistic traffic.

A few hundred photo-like pictures (drawn by demo_photos), sent by five customers through both
paths: HTTP uploads to the API (in this process through httpx's ASGI transport, or to a
running server with --url) and MSK events through the stream Lambda handler. Some are sent
twice (duplicates, some by the other path), some are bad (cut-off JPEGs, PDFs, SVGs,
decompression-bomb headers, malformed records). Times spread over the last 14 days, more on
weekdays, so the dashboard has something to show.

The same --seed sends the same bytes under the same idempotency keys and Kafka coordinates,
so running the demo twice adds nothing the second time.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from core import facts, layout

if TYPE_CHECKING:
    import httpx

    from core.bootstrap import Context
    from core.models import Source
    from core.stats import Stats
    from services.commands.demo_photos import Photo

# Customers and their share of the traffic.
CUSTOMERS: tuple[tuple[str, float], ...] = (
    ("acme", 0.34),
    ("globex", 0.24),
    ("initech", 0.17),
    ("umbrella", 0.14),
    ("hooli", 0.11),
)
TOPIC = "demo-images"
PARTITIONS = 3
BATCH = 10  # records per MSK event, as a small Lambda batch
CONCURRENCY = 4  # units in flight at once
UPLOAD_SHARE = 0.55
DUPLICATE_SHARE = 0.10
BAD_SHARE = 0.07
BAD_UPLOADS = ("truncated", "pdf", "svg", "text", "bomb")
BAD_RECORDS = ("truncated", "pdf", "bomb", "bad_base64", "forbidden_source", "tombstone")

Kind = Literal["photo", "duplicate", "bad"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--count", type=int, default=300, help="events to send in all (default: 300)"
    )
    parser.add_argument(
        "--days", type=int, default=14, help="days back the traffic spreads over (default: 14)"
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="the same seed sends the same images (default: 7)"
    )
    parser.add_argument(
        "--url",
        help="send the uploads to this running API (e.g. http://127.0.0.1:8000) instead of "
        "an app in this process; uploads are then dated now, not spread over the days",
    )
    parser.add_argument(
        "--api-key", help="with --url: the X-API-Key to send (default: none, an open server)"
    )


@dataclass(frozen=True, slots=True)
class Send:
    """One thing the demo sends: a new picture, a picture again, or something bad."""

    index: int
    path: Source
    customer: str
    at: datetime
    kind: Kind
    seed: int  # the picture's seed (for a duplicate: the original's)
    bad: str | None = None


def plan(seed: int, count: int, days: int, now: datetime) -> list[Send]:
    """What to send and when, oldest first: weekdays busier than weekends, traffic growing
    over the period, most of it in the day time (UTC)."""
    rng = random.Random(seed)  # noqa: S311 - a demo's dice, not secrets
    first = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    weights = []
    for n in range(days):
        day = first + timedelta(days=n)
        weekend = 0.5 if day.weekday() >= 5 else 1.0
        weights.append(weekend * (0.7 + 0.6 * n / max(1, days - 1)) * rng.uniform(0.85, 1.15))
    scale = count / sum(weights)
    per_day = [round(w * scale) for w in weights]
    per_day[-1] += count - sum(per_day)

    sends: list[Send] = []
    seen: dict[str, list[int]] = {}
    names = [c for c, _ in CUSTOMERS]
    shares = [s for _, s in CUSTOMERS]
    for n, events in enumerate(per_day):
        day = first + timedelta(days=n)
        latest = (now - day).total_seconds() if n == days - 1 else 86_399.0
        moments = sorted(_time_of_day(rng, latest) for _ in range(max(0, events)))
        for seconds in moments:
            index = len(sends)
            customer = rng.choices(names, weights=shares)[0]
            path: Source = "upload" if rng.random() < UPLOAD_SHARE else "stream"
            roll = rng.random()
            at = day + timedelta(seconds=seconds)
            earlier = seen.get(customer, [])
            if roll < BAD_SHARE:
                bad = rng.choice(BAD_UPLOADS if path == "upload" else BAD_RECORDS)
                sends.append(Send(index, path, customer, at, "bad", seed * 100_000 + index, bad))
            elif roll < BAD_SHARE + DUPLICATE_SHARE and earlier:
                sends.append(Send(index, path, customer, at, "duplicate", rng.choice(earlier)))
            else:
                picture = seed * 100_000 + index
                seen.setdefault(customer, []).append(picture)
                sends.append(Send(index, path, customer, at, "photo", picture))
    return sends


def _time_of_day(rng: random.Random, latest: float) -> float:
    """Seconds after midnight: mostly 07:00-22:00 UTC, peaking early afternoon."""
    for _ in range(20):
        seconds = rng.gauss(14 * 3600, 4 * 3600)
        if 0 <= seconds <= min(latest, 86_399):
            return seconds
    return rng.uniform(0, max(0.0, min(latest, 86_399)))  # early today: what time there is


# --- what the demo sends ----------------------------------------------------------------------


def picture(send: Send) -> Photo:
    from services.commands import demo_photos

    return demo_photos.photo(send.seed, send.at)


def bad_bytes(send: Send) -> tuple[bytes, str]:
    from services.commands import demo_photos

    if send.bad == "truncated":
        whole = demo_photos.photo(send.seed, send.at, fmt="jpeg")
        return demo_photos.truncated(whole.data), "image/jpeg"
    if send.bad == "pdf":
        return demo_photos.PDF, "application/pdf"
    if send.bad == "svg":
        return demo_photos.SVG, "image/svg+xml"
    if send.bad == "text":
        return demo_photos.TEXT, "text/plain"
    if send.bad == "bomb":
        return demo_photos.oversized_png_header(), "image/png"
    raise ValueError(f"no bad bytes named {send.bad}")


# When the upload being sent was "received": set in each upload's task, read in the thread
# that writes its facts (httpx's ASGI transport and Starlette's thread pool carry it along).
RECEIVED_AT: ContextVar[datetime | None] = ContextVar("demo_received_at", default=None)


class Backdated:
    """Object storage, with the facts of uploads dated by the demo's clock: the API receives
    an upload "now", and the demo replays two weeks of them in a minute. Stream records need
    no help: their Kafka timestamp is their received time."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        at = RECEIVED_AT.get()
        if at is not None and key.startswith(layout.FACTS):
            data = facts.encode(_backdated(facts.decode(data), at))
        self._inner.put(key, data, content_type, cache_control)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _backdated(rows: list[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    """Upload events received at `at`, and the images they created first seen then."""
    when = at.isoformat()
    uploads = {r["event_id"] for r in rows if r["kind"] == "event" and r["source"] == "upload"}
    for row in rows:
        if row["kind"] == "event" and row["event_id"] in uploads:
            row["received_at"] = when
        elif row["kind"] == "image" and row["first_event_id"] in uploads:
            row["first_seen_at"] = when
    return rows


def demo_keys(seed: int) -> dict[str, str]:
    """A key per demo customer for the API in this process (its settings get their digests)."""
    return {
        name: hashlib.sha256(f"imgpipe-demo:{seed}:{name}".encode()).hexdigest()
        for name, _ in CUSTOMERS
    }


@dataclass
class Tally:
    uploads: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    records: int = 0
    events: int = 0
    dead_lettered: int = 0


def upload_body(send: Send) -> tuple[bytes, str]:
    if send.kind == "bad":
        return bad_bytes(send)
    photo = picture(send)
    return photo.data, photo.content_type


async def send_upload(
    client: httpx.AsyncClient, send: Send, seed: int, headers: dict[str, str]
) -> int:
    """POST the send to /v1/images; its status code (refusals are part of the demo)."""
    import asyncio

    RECEIVED_AT.set(send.at)
    data, content_type = await asyncio.to_thread(upload_body, send)
    request_headers = {**headers, "Idempotency-Key": f"demo-{seed}-{send.index}"}
    if send.index % 2:
        request_headers["Content-Type"] = content_type
        response = await client.post("/v1/images", content=data, headers=request_headers)
    else:
        name = f"IMG_{send.index:04d}.{content_type.rsplit('/', 1)[-1]}"
        files = {"file": (name, data, content_type)}
        response = await client.post("/v1/images", files=files, headers=request_headers)
    if response.status_code in {401, 403} or response.status_code >= 500:
        raise RuntimeError(f"POST /v1/images answered {response.status_code}: {response.text}")
    return response.status_code


def record_for(send: Send, seed: int) -> Any:
    """The Kafka record a producer would have sent: raw bytes with headers, or a JSON
    envelope; bad ones as real producers get them wrong."""
    from services.stream_worker.records import KafkaRecord

    partition = int(hashlib.sha256(send.customer.encode()).hexdigest(), 16) % PARTITIONS
    common: dict[str, Any] = {
        "topic": TOPIC,
        "partition": partition,
        # Offsets from the seed: another seed never reuses a coordinate (the event id).
        "offset": seed * 1_000_000 + send.index,
        "timestamp": int(send.at.timestamp() * 1000),
    }
    customer = ("customer-id", send.customer.encode())
    if send.kind == "bad":
        if send.bad == "tombstone":
            return KafkaRecord(**common, value=None, headers=(customer,))
        if send.bad in {"bad_base64", "forbidden_source"}:
            envelope: dict[str, Any] = {"customer_id": send.customer}
            if send.bad == "bad_base64":
                envelope["image_base64"] = "this is not base64!"
            else:
                envelope["image_s3_uri"] = "s3://someone-elses-bucket/photo.jpg"
            value = json.dumps(envelope).encode()
            return KafkaRecord(
                **common, value=value, headers=(("content-type", b"application/json"), customer)
            )
        data, content_type = bad_bytes(send)
        return KafkaRecord(
            **common, value=data, headers=(("content-type", content_type.encode()), customer)
        )
    photo = picture(send)
    if send.index % 3 == 0:
        envelope = {
            "customer_id": send.customer,
            "image_base64": base64.b64encode(photo.data).decode(),
            "metadata": {"album": "demo", "sequence": send.index},
        }
        return KafkaRecord(
            **common,
            value=json.dumps(envelope).encode(),
            headers=(("content-type", b"application/json"),),
        )
    return KafkaRecord(
        **common,
        value=photo.data,
        headers=(("content-type", photo.content_type.encode()), customer),
    )


def send_records(sends: Sequence[Send], seed: int, ctx: Context, dead_letters: Any) -> None:
    """One MSK event with the sends' records, through the stream Lambda handler."""
    from services.stream_worker.batch import handle_event
    from services.stream_worker.records import msk_event

    records = [record_for(s, seed) for s in sends]
    response = handle_event(msk_event(records, source_arn="arn:aws:kafka:demo"), ctx, dead_letters)
    if response["batchItemFailures"]:
        raise RuntimeError(f"the stream handler could not store a batch: {response}")


def units(sends: Sequence[Send]) -> Iterator[list[Send]]:
    """What is sent at once, in time order: each upload alone, stream records in MSK events
    of up to BATCH records received within an hour, as a Lambda batch window gathers them."""
    batch: list[Send] = []
    for send in sends:
        if send.path == "upload":
            yield [send]
            continue
        if batch and (len(batch) >= BATCH or send.at - batch[0].at > timedelta(hours=1)):
            yield batch
            batch = []
        batch.append(send)
    if batch:
        yield batch


async def replay(
    sends: Sequence[Send],
    *,
    seed: int,
    ctx: Context,
    client: httpx.AsyncClient,
    headers_for: dict[str, dict[str, str]],
    progress: bool,
) -> Tally:
    """Send everything, a few units at a time: storage syncs every object it writes, and
    waiting for one sync at a time would leave the processors idle."""
    import asyncio

    from services.stream_worker.deadletter import BucketDeadLetters

    # Dead letters go to the bucket: the demo needs no Kafka broker.
    dead_letters = BucketDeadLetters(ctx.objects)
    tally = Tally()
    slots = asyncio.Semaphore(CONCURRENCY)
    done = 0

    async def deliver(unit: list[Send]) -> None:
        nonlocal done
        async with slots:
            first = unit[0]
            if first.path == "upload":
                status = await send_upload(client, first, seed, headers_for.get(first.customer, {}))
                tally.uploads += 1
                if status == 201:
                    tally.stored += 1
                elif status == 200:
                    tally.duplicates += 1
                else:
                    tally.refused += 1
            else:
                await asyncio.to_thread(send_records, unit, seed, ctx, dead_letters)
                tally.records += len(unit)
                tally.events += 1
                tally.dead_lettered += sum(1 for s in unit if s.kind == "bad")
            done += len(unit)
            if progress:
                print(f"\r  sent {done}/{len(sends)}", end="", file=sys.stderr, flush=True)

    # gather, not a TaskGroup: the first failure comes out as itself, not in a group.
    await asyncio.gather(*(deliver(unit) for unit in units(sends)))
    if progress:
        print(file=sys.stderr)
    return tally


def run(args: argparse.Namespace) -> int:
    import asyncio

    if args.count < 1 or args.days < 1:
        print("imgpipe demo: --count and --days must be at least 1", file=sys.stderr)
        return 2
    if args.api_key and not args.url:
        print("imgpipe demo: --api-key goes with --url", file=sys.stderr)
        return 2
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    import httpx

    from core.bootstrap import Context, build_context
    from core.config import get_settings
    from core.errors import TransientError
    from core.loader import load_once

    started = time.perf_counter()
    now = datetime.now(UTC)
    settings = get_settings().model_copy(update={"log_level": "WARNING"})
    logging.getLogger("imgpipe").setLevel(logging.WARNING)
    base = build_context(settings)
    objects = base.objects if args.url else Backdated(base.objects)
    ctx = Context(settings, objects, base.warehouse)
    sends = plan(args.seed, args.count, args.days, now)
    print(
        f"imgpipe demo: {len(sends)} events over {args.days} days into {settings.storage_url} "
        f"and the warehouse {_where(settings.database_url)}",
        file=sys.stderr,
    )
    try:
        client, headers_for = _client(args, ctx)
        async with client:
            tally = await replay(
                sends,
                seed=args.seed,
                ctx=ctx,
                client=client,
                headers_for=headers_for,
                progress=sys.stderr.isatty(),
            )
        while load_once(base).pending:  # what was sent, into the warehouse, before reading it
            pass
        stats = base.warehouse.stats(since=(now - timedelta(days=args.days - 1)).date())
    except (TransientError, httpx.HTTPError, RuntimeError) as exc:
        print(f"\nimgpipe demo: stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        base.close()
    print(summary(tally, stats, time.perf_counter() - started, args))
    return 0


def _client(
    args: argparse.Namespace, ctx: Context
) -> tuple[httpx.AsyncClient, dict[str, dict[str, str]]]:
    """The HTTP client for the uploads, and each customer's headers: a running server
    (--url, one key for all), or the app in this process with a key per demo customer."""
    import httpx
    from pydantic import SecretStr

    from core.bootstrap import Context
    from services.upload_api.app import create_app

    if args.url:
        shared = {"X-API-Key": args.api_key} if args.api_key else {}
        client = httpx.AsyncClient(base_url=args.url, timeout=60)
        return client, {name: shared for name, _ in CUSTOMERS}
    keys = demo_keys(args.seed)
    digests = [
        SecretStr(f"{name}:{hashlib.sha256(key.encode()).hexdigest()}")
        for name, key in keys.items()
    ]
    app_settings = ctx.settings.model_copy(update={"auth": "keys", "api_keys": digests})
    app = create_app(ctx=Context(app_settings, ctx.objects, ctx.warehouse))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://demo.local", timeout=60
    )
    return client, {name: {"X-API-Key": key} for name, key in keys.items()}


def _where(url: str) -> str:
    from core.repository.warehouse import redacted_url

    return redacted_url(url)


def summary(tally: Tally, stats: Stats, seconds: float, args: argparse.Namespace) -> str:
    t = stats.totals
    where = args.url or "http://127.0.0.1:8000"
    lines = [
        f"Sent {tally.uploads + tally.records} events in {seconds:.1f} s:",
        f"  uploads through the API: {tally.uploads} "
        f"({tally.stored} stored, {tally.duplicates} duplicates, {tally.refused} refused)",
        f"  stream records through the MSK handler: {tally.records} in {tally.events} events "
        f"({tally.dead_lettered} bad ones dead-lettered)",
        f"The warehouse's last {args.days} days: {t.events:,} events, {t.processed:,} new images,"
        f" {t.duplicates:,} duplicates, {t.rejected:,} rejected.",
        f"See them: {where}/dashboard"
        + ("" if args.url else " (start the API with `make run`)")
        + f", or `imgpipe stats --since {args.days - 1}d`.",
    ]
    return "\n".join(lines)
