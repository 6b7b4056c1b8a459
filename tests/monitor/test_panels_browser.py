"""The dfoMonitor's DFOS panels in a real browser (Debian's chromium through Playwright, ``dfos monitor serve``):
every panel renders, the live autoDaily state follows the state file without a reload, and the CAL row's
depth form and the XDM refresh button work.  A screenshot goes to ``test-artifacts/`` (not committed)."""

from __future__ import annotations

import os
import tomllib
from datetime import date
from pathlib import Path

from monitor_helpers import launch_chromium, monitor_server

from dfos.steps.auto_state import write_state
from dfos.steps.headers import extract_headers
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, open_workspace

NIGHT = date(2013, 2, 12)
NOW = "2013-02-13T14:00:00"
PASSWORD = "panel-pw"
ARTIFACTS = Path(os.environ.get("DFOS_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
PANELS = ("auto-daily", "cal-memory", "calchecker", "cron-checks", "transfer", "log-links", "xdm")


def test_the_panels_render_update_live_and_their_buttons_work(uves_night: Workspace) -> None:
    from playwright.sync_api import expect, sync_playwright

    ws = open_workspace(uves_night.root, env={"DFOS_NOW": NOW})
    extract_headers(ws, NIGHT)
    append_flag(ws, "raw_Complete", NIGHT)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DFOS_")},
           "DFOS_MONITOR_PASSWORD": PASSWORD, "DFOS_NOW": NOW}
    with monitor_server(ws.root, env) as port, sync_playwright() as playwright:
        url = f"http://127.0.0.1:{port}"
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url + "/login?next=/")
            page.fill("#password", PASSWORD)
            page.click("#login-button")
            expect(page.locator("#logout")).to_be_visible()
            for name in PANELS:
                expect(page.locator(f"#{name}")).to_be_visible()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "panels.png"), full_page=True)
            expect(page.locator("#auto-daily-state")).to_contain_text("autoDaily: idle")
            row = page.locator('tr[data-date="2013-02-12"]')
            expect(row.locator('a[data-link="status"]')).to_be_visible()

            # autoDaily starts a step: the panel follows without a reload
            page.evaluate("window.loadedOnce = true")
            log = ws.mon_dir / "AUTO_DAILY" / "auto_daily_20130213T140000_1.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("2013-02-13T14:00:00 2013-02-12: header intake\n")
            write_state(ws, "running", NOW, NOW, "2013-02-12: header intake", log)
            expect(page.locator("#auto-daily-state")).to_contain_text("running: 2013-02-12: header intake",
                                                                      timeout=20_000)
            expect(page.locator("#auto-daily .auto-log")).to_have_attribute(
                "href", "/file?path=monitor/AUTO_DAILY/auto_daily_20130213T140000_1.log")
            assert page.evaluate("window.loadedOnce") is True

            # the CAL row's form writes dfos.toml
            page.fill('#memory-depth input[name="N_VCAL_LIST"]', "4")
            page.click('#memory-depth button[data-action="memory-depth"]')
            expect(page.locator("#cal-memory")).to_contain_text("VCAL: newest 4 date(s)")
            parsed = tomllib.loads((ws.root / "dfos.toml").read_text())
            assert parsed["association"]["N_VCAL_LIST"] == 4

            # the XDM refresh button: a new scan, back on the page
            page.click('button[data-action="xdm-refresh"]')
            expect(page).to_have_url(url + "/#xdm")
            expect(page.locator("#xdm")).to_contain_text("data disk:")

            # the per-date status page
            page.click('tr[data-date="2013-02-12"] a[data-link="status"]')
            expect(page.locator("#date-status")).to_contain_text("raw_Complete 2013-02-12")
        finally:
            browser.close()
