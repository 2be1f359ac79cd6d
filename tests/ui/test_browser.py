"""The console in headless Chromium (Debian's, driven by Playwright): pages, hover, filters, actions, live refresh.

Each test saves a screenshot of its page to tests/ui/artifacts/ (gitignored).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ARTIFACTS, ROOT, Site, start_ui, stop

pytestmark = pytest.mark.slow
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no chromium (apt-get install chromium; .ci/run does)")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield tab
        browser.close()


def shot(page: Any, name: str, full_page: bool = True) -> None:
    """Save the page as an artifact once it has settled (a capture during a navigation can fail: try again)."""
    page.wait_for_load_state("load")
    for attempt in range(3):
        try:
            page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)
            return
        except playwright.Error:
            if attempt == 2:
                raise
            page.wait_for_timeout(200)


def run_url(site: Site, name: str) -> str:
    return site.url + "/run?" + urllib.parse.urlencode(site.ids(name))


def test_runs_list_and_filtering(site: Site, page: Any) -> None:
    page.goto(site.url + "/runs")
    rows = page.locator("tr.run-row")
    assert {rows.nth(i).get_attribute("data-status") for i in range(rows.count())} >= {
        "COMPLETED", "FAILED", "CANCELED", "RUNNING"}
    shot(page, "runs.png")
    page.select_option("select[name=status]", "FAILED")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**status=FAILED**")
    assert {rows.nth(i).get_attribute("data-status") for i in range(rows.count())} == {"FAILED"}
    page.fill("input[name=q]", site.runs["broken"].workflow_id)
    page.click("form.filters button[type=submit]")
    assert rows.count() == 1


def test_etl_run_page(site: Site, page: Any) -> None:
    page.goto(run_url(site, "etl"))
    assert page.locator("#tree li.k-group").count() == 1
    assert page.locator("#tree li.k-task").count() == 4
    bar = page.locator("#timeline svg.gantt g.a").first
    bar.locator("rect.run").hover()
    tip = page.locator("#tip")
    tip.wait_for(state="visible")
    assert "attempt 1" in tip.inner_text() and "queue wait" in tip.inner_text()
    assert "clean_rows" in page.locator("#result").inner_text()
    extract = page.locator('#tree li.k-task[data-path="0"]')
    extract.locator("button.fetch", has_text="result").click()
    extract.locator("table.frame").wait_for()  # the step's DataFrame, its first rows
    assert "rows shown" in extract.inner_text()
    shot(page, "run-etl-step-value.png")
    shot(page, "run-etl.png")
    page.click("[data-zoom=in]")
    page.wait_for_function("document.getElementById('timeline').dataset.zoomed === '1'")
    page.goto(site.url + "/run/history?" + urllib.parse.urlencode(site.ids("etl")))
    assert page.locator("#history tbody tr").count() > 10
    shot(page, "history-etl.png")


def test_failed_run_traceback_and_log_tail(site: Site, page: Any) -> None:
    page.goto(run_url(site, "broken"))
    assert "ValueError: boom on 2" in page.locator("#traceback").inner_text()
    assert "<b>not bold</b>" in page.locator("#log-tail").inner_text()  # shown as text, not markup
    shot(page, "run-failed.png")


def test_a_stage_links_its_child_run(site: Site, page: Any) -> None:
    page.goto(run_url(site, "staged"))
    assert page.locator("#tree li.k-stage").count() == 1
    page.click("#tree li.k-stage a.child")
    page.wait_for_selector("text=parent run")
    assert page.locator("#tree li.k-task").count() == 2
    shot(page, "run-stage-child.png")


def test_cancel_from_the_page(site: Site, page: Any) -> None:
    page.goto(run_url(site, "to_cancel"))
    page.fill("#cancel-form input[name=reason]", "from the browser test")
    page.click("#cancel-form button")
    page.click("#confirm")
    page.wait_for_selector("#flash")
    page.wait_for_function("document.getElementById('run-status').textContent === 'CANCELED'", timeout=30_000)
    assert site.runs["to_cancel"].status == "CANCELED"
    shot(page, "run-canceled.png")


def test_signal_from_the_page_and_live_refresh(site: Site, page: Any) -> None:
    page.goto(run_url(site, "to_signal"))
    page.fill("#signal-form input[name=name]", "go")
    page.fill("#signal-form input[name=input]", "41")
    page.click("#signal-form button")
    page.wait_for_selector("#confirm")
    shot(page, "confirm-signal.png", full_page=False)
    page.click("#confirm")
    page.wait_for_selector("#flash")
    # the page refreshes itself while the run is open: no reload
    page.wait_for_function("document.getElementById('run-status').textContent === 'COMPLETED'", timeout=30_000)
    assert site.runs["to_signal"].result() == 42
    shot(page, "run-signalled.png")


def test_a_bad_id_is_a_404_page(site: Site, page: Any) -> None:
    response = page.goto(site.url + "/run?run=nope")
    assert response is not None and response.status == 404
    assert "Not found" in page.inner_text("h1")
    shot(page, "not-found.png", full_page=False)


def test_closed_runs_progress_fills_in_without_a_reload(site: Site, page: Any) -> None:
    proc, url = start_ui(site.folder)  # a console of its own: nothing read or kept yet
    try:
        page.goto(url + "/runs")
        page.evaluate("window.notReloaded = true")
        row = page.locator(f'tr.run-row[data-workflow-id="{site.runs["etl"].workflow_id}"]')
        row.locator("meter").wait_for(timeout=15_000)
        assert "4/4" in row.inner_text()
        assert page.evaluate("window.notReloaded") is True
    finally:
        stop(proc)


def test_the_console_of_runs_on_an_swf_endpoint(pipeflow_url: str, tmp_path: Path, page: Any) -> None:
    """`pipeflow ui --backend swf` over `pipeflow server`: a run started with `run --backend swf`, listed and opened."""
    domain = f"ui-{uuid.uuid4().hex[:10]}"
    shutil.copy(ROOT / "examples" / "pipelines" / "etl.py", tmp_path / "etl.py")
    swf = ["--backend", "swf", "--domain", domain, "--endpoint-url", pipeflow_url]
    done = subprocess.run([sys.executable, "-m", "pipeflow", "run", "etl.py", "--input", '{"rows": 1000, "seed": 7}',
                           "--no-progress", "--json", *swf], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    proc, url = start_ui(tmp_path, *swf)
    try:
        page.goto(url + "/runs")
        rows = page.locator("tr.run-row")
        assert rows.count() == 1 and rows.first.get_attribute("data-status") == "COMPLETED"
        page.goto(url + "/run?" + urllib.parse.urlencode({"wf": run["workflow_id"], "run": run["run_id"]}))
        assert page.locator("#tree li.k-group").count() == 1 and page.locator("#tree li.k-task").count() == 4
        assert "clean_rows" in page.locator("#result").inner_text()
        extract = page.locator('#tree li.k-task[data-path="0"]')
        extract.locator("button.fetch", has_text="result").click()
        extract.locator("table.frame").wait_for()  # the frame, read from the store the run wrote to
        shot(page, "swf-run-etl.png")
    finally:
        stop(proc)
