"""`imgpipe demo`: two weeks of traffic through both paths, with duplicates and bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.repository.warehouse import Warehouse, create_warehouse_engine
from core.stats import Stats
from services.commands.demo import plan
from tests.harness.app import run_imgpipe

# End-to-end: the demo runs once per session (about half a minute), shared with the browser test.
pytestmark = pytest.mark.slow


def warehouse_in(workdir: Path) -> Iterator[Warehouse]:
    engine = create_warehouse_engine(f"sqlite:///{workdir}/.imgpipe/warehouse.db")
    try:
        yield Warehouse(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def demo_stats(demo_workdir: Path) -> Stats:
    for warehouse in warehouse_in(demo_workdir):
        return warehouse.stats(since=datetime.now(UTC).date() - timedelta(days=13))
    raise AssertionError("unreachable")


def test_demo_sends_a_few_hundred_events_through_both_paths(demo_stats: Stats) -> None:
    totals = demo_stats.totals
    assert 250 <= totals.events <= 300
    sources = {row.source for row in demo_stats.daily}
    assert sources == {"upload", "stream"}
    by_source = {
        source: sum(r.events for r in demo_stats.daily if r.source == source) for source in sources
    }
    assert min(by_source.values()) >= 80, by_source


def test_demo_has_duplicates_and_bad_input_of_several_kinds(demo_stats: Stats) -> None:
    totals = demo_stats.totals
    assert totals.duplicates >= 5
    assert totals.rejected >= 5
    assert len(totals.rejections_by_reason) >= 3, totals.rejections_by_reason
    rejected_by = {r.source for r in demo_stats.rejections}
    assert rejected_by == {"upload", "stream"}
    duplicated_by = {r.source for r in demo_stats.daily if r.status == "duplicate"}
    assert duplicated_by == {"upload", "stream"}


def test_demo_spreads_both_paths_over_the_last_two_weeks(demo_stats: Stats) -> None:
    for source in ("upload", "stream"):
        days = {r.day for r in demo_stats.daily if r.source == source}
        assert len(days) >= 12, (source, sorted(days))
    assert {r.day for r in demo_stats.latency} == {r.day for r in demo_stats.daily}


def test_demo_brings_a_format_mix_and_several_customers(demo_stats: Stats) -> None:
    assert {f.format for f in demo_stats.formats} >= {"jpeg", "png", "webp", "gif", "tiff"}
    assert len(demo_stats.customers) >= 5
    assert demo_stats.totals.output_ratio is not None and demo_stats.totals.output_ratio < 1


def test_demo_stores_renditions_and_dead_letters(demo_workdir: Path, demo_stats: Stats) -> None:
    objects = demo_workdir / ".imgpipe" / "objects"
    thumbs = list((objects / "renditions" / "thumb").iterdir())
    assert len(thumbs) == demo_stats.totals.processed
    letters = list((objects / "dead-letter").rglob("*.json"))
    stream_rejections = sum(r.events for r in demo_stats.rejections if r.source == "stream")
    assert len(letters) == stream_rejections
    assert all(json.loads(p.read_text()).get("error") for p in letters)


def test_demo_tells_where_to_look(demo_workdir: Path) -> None:
    out = (demo_workdir / "demo.out").read_text()
    assert out.startswith("Sent 300 events")
    assert "/dashboard" in out and "imgpipe stats" in out


def test_demo_again_with_the_same_seed_adds_nothing(tmp_path: Path) -> None:
    first = run_imgpipe(tmp_path, "demo", "--count", "40", "--seed", "99")
    assert first.returncode == 0, first.stderr
    counted = []
    for _ in range(2):
        for warehouse in warehouse_in(tmp_path):
            counted.append(warehouse.stats().totals)
        if len(counted) == 1:
            again = run_imgpipe(tmp_path, "demo", "--count", "40", "--seed", "99")
            assert again.returncode == 0, again.stderr
    assert counted[0].events >= 35
    assert counted[1] == counted[0]


def test_the_plan_is_the_same_for_the_same_seed_and_time() -> None:
    now = datetime(2025, 3, 14, 15, 0, tzinfo=UTC)
    sends = plan(7, 300, 14, now)
    assert sends == plan(7, 300, 14, now)
    assert len(sends) == 300
    assert all(now - timedelta(days=14) < s.at <= now for s in sends)
    assert [s.at for s in sends] == sorted(s.at for s in sends)
    assert {s.kind for s in sends} == {"photo", "duplicate", "bad"}
    for send in sends:
        if send.kind == "duplicate":
            original = next(s for s in sends if s.seed == send.seed and s.kind == "photo")
            assert original.customer == send.customer and original.at <= send.at


def test_demo_sends_its_uploads_to_a_running_server_with_url(tmp_path: Path) -> None:
    from tests.harness.app import serving

    data = tmp_path / ".imgpipe"
    env = {
        "IMGPIPE_DATABASE_URL": f"sqlite:///{data}/warehouse.db",
        "IMGPIPE_STORAGE_URL": f"file://{data}/objects",
        "IMGPIPE_AUTH": "open",
        "IMGPIPE_API_KEYS": "",
    }
    before = datetime.now(UTC).date()
    with serving(tmp_path, env) as (base, _log):
        done = run_imgpipe(tmp_path, "demo", "--url", base, "--count", "30", "--seed", "5")
        assert done.returncode == 0, done.stderr
        assert f"{base}/dashboard" in done.stdout
    for warehouse in warehouse_in(tmp_path):
        uploads = warehouse.stats(source="upload")
        streamed = warehouse.stats(source="stream")
    assert uploads.totals.events >= 10
    # The server dates what it receives: uploads land today, for the open API's one customer.
    assert {r.day for r in uploads.daily} <= {before, datetime.now(UTC).date()}
    assert [c.customer_id for c in uploads.customers] == ["local"]
    assert len({r.day for r in streamed.daily}) >= 5
