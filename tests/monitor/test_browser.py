"""The monitor in a real browser: Debian's chromium driven by Playwright, against ``dfos monitor serve``
on a synthetic UVES night processed with real esorex.

Screenshots go to ``test-artifacts/`` (or ``$DFOS_TEST_ARTIFACTS``) for a person to look at; they are
not committed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from monitor_helpers import launch_chromium, monitor_server

from dfos.steps.headers import extract_headers
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, open_workspace

pytestmark = pytest.mark.esorex

NIGHT = date(2013, 2, 12)
PASSWORD = "operator-pw"
ARTIFACTS = Path(os.environ.get("DFOS_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


@pytest.fixture
def server(uves_night: Workspace) -> Iterator[tuple[str, Workspace]]:
    ws = open_workspace(uves_night.root, env={"DFOS_NOW": "2013-02-13T14:00:00"})
    extract_headers(ws, NIGHT)
    append_flag(ws, "raw_Complete", NIGHT)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DFOS_")},
           "DFOS_MONITOR_PASSWORD": PASSWORD, "DFOS_NOW": "2013-02-13T14:00:00"}
    with monitor_server(ws.root, env) as port:  # waits until the server answers
        yield f"http://127.0.0.1:{port}", ws


def test_log_in_create_abs_run_the_cascade_and_watch_it_live(server: tuple[str, Workspace]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, ws = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url + "/")
            expect(page).to_have_url(url + "/login?next=/")  # nothing without a login
            page.fill("#password", "wrong")
            page.click("#login-button")
            expect(page.locator("#login-failed")).to_be_visible()
            page.fill("#password", PASSWORD)
            page.click("#login-button")
            expect(page.locator("#logout")).to_be_visible()

            for panel in ("installation", "ab-count", "xdm", "archive", "cron", "last", "todo", "postit", "system"):
                expect(page.locator(f"#{panel}")).to_be_visible()
            row = page.locator('tr[data-date="2013-02-12"]')
            create_ab = row.locator('td[data-step="create_ab"]')
            assert create_ab.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 224, 102)"  # OFFER
            assert row.locator("td.c-green").count() == 1  # complete? (raw_Complete)
            assert row.locator("td.s-wait").count() >= 3  # certify -L, finish, remove wait (grey)
            page.screenshot(path=str(ARTIFACTS / "monitor-1-before.png"), full_page=True)

            create_ab.locator("button").click()  # createAB as a background job with its live log
            expect(page.locator("#job-state")).to_have_text("done", timeout=60_000)
            expect(page.locator("#job-log")).to_contain_text("7 ABs")
            page.goto(url + "/")
            abs_cell = page.locator('tr[data-date="2013-02-12"] td[data-step="abs"]')
            expect(abs_cell.locator("a")).to_have_text("7 ABs")
            abs_cell.locator('button[data-action="process"]').click()  # createJob, the cascade, QC
            expect(page.locator("#job-state")).to_have_text("running")

            page.goto(url + "/abs/2013-02-12")  # the AB monitor follows the cascade without reloading
            page.evaluate("window.loadedOnce = true")
            seen_before_end = page.locator('[data-count="succeeded"]').inner_text()
            expect(page.locator('[data-count="succeeded"]')).to_have_text("5", timeout=180_000)
            assert page.evaluate("window.loadedOnce") is True  # updated live, not by a reload
            assert seen_before_end != "5"
            expect(page.locator('[data-count="incomplete"]')).to_have_text("2")
            expect(page.locator('tr[data-ab="UVES.2013-02-12T18:05:00.500_tpl.ab"] td[data-field="score"]')
                   ).to_have_class("v-green", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "monitor-2-abs.png"), full_page=True)

            page.click('a:text("UVES.2013-02-12T18:40:00.500_tpl.ab")')
            expect(page.locator("h1")).to_have_text("UVES.2013-02-12T18:40:00.500_tpl.ab")
            expect(page.locator("img.qcplot")).to_have_count(1)
            page.screenshot(path=str(ARTIFACTS / "monitor-3-ab.png"), full_page=True)

            page.goto(url + "/health")
            expect(page.locator(".health-card .light-green").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "monitor-4-health.png"), full_page=True)
            page.goto(url + "/")
            expect(page.locator('tr[data-date="2013-02-12"] td:last-child')).to_have_text("cal_QC", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "monitor-5-after.png"), full_page=True)

            # certify (the grey ABs by hand, the green ones at once), move, finish, remove
            page.locator('td[data-step="certify_move"] a').click()
            for name in ("UVES.2013-02-12T21:50:00.500_frm.ab", "UVES.2013-02-12T21:52:00.500_tpl.ab"):
                page.get_by_label(f"accept {name}").check()
            page.click("#certify-button")
            expect(page.locator("#certify-message")).to_contain_text("certified (cal_Certif)")
            page.screenshot(path=str(ARTIFACTS / "monitor-6-certify.png"), full_page=True)
            page.goto(url + "/")
            page.locator('button[data-action="move"]').click()
            expect(page.locator("#job-state")).to_have_text("done", timeout=60_000)
            expect(page.locator("#job-log")).to_contain_text("UV_MBIA_130212A_BLUE.fits")
            page.goto(url + "/")
            page.locator('button[data-action="finish"]').click()
            page.click("#confirm-button")  # destructive: the "are you sure?" page first
            expect(page.locator("#job-state")).to_have_text("done", timeout=60_000)
            page.goto(url + "/")
            page.locator('button[data-action="remove"]').click()
            page.click("#confirm-button")  # destructive: the "are you sure?" page first
            expect(page.locator("#job-state")).to_have_text("done", timeout=60_000)
            page.goto(url + "/")
            expect(page.locator('tr[data-date="2013-02-12"]')).to_have_count(0)  # the date left the monitor
            page.goto(url + "/history")
            expect(page.locator("table.history")).to_contain_text("2013-02-12")
            page.screenshot(path=str(ARTIFACTS / "monitor-7-history.png"), full_page=True)

            # log out: the cookie saved before is refused afterwards (the session ended on the server)
            saved = [cookie for cookie in page.context.cookies() if cookie["name"] == "dfos_monitor"]
            assert saved
            page.click("#logout")
            expect(page).to_have_url(url + "/login?next=/")
            expect(page.locator("#login")).to_be_visible()
            page.context.add_cookies([{"name": c["name"], "value": c["value"], "url": url} for c in saved])  # replay
            assert [c["value"] for c in page.context.cookies() if c["name"] == "dfos_monitor"] == [saved[0]["value"]]
            page.goto(url + "/")
            expect(page).to_have_url(url + "/login?next=/")
            assert page.request.get(url + "/api/dates").status == 401
        finally:
            browser.close()
    assert [line.flag for line in ws.status_log.read()][-4:] == ["cal_Certif", "cal_Updated", "finished", "removed"]
    assert (ws.cal_dir / "2013-02-12" / "UV_MBIA_130212A_BLUE.fits").is_file()
