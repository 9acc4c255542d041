"""The review step as a reviewer meets it: a real Prefect server, generate-campaign paused
for review, the review page in Debian's chromium (Playwright, executable_path; no browser
download). Approve and reject by click and by key, two pages at once, reload keeps the
decisions, 'Review done' resumes the flow run, which writes the approved set and completes.
Screenshots under test-artifacts/."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from helpers import EXAMPLE_CAMPAIGN, REPO
from optional import CHROMIUM

from pixio_ads.outputs import report
from pixio_ads.settings import from_options

ARTIFACTS = REPO / "test-artifacts"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.needs("chromium"),
]


def _post(path: str, body: dict) -> list[dict]:
    # The REST filter directly: this client version sends null for omitted filters, which its
    # server refuses (as in test_orchestration.py).
    from prefect import get_client

    with get_client(sync_client=True) as client:
        response = client._client.post(path, json={**body, "limit": 50})
        response.raise_for_status()
        return response.json()


def latest_report(campaign_id: str) -> str:
    """The newest version of the run's report artifact (its markdown)."""
    key = report.artifact_key(campaign_id, "report")
    found = _post("/artifacts/filter", {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC"})
    return found[0]["data"] if found else ""


def paused_flow_runs() -> int:
    return len(_post("/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}}}))


def wait_for(condition, timeout: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def decision(page, index: int) -> str:
    return page.locator(".card").nth(index).get_attribute("data-decision")


def test_review_in_a_browser_resumes_the_paused_flow(prefect_harness, tmp_path):
    from pixio_ads.flows.generate_campaign import generate_campaign

    out = tmp_path / "out"
    settings = from_options(steps=1, limit=4, wait_for_review=True, review_port=0, review_timeout_hours=0.05)
    outcome: dict = {}

    def run_flow() -> None:
        state = generate_campaign(str(EXAMPLE_CAMPAIGN), str(out), **settings, return_state=True)
        outcome["state"] = state

    flow_thread = threading.Thread(target=run_flow, daemon=True)
    flow_thread.start()
    page = re.compile(r"review page: \[(http://127\.0\.0\.1:\d+/)\]")
    markdown = wait_for(lambda: page.search(text := latest_report("spring-sale")) and text, what="the review link")
    url = page.search(markdown)[1]
    try:
        review_in_chromium(url, markdown)
    finally:  # whatever failed above, do not leave the flow run waiting beside the next tests
        if flow_thread.is_alive() and paused_flow_runs():
            httpx.post(url + "api/done", json={}, headers={"x-pixio-review": "1"}, timeout=30)
    flow_thread.join(timeout=120)
    state = outcome["state"]
    assert state.is_completed(), state
    approved = pq.read_table(out / "approved.parquet").to_pylist()
    assert len(approved) == 2 and all((out / "approved" / r["output_path"]).is_file() for r in approved)
    statuses = sorted(r["review_status"] for r in pq.read_table(out / "manifest.parquet").to_pylist())
    assert statuses == ["approved", "approved", "rejected", "unreviewed"]
    assert "review: 2 approved, 1 rejected, 1 unreviewed" in latest_report("spring-sale")
    assert (ARTIFACTS / "review-grid.png").stat().st_size > 20_000
    assert "review page: [http" not in latest_report("spring-sale")  # the page is gone: no dead links
    assert Path(out / "contact-sheet.html").read_text().count("approved") >= 2


def review_in_chromium(url: str, markdown: str) -> None:
    """Two reviewers' pages: click and keys, reload, screenshots, then 'Review done'."""
    from playwright.sync_api import sync_playwright

    assert f"]({url}files/thumbs/" in markdown and "file://" not in markdown  # inline best-ranked creatives
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        first = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
        second = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
        first.goto(url)
        second.goto(url)
        assert first.locator(".card").count() == 4
        first.locator(".card").nth(0).get_by_role("button", name="Approve").click()  # by click
        first.locator(".card").nth(1).focus()
        first.keyboard.press("r")  # by key
        second.locator(".card").nth(1).focus()
        second.keyboard.press("ArrowRight")  # arrows move to the third
        second.keyboard.press("a")
        wait_for(lambda: decision(second, 2) == "approved", 10, "second reviewer's decision")
        wait_for(lambda: decision(first, 1) == "rejected", 10, "first reviewer's key")
        first.reload()
        assert [decision(first, i) for i in range(4)] == ["approved", "rejected", "approved", "unreviewed"]
        first.screenshot(path=str(ARTIFACTS / "review-grid.png"), full_page=True)
        first.locator(".card a").first.click()
        first.wait_for_selector("table.scores")
        first.screenshot(path=str(ARTIFACTS / "review-detail.png"), full_page=True)
        assert paused_flow_runs() == 1  # the run waits, paused, while the page is up
        first.goto(url)
        first.get_by_role("button", name="Review done").click()
        wait_for(lambda: "resumes" in first.locator("#status").inner_text(), 10, "review done")
        browser.close()
