"""The fact loader on real stores and databases: every row once, whatever delivers facts twice,
cuts a load short or writes a fact object that is not one."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from core import facts, layout
from core.bootstrap import Context
from core.config import Settings, load_settings
from core.ingest import ingest, ingest_batch
from core.loader import LoaderThread, lag_seconds, load_once
from core.models import IngestRequest, utcnow
from core.repository.migrations import upgrade
from core.repository.objects import open_object_store
from core.repository.warehouse import Warehouse, create_warehouse_engine
from tests import images
from tests.harness.app import ROOT

THUMB_ONLY = "thumb:64:jpeg:70"


@dataclass
class Stack:
    ctx: Context
    url: str

    def count(self, table: str) -> int:
        with self.ctx.warehouse.engine.connect() as conn:  # type: ignore[attr-defined]
            return int(conn.execute(sa.text(f"select count(*) from {table}")).scalar_one())

    def facts(self) -> list[str]:
        return self.ctx.objects.keys(layout.FACTS)

    def with_settings(self, **overrides: Any) -> Context:
        values = {
            name: getattr(self.ctx.settings, name)
            for name in ("storage_url", "database_url", "s3_endpoint_url", "aws_region")
        }
        settings = load_settings(**values, renditions=THUMB_ONLY, **overrides)
        return Context(settings, self.ctx.objects, self.ctx.warehouse)


def _stack(settings: Settings) -> Stack:
    engine = create_warehouse_engine(settings.database_url)
    upgrade(engine)
    return Stack(
        Context(settings, open_object_store(settings), Warehouse(engine)), settings.database_url
    )


@pytest.fixture(params=["folder+sqlite", "s3+postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    if request.param == "folder+sqlite":
        settings = load_settings(
            storage_url=f"file://{tmp_path / 'objects'}",
            database_url=f"sqlite:///{tmp_path / 'warehouse.db'}",
            renditions=THUMB_ONLY,
        )
    else:
        make_settings: Callable[..., Settings] = request.getfixturevalue("make_settings")
        settings = make_settings(
            database_url=request.getfixturevalue("postgres_url"), renditions=THUMB_ONLY
        )
    built = _stack(settings)
    yield built
    built.ctx.warehouse.engine.dispose()  # type: ignore[attr-defined]


def _request(data: bytes, **extra: Any) -> IngestRequest:
    return IngestRequest(
        customer_id=extra.pop("customer", "acme"),
        source=extra.pop("source", "upload"),
        event_id=extra.pop("event_id", str(uuid.uuid4())),
        data=data,
        **extra,
    )


def _photos(count: int, seed: int = 0) -> list[bytes]:
    return [images.mosaic_jpeg(48, 32, seed=seed + i) for i in range(count)]


def test_an_ingest_call_writes_one_fact_object_and_its_rows_load_once(stack: Stack) -> None:
    photos = _photos(3)
    batch = [_request(p) for p in photos] + [_request(photos[0]), _request(images.SVG)]
    results = ingest_batch(batch, stack.ctx)
    assert [r.status for r in results] == [
        "processed",
        "processed",
        "processed",
        "duplicate",
        "rejected",
    ]
    (fact,) = stack.facts()
    assert fact.startswith("facts/") and fact.endswith(".ndjson.gz")

    report = load_once(stack.ctx)
    assert (report.files, report.pending, report.lag_seconds) == (1, 0, 0.0)
    assert report.rows == {"superseded": 0, "images": 3, "renditions": 3, "ingest_events": 5}
    again = load_once(stack.ctx)
    assert (again.files, again.rows) == (0, {})
    assert (stack.count("images"), stack.count("ingest_events")) == (3, 5)
    assert stack.count("loaded_facts") == 1


def test_facts_delivered_again_under_other_keys_and_overlapping_ones_make_no_second_row(
    stack: Stack,
) -> None:
    photos = _photos(4, seed=10)
    ingest_batch([_request(p, event_id=f"e{i}") for i, p in enumerate(photos[:2])], stack.ctx)
    (first,) = stack.facts()
    original = stack.ctx.objects.get(first)
    # The same fact object again (a writer's retry after a lost answer) ...
    stack.ctx.objects.put(facts.new_fact_key(), original, facts.CONTENT_TYPE)
    # ... and one that overlaps it: e1 again, with e2 and e3 that are new.
    ingest_batch(
        [_request(p, event_id=f"e{i}") for i, p in enumerate(photos[:4]) if i >= 1], stack.ctx
    )
    assert len(stack.facts()) == 3

    report = load_once(stack.ctx)
    assert report.files == 3
    assert (stack.count("images"), stack.count("renditions")) == (4, 4)
    assert stack.count("ingest_events") == 4
    with stack.ctx.warehouse.engine.connect() as conn:  # type: ignore[attr-defined]
        statuses = dict(conn.execute(sa.text("select event_id, status from ingest_events")).all())
    assert statuses == {f"e{i}": "processed" for i in range(4)}


def test_a_load_is_bounded_and_the_next_ones_take_the_rest_oldest_first(stack: Stack) -> None:
    for photo in _photos(5, seed=20):
        ingest(_request(photo), stack.ctx)
    keys = stack.facts()
    ctx = stack.with_settings(load_max_files=2)

    first = load_once(ctx)
    # The listing goes one object past the bound: enough to know that more is waiting.
    assert (first.files, first.pending) == (2, 1)
    assert first.lag_seconds > 0
    with ctx.warehouse.engine.connect() as conn:  # type: ignore[attr-defined]
        loaded = sorted(conn.execute(sa.text("select fact_key from loaded_facts")).scalars())
    assert loaded == keys[:2]
    assert [load_once(ctx).files for _ in range(3)] == [2, 1, 0]
    assert stack.count("ingest_events") == 5
    assert lag_seconds(ctx) == 0.0


def test_a_fact_object_that_lands_late_is_still_loaded(stack: Stack) -> None:
    ingest(_request(_photos(1, seed=30)[0]), stack.ctx)
    load_once(stack.ctx)
    # Written by a writer whose clock runs a minute behind, after the newer one was loaded.
    late = layout.fact_key(layout.new_ulid(utcnow() - timedelta(minutes=1)))
    result = ingest_batch([_request(_photos(1, seed=31)[0])], stack.ctx)
    newest = stack.facts()[-1]
    stack.ctx.objects.put(late, stack.ctx.objects.get(newest), facts.CONTENT_TYPE)
    stack.ctx.objects.delete(newest)

    report = load_once(stack.ctx)
    assert report.files == 1
    assert stack.count("ingest_events") == 2
    assert result[0].status == "processed"


def _land_late(stack: Stack, behind: timedelta, seed: int | None = None) -> None:
    """A fact object written by a writer whose clock runs `behind`, after newer ones loaded."""
    _land_at(stack, utcnow() - behind, int(behind.total_seconds()) if seed is None else seed)


def _land_at(stack: Stack, at: datetime, seed: int) -> None:
    late = layout.fact_key(layout.new_ulid(at))
    ingest_batch([_request(_photos(1, seed=seed)[0])], stack.ctx)
    newest = stack.facts()[-1]
    stack.ctx.objects.put(late, stack.ctx.objects.get(newest), facts.CONTENT_TYPE)
    stack.ctx.objects.delete(newest)


class _Measured:
    """A store or warehouse as it is, noting the size of every listing or key set it answers."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sizes: list[int] = []

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if not callable(value):
            return value

        def measured(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            if isinstance(result, set) or name == "scan":
                self.sizes.append(len(result))
            return result

        return measured


def test_a_whole_window_look_back_holds_one_load_of_keys_at_a_time(stack: Stack) -> None:
    for photo in _photos(8, seed=50):
        ingest(_request(photo), stack.ctx)
        time.sleep(0.003)  # milliseconds apart: a late fact can land between two
    ctx = stack.with_settings(load_max_files=3)
    while load_once(ctx).files:
        pass
    keys = stack.facts()
    between = layout.ulid_time(keys[3].rsplit("/", 1)[-1][:26]) + timedelta(milliseconds=1)
    _land_at(stack, between, seed=60)  # behind four loaded facts, ahead of four more

    objects, warehouse = _Measured(ctx.objects), _Measured(ctx.warehouse)
    report = load_once(Context(ctx.settings, objects, warehouse))
    assert (report.files, stack.count("ingest_events")) == (1, 9)
    # The window holds nine facts; a load's worth is three, and one more to know of the rest.
    assert objects.sizes and max(objects.sizes) <= 4
    assert warehouse.sizes and max(warehouse.sizes) <= 4


def test_a_short_look_back_leaves_an_older_late_fact_to_a_whole_window_load(stack: Stack) -> None:
    ingest(_request(_photos(1, seed=32)[0]), stack.ctx)
    load_once(stack.ctx)
    _land_late(stack, timedelta(minutes=2))

    assert load_once(stack.ctx, look_back=30).files == 0
    assert load_once(stack.ctx).files == 1
    assert stack.count("ingest_events") == 2


def test_the_loader_thread_looks_back_the_whole_window_first_and_once_a_sweep_period(
    stack: Stack,
) -> None:
    from core import loader

    ingest(_request(_photos(1, seed=33)[0]), stack.ctx)
    thread = LoaderThread(stack.ctx, interval=60)  # its steps run here, the thread never starts
    _land_late(stack, timedelta(minutes=3))
    thread._load()  # the first load: the whole window
    assert stack.count("ingest_events") == 2
    _land_late(stack, timedelta(minutes=4))
    _land_late(stack, timedelta(seconds=5))
    thread._load()  # the recent look-back: only the fact a moment late
    assert stack.count("ingest_events") == 3
    assert thread._swept is not None
    thread._swept -= loader.SWEEP_SECONDS
    thread._load()
    assert stack.count("ingest_events") == 4


@pytest.mark.parametrize(
    "garbage",
    [
        b"not gzip at all",
        gzip.compress(b'{"kind": "event", "event_id": "x"\n'),  # cut short
        gzip.compress(b'{"kind": "planet"}\n'),
        gzip.compress(json.dumps({"kind": "event", "event_id": "x", "bytes_in": "3"}).encode()),
        gzip.compress(b"\xff\xfe not utf-8\n"),
    ],
    ids=["not-gzip", "bad-json", "unknown-kind", "wrong-types", "not-utf8"],
)
def test_a_fact_object_that_cannot_be_loaded_is_moved_aside_and_the_rest_loads(
    stack: Stack, garbage: bytes
) -> None:
    ingest(_request(_photos(1, seed=40)[0]), stack.ctx)
    bad = facts.new_fact_key()
    stack.ctx.objects.put(bad, garbage, "application/gzip")
    ingest(_request(_photos(1, seed=41)[0]), stack.ctx)

    report = load_once(stack.ctx)
    assert report.rejected == (bad,)
    assert report.files == 2
    assert stack.count("ingest_events") == 2
    assert bad not in stack.facts()
    aside = layout.rejected_fact_key(bad)
    assert stack.ctx.objects.get(aside) == garbage
    assert load_once(stack.ctx).rejected == ()  # never looked at again


def test_replay_rebuilds_a_lost_warehouse_from_the_fact_log_and_twice_writes_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    photos = _photos(3, seed=50)
    ingest_batch([_request(p) for p in photos] + [_request(images.SVG)], stack.ctx)
    ingest(_request(photos[1]), stack.ctx)
    load_once(stack.ctx)
    with stack.ctx.warehouse.engine.begin() as conn:  # type: ignore[attr-defined]
        for table in ("ingest_events", "renditions", "images"):
            conn.execute(sa.text(f"delete from {table}"))

    first = load_once(stack.ctx, replay_after=layout.FACTS)
    assert first.rows == {"superseded": 0, "images": 3, "renditions": 3, "ingest_events": 5}
    assert first.files == 0  # both were in the ledger already: loaded again, recorded once
    second = load_once(stack.ctx, replay_after=layout.FACTS)
    assert sum(second.rows.values()) == 0
    assert stack.count("loaded_facts") == 2


def test_a_background_loader_catches_up_while_ingest_goes_on(stack: Stack) -> None:
    loader = LoaderThread(stack.ctx, interval=0.05).start()
    try:
        for photo in _photos(6, seed=60):
            ingest(_request(photo), stack.ctx)
        deadline = time.monotonic() + 30
        while stack.count("ingest_events") < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        loader.stop()
    assert stack.count("ingest_events") == 6
    assert loader.failures == 0
    assert loader.last is not None and loader.last.pending == 0


_BLOCKED_LOADER = """
import sys
from core.bootstrap import build_context
from core.config import load_settings
from core.loader import load_once
ctx = build_context(load_settings(storage_url=sys.argv[1], database_url=sys.argv[2],
                                  s3_endpoint_url=sys.argv[3], aws_region="us-east-1"))
print("loading", flush=True)
load_once(ctx)
print("loaded", flush=True)
"""


@pytest.mark.slow
def test_a_loader_killed_in_the_middle_of_a_load_leaves_nothing_and_the_next_load_all_once(
    make_settings: Callable[..., Settings], postgres_url: str, postgres_server: str
) -> None:
    stack = _stack(make_settings(database_url=postgres_url, renditions=THUMB_ONLY))
    photos = _photos(4, seed=70)
    for photo in photos:
        ingest(_request(photo), stack.ctx)
    schema = str(sa.engine.make_url(postgres_url).query["options"]).removeprefix("-csearch_path=")
    plain = sa.engine.make_url(postgres_server).set(drivername="postgresql")
    with psycopg.connect(plain.render_as_string(hide_password=False)) as holder:
        # The loader stages its rows and inserts images and renditions, then waits here for
        # the events table, inside its transaction: where the kill lands.
        holder.execute(f'lock table "{schema}".ingest_events in access exclusive mode')
        settings = stack.ctx.settings
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _BLOCKED_LOADER,
                settings.storage_url,
                postgres_url,
                str(settings.s3_endpoint_url),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "loading"
        _wait_for_lock_wait(holder, schema)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        holder.rollback()

    assert (stack.count("images"), stack.count("loaded_facts")) == (0, 0)
    report = load_once(stack.ctx)
    assert report.files == 4
    assert (stack.count("images"), stack.count("ingest_events")) == (4, 4)


def _wait_for_lock_wait(holder: psycopg.Connection[Any], schema: str) -> None:
    """Until another session waits for a lock on the schema's events table."""
    deadline = time.monotonic() + 30
    query = (
        "select count(*) from pg_locks l join pg_class c on c.oid = l.relation "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where not l.granted and c.relname = 'ingest_events' and n.nspname = %s"
    )
    while time.monotonic() < deadline:
        with psycopg.connect(holder.info.dsn, autocommit=True) as probe:
            waiting = probe.execute(query, (schema,)).fetchone()
        if waiting and waiting[0]:
            return
        time.sleep(0.05)
    raise AssertionError("the loader never reached the events table")
