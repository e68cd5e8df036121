"""The dashboard in headless Chromium, served by uvicorn after `imgpipe demo`: it loads with no
console error and no failed request, draws every chart, fits a phone, and its form works
without script. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.app import serving
from tests.harness.tools import chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHARTS = {
    "volume": "Daily volume by source",
    "status": "Status breakdown",
    "bytes": "Bytes in vs out",
    "ratio": "Output to input ratio",
    "latency": "Processing time p50 and p95",
    "rejections": "Rejection reasons",
    "formats": "Format mix",
    "customers": "Top customers",
}


@pytest.fixture(scope="module")
def dashboard_url(demo_workdir: Path) -> Iterator[str]:
    """uvicorn (`imgpipe serve`) on a free port over the demo's embedded defaults."""
    data = demo_workdir / ".imgpipe"
    env = {
        "IMGPIPE_DATABASE_URL": f"sqlite:///{data}/warehouse.db",
        "IMGPIPE_STORAGE_URL": f"file://{data}/objects",
        "IMGPIPE_AUTH": "open",
        "IMGPIPE_API_KEYS": "",
    }
    with serving(demo_workdir, env) as (base, _log):
        yield f"{base}/dashboard"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with chromium(profile, viewport={"width": 1280, "height": 900}) as context:
        yield context


class Watched:
    """A page with every console error, page error, failed request and HTTP error recorded."""

    def __init__(self, context: Any, width: int = 1280, height: int = 900) -> None:
        self.page = context.new_page()
        self.page.set_viewport_size({"width": width, "height": height})
        self.problems: list[str] = []
        self.requests: list[str] = []
        page = self.page
        page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in {"error", "warning"}
                else None
            ),
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        page.on(
            "response",
            lambda r: (
                self.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
            ),
        )

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    page = Watched(browser)
    yield page
    page.close()


def test_dashboard_loads_clean_and_draws_every_chart(watched: Watched, dashboard_url: str) -> None:
    page = watched.page
    response = page.goto(dashboard_url, wait_until="load")
    assert response is not None and response.status == 200
    assert page.title() == "imgpipe · key statistics"

    for chart_id, title in CHARTS.items():
        chart = page.get_by_role("img", name=title)
        assert chart.is_visible(), chart_id
        box = chart.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 80, (chart_id, box)
        marks = page.locator(f'svg[data-chart="{chart_id}"] :is(.bar, .dot, .line)')
        assert marks.count() > 0, f"{chart_id} draws nothing"
        drawn = marks.first.bounding_box()
        assert drawn is not None and drawn["width"] > 0 and drawn["height"] > 0, chart_id
        rows = page.locator(f'[data-figure="{chart_id}"] table tbody tr')
        assert rows.count() > 0, f"{chart_id} has no data table rows"

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert watched.problems == []
    assert all(url.startswith(dashboard_url.rsplit("/", 1)[0]) for url in watched.requests), (
        watched.requests
    )


def test_dashboard_data_tables_open_without_script(watched: Watched, dashboard_url: str) -> None:
    page = watched.page
    page.goto(dashboard_url)
    table = page.locator('[data-figure="formats"] table')
    assert not table.is_visible()
    page.locator('[data-figure="formats"] summary').click()
    assert table.is_visible()
    assert "JPEG" in table.inner_text()
    assert watched.problems == []


def test_the_date_form_changes_the_range_and_shows_the_empty_state(
    watched: Watched, dashboard_url: str
) -> None:
    page = watched.page
    page.goto(dashboard_url)
    page.fill('input[name="from"]', "2001-01-01")
    page.fill('input[name="to"]', "2001-01-31")
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert "from=2001-01-01" in page.url and "to=2001-01-31" in page.url
    assert page.get_by_role("heading", name="No images in this range").is_visible()
    assert page.locator("svg[data-chart]").count() == 0

    with page.expect_navigation():
        page.get_by_role("link", name="Last 7 days").click()
    assert page.locator("svg[data-chart]").count() == len(CHARTS)
    assert watched.problems == []


def test_dashboard_fits_a_phone(browser: Any, dashboard_url: str) -> None:
    phone = Watched(browser, width=390, height=844)
    try:
        page = phone.page
        page.goto(dashboard_url)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
        for chart_id in CHARTS:
            box = page.locator(f'svg[data-chart="{chart_id}"]').bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, chart_id
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
        assert phone.problems == []
    finally:
        phone.close()
