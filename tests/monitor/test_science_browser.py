"""Both modes in a real browser: Debian's chromium driven by Playwright against ``dfos monitor serve`` on
the NACO header night (CALIB ABs created; SCIENCE ABs created from the monitor).  No recipe runs.

Screenshots go to ``test-artifacts/`` (or ``$DFOS_TEST_ARTIFACTS``) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from monitor_helpers import FLAT_AB, SCIENCE_AB, decide, launch_chromium, monitor_server, science_night

from dfos.workspace import Workspace

PASSWORD = "science-pw"
ARTIFACTS = Path(os.environ.get("DFOS_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
#: The colour of the rejected-input badge (monitor.css: #c62828).
RED = "rgb(198, 40, 40)"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Workspace]]:
    ws = science_night(tmp_path / "ws")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DFOS_")},
           "DFOS_MONITOR_PASSWORD": PASSWORD, "DFOS_NOW": "2013-02-13T14:00:00"}
    with monitor_server(ws.root, env) as port:
        yield f"http://127.0.0.1:{port}", ws


def test_create_science_abs_and_see_the_rejected_flat_in_red(server: tuple[str, Workspace]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, ws = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        try:
            page.goto(url + "/login?next=/")
            page.fill("#password", PASSWORD)
            page.click("#login-button")
            expect(page.locator("#logout")).to_be_visible()
            expect(page.locator("#science-head")).to_have_text("SCIENCE")
            row = page.locator('tr[data-date="2013-02-12"]')
            science = row.locator('td[data-step="sci_abs"]')
            expect(science).to_have_text("WAIT")  # no SCIENCE AB list yet
            expect(row.locator('td[data-step="abs"] a')).to_have_text("8 ABs")
            create = row.locator('td[data-step="sci_create_ab"]')
            assert create.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 224, 102)"  # OFFER

            create.locator('button[data-mode="SCIENCE"]').click()  # createAB -m SCIENCE as a background job
            expect(page.locator("h1")).to_have_text("createAB -m SCIENCE 2013-02-12")
            expect(page.locator("#job-state")).to_have_text("done", timeout=60_000)
            expect(page.locator("#job-log")).to_contain_text("SCIENCE 2013-02-12: 2 ABs")
            page.goto(url + "/")
            science = page.locator('tr[data-date="2013-02-12"] td[data-step="sci_abs"]')
            expect(science.locator("a")).to_have_text("2 ABs")
            expect(science.locator('[data-progress="SCIENCE"]')).to_have_text("created")
            expect(page.locator('tr[data-date="2013-02-12"] td:last-child')).to_have_text("sci_AB")
            page.screenshot(path=str(ARTIFACTS / "science-1-dates.png"), full_page=True)

            science.locator("a").click()
            expect(page.locator("h1")).to_have_text("AB monitor SCIENCE 2013-02-12")
            expect(page.locator(".rejected-input")).to_have_count(0)
            page.evaluate("window.loadedOnce = true")
            decide(ws, FLAT_AB, "rejected", comment="ghost in the flat")  # the QC scientist rejects the flat
            marker = page.locator(f'tr[data-ab="{SCIENCE_AB}"] .rejected-input')
            expect(marker).to_be_visible(timeout=30_000)  # on the row itself, not in a tooltip; live
            assert page.evaluate("window.loadedOnce") is True  # the live update drew it, not a reload
            expect(marker).to_contain_text(f"MASTER_IMG_FLAT from {FLAT_AB}")
            expect(marker).to_contain_text("ghost in the flat")
            assert marker.locator(".badge").evaluate("e => getComputedStyle(e).backgroundColor") == RED
            expect(page.locator(".rejected-input")).to_have_count(1)  # the other SCIENCE AB is clean
            page.reload()
            expect(marker).to_be_visible()  # and drawn by the server too
            page.screenshot(path=str(ARTIFACTS / "science-2-abs.png"), full_page=True)

            page.click(f'a:text("{SCIENCE_AB}")')
            expect(page.locator("h1")).to_have_text(SCIENCE_AB)
            expect(page.locator("#mode")).to_have_text("SCIENCE")
            expect(page.locator("#rejected-inputs")).to_be_visible()
            expect(page.locator("#rejected-inputs")).to_contain_text(f"{FLAT_AB} was rejected by qc-scientist")
            page.screenshot(path=str(ARTIFACTS / "science-3-ab.png"), full_page=True)
            page.locator("#mode + a").click()  # back to the SCIENCE AB monitor
            expect(page.locator("h1")).to_have_text("AB monitor SCIENCE 2013-02-12")
        finally:
            browser.close()
