"""Honest states, confirmations and the dfoMonitor's layout in a real browser (issue 20): Debian's chromium
driven by Playwright at 1024x768 against ``dfos monitor serve`` on a night whose dark AB failed for real."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from honest_night import NOW, failed_night
from monitor_helpers import launch_chromium, monitor_server
from sqlalchemy import update

from dfos.db import cascade_nodes, engine_for_url
from dfos.workspace import Workspace
from nights import BIAS, DAG, DARK

pytestmark = pytest.mark.esorex

PASSWORD = "operator-pw"
#: A POSTIT note longer and wider than its box.
NOTE = "\n".join([f"line {n}: calibrations of 2013-02-12 to be checked" for n in range(60)]
                 + ["a very long line " * 40, "END-OF-NOTE"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, uves_small_archive: Path) -> Iterator[tuple[str, Workspace]]:
    ws = failed_night(tmp_path_factory.mktemp("honest-browser") / "ws", uves_small_archive)
    (ws.mon_dir / "DFO_POSTIT").write_text(NOTE + "\n")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DFOS_")},
           "DFOS_MONITOR_PASSWORD": PASSWORD, "DFOS_NOW": NOW}
    with monitor_server(ws.root, env) as port:
        yield f"http://127.0.0.1:{port}", ws


def test_failures_show_logs_open_at_the_error_and_launching_asks_first(server: tuple[str, Workspace]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, ws = server
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        try:
            page.goto(url + "/login")
            page.fill("#password", PASSWORD)
            page.click("#login-button")
            expect(page.locator("#logout")).to_be_visible()
            page.goto(url + "/")

            # layout: the date table above the fold; the failure in colour in it
            box = page.locator("#dates").bounding_box()
            assert box is not None and box["y"] < 768
            # ... and within 1024 px: no sideways scroll, every column still there
            assert box["x"] + box["width"] <= 1024
            assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
            assert page.locator("#dates thead th").count() == 17
            failed = page.locator('tr[data-date="2013-02-12"] [data-trouble="failed"]')
            expect(failed).to_have_text("1 failed")
            assert failed.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(198, 40, 40)"
            expect(page.locator('tr[data-date="2013-02-12"] td[data-step="abs"]')).to_contain_text(
                "7 ABs · 1 failed · 1 blocked · 2 incomplete")

            # the POSTIT note whole: no line cut at the right, the rest reachable by scrolling its box
            note = page.locator("#postit-text")
            expect(note).to_contain_text("END-OF-NOTE")
            sizes = note.evaluate("e => [e.scrollWidth, e.clientWidth, e.scrollHeight, e.clientHeight,"
                                  " getComputedStyle(e).overflowY]")
            assert sizes[0] <= sizes[1]
            assert sizes[2] <= sizes[3] or sizes[4] in ("auto", "scroll")
            note.evaluate("e => { e.scrollTop = e.scrollHeight; }")
            assert note.evaluate("e => e.scrollTop + e.clientHeight >= e.scrollHeight - 1")

            # the AB monitor: the reason inline, a certification column; the reason opens the log at its error
            page.goto(url + "/abs/2013-02-12")
            reason = page.locator(f'tr[data-ab="{DARK}"] [data-field="reason"]')
            expect(reason).to_be_visible()
            expect(reason).to_contain_text("recipe_error: exit code")
            expect(page.locator(f'tr[data-ab="{DARK}"] [data-field="state"]')).to_contain_text("failed")
            expect(page.locator("th", has_text="certification")).to_be_visible()
            reason.locator("a").click()
            expect(page).to_have_url(re.compile(r"#first-error$"))
            error = page.locator("#first-error")
            expect(error).to_contain_text("[ ERROR ]")
            expect(error).to_be_in_viewport()
            # read whole: the error line wraps inside the log box instead of running out of it
            assert error.evaluate("e => e.getBoundingClientRect().right"
                                  " <= e.closest('pre').getBoundingClientRect().right")
            page.goto(page.url.split("#")[0])  # without the anchor: the log opens at its last line
            expect(page.locator("#file-log > span").last).to_be_in_viewport()
            expect(page.locator("#file-log > span").first).not_to_be_in_viewport()

            # launching JOBS_NIGHT asks first, naming the block and date; Cancel; then Confirm
            page.goto(url + "/")
            launch = page.locator("#todo .todo-row", has_text="JOBS_NIGHT").locator("button")
            launch.click()
            expect(page.locator("#confirm-title")).to_have_text("launch JOBS_NIGHT")
            expect(page.locator("#confirm-effects")).to_contain_text("runs the block CALIB 2013-02-12")
            page.click("#confirm-cancel")
            expect(page.locator("#dates")).to_be_visible()
            assert "cal_QC" not in ws.status_log.path.read_text()  # asking ran nothing
            page.locator("#todo .todo-row", has_text="JOBS_NIGHT").locator("button").click()
            page.click("#confirm-button")
            state = page.locator("#job-state")
            expect(state).to_have_text("failed", timeout=120_000)  # the dark AB failed again: the job is red
            assert state.evaluate("e => getComputedStyle(e).color") == "rgb(198, 40, 40)"
            expect(page.locator("#job-problems")).to_contain_text("ABs failed")
            expect(page.locator("#job-log > span").last).to_be_in_viewport()  # followed live: at its last line
            page.reload()
            expect(page.locator("#job-log > span").last).to_be_in_viewport()

            # the open dfoMonitor follows (/api/dates): one more AB fails, the page redraws with the new count
            page.goto(url + "/")
            expect(failed).to_have_text("1 failed")
            page.evaluate("window.drawnBefore = true")
            with engine_for_url(ws.db_url).begin() as db:
                db.execute(update(cascade_nodes).where(cascade_nodes.c.dag_id == DAG, cascade_nodes.c.ab == BIAS)
                           .values(state="failed"))
            expect(failed).to_have_text("2 failed", timeout=30_000)
            assert page.evaluate("window.drawnBefore") is None
        finally:
            browser.close()
