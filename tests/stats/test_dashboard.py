"""GET /dashboard as served: every chart with its data table, the numbers of GET /v1/stats,
nothing loaded from elsewhere, the empty state, bad dates, and who sees what."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.harness.app import KEYS, headers_for

CHARTS = ("volume", "status", "bytes", "ratio", "latency", "rejections", "formats", "customers")
RANGE = {"from": "2024-02-28", "to": "2024-03-03"}


class Page(HTMLParser):
    """The parts of the page the tests read: sections by chart, their SVG marks and tables."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.section: str | None = None
        self.sections: dict[str, dict[str, Any]] = {}
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.kpis: dict[str, str] = {}
        self._kpi: list[str] | None = None
        self.text_parts: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        figure = attributes.get("data-figure")
        if figure:
            self.section = figure
            self.sections[figure] = {"marks": 0, "rows": [], "svg": None}
        if self.section is not None:
            current = self.sections[self.section]
            if tag == "svg" and attributes.get("data-chart"):
                current["svg"] = attributes
            if (attributes.get("class") or "") in {"bar", "dot", "line"}:
                current["marks"] += 1
            if tag == "tr":
                self.row = []
        if tag in {"th", "td"} and self.row is not None:
            self.cell = []
        if tag == "div" and attributes.get("class") == "kpi":
            self._kpi = []

    def handle_endtag(self, tag: str) -> None:
        if tag in {"th", "td"} and self.row is not None and self.cell is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        if tag == "tr" and self.row is not None and self.section is not None:
            self.sections[self.section]["rows"].append(self.row)
            self.row = None
        if tag == "section":
            self.section = None
        if tag == "div" and self._kpi is not None:
            name, value, *_ = self._kpi
            self.kpis[name] = value
            self._kpi = None

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)
        if self.cell is not None:
            self.cell.append(data)
        if self._kpi is not None and data.strip():
            self._kpi.append(data.strip())

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def table(self, chart: str) -> list[list[str]]:
        """The chart's data table without its header row."""
        rows: list[list[str]] = self.sections[chart]["rows"]
        return rows[1:]


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_dashboard_draws_every_chart_with_a_title_and_a_data_table(client: TestClient) -> None:
    response = client.get("/dashboard", params=RANGE, headers=headers_for("ops"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = Page(response.text)
    assert set(page.sections) == set(CHARTS)
    for chart in CHARTS:
        section = page.sections[chart]
        svg = section["svg"]
        assert svg is not None, chart
        assert svg["role"] == "img"
        assert svg["aria-labelledby"] == f"{chart}-t {chart}-d"
        assert f'<title id="{chart}-t">' in response.text
        assert section["marks"] > 0, f"{chart} draws nothing"
        assert page.table(chart), f"{chart} has no data rows"
    assert "Day (UTC)" in page.text and "Events" in page.text


def test_dashboard_shows_the_numbers_of_the_stats_api(client: TestClient) -> None:
    api = client.get(
        "/v1/stats", params={"from": RANGE["from"], "to": RANGE["to"]}, headers=headers_for("ops")
    ).json()
    page = Page(client.get("/dashboard", params=RANGE, headers=headers_for("ops")).text)

    totals = api["totals"]
    assert number(page.kpis["Events"]) == totals["events"]
    assert number(page.kpis["New images"]) == totals["processed"]
    assert number(page.kpis["Duplicates"]) == totals["duplicates"]
    assert number(page.kpis["Rejected"]) == totals["rejected"]

    per_day_source: dict[tuple[str, str], int] = {}
    per_day_status: dict[tuple[str, str], int] = {}
    for row in api["daily"]:
        key = (row["day"], row["source"].capitalize())
        per_day_source[key] = per_day_source.get(key, 0) + row["events"]
        status = (row["day"], row["status"].capitalize())
        per_day_status[status] = per_day_status.get(status, 0) + row["events"]
    volume = page.sections["volume"]["rows"]
    head = volume[0]
    drawn = {
        (row[0], head[i]): number(row[i])
        for row in volume[1:]
        for i in range(1, len(head) - 1)
        if number(row[i])
    }
    assert drawn == per_day_source
    status_head, *status_rows = page.sections["status"]["rows"]
    drawn_status = {
        (row[0], status_head[i]): number(row[i])
        for row in status_rows
        for i in range(1, len(status_head))
        if number(row[i])
    }
    assert drawn_status == per_day_status
    assert len(volume) - 1 == 5, "one row per day of the range, with or without events"

    reasons = {row[0]: number(row[1]) for row in page.table("rejections")}
    assert reasons == totals["rejections_by_reason"]
    formats = {row[0]: number(row[1]) for row in page.table("formats")}
    assert formats == {f["format"].upper(): f["events"] for f in api["formats"]}
    customers = {row[0]: number(row[1]) for row in page.table("customers")}
    assert customers == {c["customer_id"]: c["events"] for c in api["customers"]}
    processed_days: dict[str, list[int]] = {}
    for r in api["daily"]:
        if r["status"] == "processed":
            both = processed_days.setdefault(r["day"], [0, 0])
            both[0] += r["bytes_in"]
            both[1] += r["bytes_out"]
    assert processed_days
    ratios = {row[0]: row[3] for row in page.table("ratio") if row[3] != "\u2013"}
    assert ratios == {day: f"{out / in_:.2f}" for day, (in_, out) in processed_days.items()}
    latency = {(row[0], row[1]): number(row[2]) for row in page.table("latency")}
    assert latency == {(r["day"], r["source"]): r["events"] for r in api["latency"]}


def test_dashboard_loads_nothing_from_anywhere_else(client: TestClient) -> None:
    response = client.get("/dashboard", params=RANGE, headers=headers_for("ops"))
    page = Page(response.text)
    for tag, attributes in page.tags:
        assert tag not in {"script", "img", "iframe", "object", "embed"}, tag
        for name in ("src", "href", "action"):
            value = attributes.get(name) or ""
            assert not re.match(r"^[a-z]+:", value) or value == "data:,", (tag, name, value)
        if tag == "link":
            assert attributes.get("rel") == "icon", "no stylesheet or font is fetched"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert ' style="' not in response.text, "the policy allows the one stylesheet, not attributes"


def test_dashboard_of_a_range_without_events_shows_the_empty_state(client: TestClient) -> None:
    response = client.get(
        "/dashboard", params={"from": "2030-01-01", "to": "2030-01-14"}, headers=headers_for("ops")
    )
    assert response.status_code == 200
    page = Page(response.text)
    assert "data-empty" in response.text
    assert page.sections == {}
    assert "No images in this range" in page.text
    assert "imgpipe demo" in page.text
    assert any(tag == "form" for tag, _ in page.tags), "the range can still be changed"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"from": "2024-03-05", "to": "2024-03-01"}, "is after"),
        ({"from": "2024-13-01"}, "YYYY-MM-DD"),
        ({"from": "2020-01-01", "to": "2024-03-01"}, "at most 366 days"),
        ({"source": "email"}, "upload or stream"),
        ({"customer": "é" * 65}, "longer than 128 bytes"),
    ],
    ids=["from-after-to", "month-13", "too-long", "unknown-source", "customer-over-128-bytes"],
)
def test_dashboard_with_bad_parameters_answers_422_and_says_why(
    client: TestClient, query: dict[str, str], reason: str
) -> None:
    response = client.get("/dashboard", params=query, headers=headers_for("ops"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    page = Page(response.text)
    assert reason in page.text
    assert 'role="alert"' in response.text
    assert page.sections == {}
    assert any(tag == "form" for tag, _ in page.tags)


def test_default_range_is_the_last_fourteen_days_up_to_today(client: TestClient) -> None:
    page = Page(client.get("/dashboard", headers=headers_for("ops")).text)
    today = datetime.now(UTC).date()
    inputs = {a.get("name"): a.get("value") for tag, a in page.tags if tag == "input"}
    assert inputs["from"] == (today - timedelta(days=13)).isoformat()
    assert inputs["to"] == today.isoformat()


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"me:{key}".encode()).decode()}


def test_a_browser_is_asked_for_the_key_with_basic_authentication(client: TestClient) -> None:
    refused = client.get("/dashboard")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic ")
    wrong = client.get("/dashboard", headers=basic("not-a-key"))
    assert wrong.status_code == 401
    assert client.get("/dashboard", params=RANGE, headers=basic(KEYS["acme"])).status_code == 200


def test_a_customers_dashboard_shows_only_its_numbers_and_no_customer_picker(
    client: TestClient,
) -> None:
    response = client.get("/dashboard", params=RANGE, headers=basic(KEYS["globex"]))
    page = Page(response.text)
    assert number(page.kpis["Events"]) == 3
    assert {row[0] for row in page.table("customers")} == {"globex"}
    assert "customer globex" in page.text
    assert not any(tag == "input" and a.get("name") == "customer" for tag, a in page.tags)
    other = client.get(
        "/dashboard", params={**RANGE, "customer": "acme"}, headers=basic(KEYS["globex"])
    )
    assert other.status_code == 403


def test_an_admin_can_pick_a_customer_on_the_dashboard(client: TestClient) -> None:
    page = Page(
        client.get(
            "/dashboard", params={**RANGE, "customer": "acme"}, headers=headers_for("ops")
        ).text
    )
    assert number(page.kpis["Events"]) == 10
    inputs = {a.get("name"): a.get("value") for tag, a in page.tags if tag == "input"}
    assert inputs["customer"] == "acme"
