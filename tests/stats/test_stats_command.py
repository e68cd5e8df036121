"""`imgpipe stats`: the numbers of GET /v1/stats, as tables or as the same JSON document."""

from __future__ import annotations

import argparse
import json
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.repository.warehouse import Warehouse
from services.cli import main
from services.commands.stats import day
from tests.harness.app import headers_for, run_imgpipe

ROOT = Path(__file__).resolve().parents[2]


def imgpipe_stats(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_imgpipe(cwd, "stats", *args, env={"IMGPIPE_DATABASE_URL": database_url})


def section(output: str, title: str) -> list[list[str]]:
    """The rows of one table of the report (after its header and rule), split on 2+ spaces."""
    lines = output.splitlines()
    start = lines.index(title) + 3
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        rows.append([cell.strip() for cell in line.split("  ") if cell.strip()])
    return rows


def test_stats_json_is_the_document_the_api_answers(
    client: TestClient, database_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    done = imgpipe_stats(
        database_url, tmp_path, "--json", "--since", "2024-03-01", "--source", "upload"
    )
    assert done.returncode == 0, done.stderr
    api = client.get(
        "/v1/stats", params={"from": "2024-03-01", "source": "upload"}, headers=headers_for("ops")
    )
    assert json.loads(done.stdout) == api.json()


def test_stats_tables_show_the_numbers_of_warehouse_stats(
    database_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    done = imgpipe_stats(database_url, tmp_path, "--customer", "acme")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("imgpipe statistics: first event .. last event (UTC), customer acme")
    stats = warehouse.stats(customer_id="acme")

    totals = {row[0]: row[1] for row in section(out, "Totals")}
    assert totals["events"] == f"{stats.totals.events:,}"
    assert totals["processed (new images)"] == str(stats.totals.processed)
    assert totals["rejected"] == str(stats.totals.rejected)
    assert totals["bytes in"] == f"{stats.totals.bytes_in:,}"

    daily = {
        (r[0], r[1]): [int(v.replace(",", "")) for v in r[2:]] for r in section(out, "Daily volume")
    }
    expected: dict[tuple[str, str], list[int]] = {}
    for row in stats.daily:
        cell = expected.setdefault((row.day.isoformat(), row.source), [0, 0, 0, 0, 0])
        cell[("processed", "duplicate", "rejected").index(row.status)] += row.events
        cell[3] += row.bytes_in
        cell[4] += row.bytes_out
    assert daily == expected

    reasons = {r[0]: int(r[1]) for r in section(out, "Rejections by reason")}
    assert reasons == stats.totals.rejections_by_reason
    formats = {r[0]: int(r[1]) for r in section(out, "Format mix (accepted events)")}
    assert formats == {f.format: f.events for f in stats.formats}
    latency = {
        (r[0], r[1]): float(r[4]) for r in section(out, "Processing time of processed images (ms)")
    }
    assert latency == {(r.day.isoformat(), r.source): round(r.p95_ms, 1) for r in stats.latency}
    assert [r[0] for r in section(out, "Top customers")] == ["acme"]


def test_stats_of_a_range_without_events_say_so(
    database_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    done = imgpipe_stats(database_url, tmp_path, "--since", "2030-01-01")
    assert done.returncode == 0, done.stderr
    assert "No events in this range." in done.stdout
    as_json = imgpipe_stats(database_url, tmp_path, "--since", "2030-01-01", "--json")
    assert json.loads(as_json.stdout)["totals"]["events"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2024-03-02", "--until", "2024-03-01"], "after"),
        (["--since", "2024-13-01"], "is not a day"),
        (["--top", "0"], "at least 1"),
    ],
    ids=["since-after-until", "month-13", "top-0"],
)
def test_bad_arguments_exit_2_and_say_why(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Refused before any database is opened, so the command runs in this process.
    try:
        code = main(["stats", *args])
    except SystemExit as leaving:  # argparse refuses some before the command runs
        code = leaving.code
    assert code == 2
    out, err = capsys.readouterr()
    assert message in err
    assert out == ""


def test_days_are_dates_today_or_days_ago() -> None:
    today = datetime.now(UTC).date()
    assert day("2024-03-01") == date(2024, 3, 1)
    assert day("today") == today
    assert day("14d") == today - timedelta(days=14)
    with pytest.raises(argparse.ArgumentTypeError):
        day("last week")
