"""/docs and /redoc in headless Chromium: they render, and ask nothing of the internet."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.harness.app import ROOT
from tests.harness.tools import chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize(
    ("page", "rendered"),
    [("/docs", ".opblock-summary-path"), ("/redoc", "[data-section-id^='tag/images']")],
)
def test_docs_render_with_no_request_leaving_the_machine(
    embedded_server: str, page: str, rendered: str, tmp_path: Path
) -> None:
    outside: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    with chromium(tmp_path / "profile") as browser:
        browser_page = browser.new_page()

        def route(request_route, request) -> None:  # type: ignore[no-untyped-def]
            host = urlparse(request.url).hostname
            if request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
                request_route.continue_()
            else:
                outside.append(request.url)
                request_route.abort()

        browser_page.route("**/*", route)
        browser_page.on("requestfailed", lambda request: failed.append(request.url))
        browser_page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        browser_page.goto(f"{embedded_server}{page}", wait_until="networkidle")
        browser_page.wait_for_selector(rendered, timeout=30_000)
        text = browser_page.inner_text("body")
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        browser_page.screenshot(path=str(artifacts / f"api{page.replace('/', '-')}.png"))
    assert outside == []
    assert failed == []
    assert errors == []
    assert "/v1/images" in text
