"""The acceptance walk of issue 20, in a real browser (Debian's chromium driven by Playwright) against
``dfos monitor serve``, on the small UVES night processed with real esorex, logged in as a named account.

One AB fails for real (its dark frame corrupted in ``$DFO_RAW_DIR/<DATE>``).  All by clicking: createAB and
process from the date row, the job ends red naming the failure; the date table shows the failed and blocked ABs
in colour; the failed AB's reason opens its log at the error line; the frame repaired, one click re-runs the AB
(and the AB it blocked); certify with a comment shown with the person's name; move; finish (confirmed); the
date's job files are gone and DFO_STATUS ends ``cal_Certif``, ``cal_Updated``, ``finished``.

Screenshots go to ``test-artifacts/`` (or ``$DFOS_TEST_ARTIFACTS``), not committed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from monitor_helpers import launch_chromium, monitor_server

from dfos.jobs.model import parse_blocks
from dfos.steps.headers import extract_headers
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, open_workspace
from nights import DARK, FLAT

pytestmark = pytest.mark.esorex

NIGHT = date(2013, 2, 12)
DAY = NIGHT.isoformat()
NOW = "2013-02-13T14:00:00"
USER, PASSWORD = "alice", "alice-walks-pw"
#: The raw frame of the dark AB: corrupted, the AB fails (recipe_error) and blocks the flat that needs its master.
DARK_FRAME = "UVES.2013-02-12T19:41:08.500.fits"
COMMENT = "dark re-run after the corrupted frame was fetched again"
RED = "rgb(198, 40, 40)"
ARTIFACTS = Path(os.environ.get("DFOS_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


@pytest.fixture
def server(uves_night: Workspace) -> Iterator[tuple[str, Workspace]]:
    ws = open_workspace(uves_night.root, env={"DFOS_NOW": NOW})
    extract_headers(ws, NIGHT)
    append_flag(ws, "raw_Complete", NIGHT)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DFOS_")}, "DFOS_NOW": NOW}
    added = subprocess.run([sys.executable, "-m", "dfos.cli.main", "--root", str(ws.root), "monitor", "user", "add",
                            USER], input=PASSWORD + "\n", text=True, env=env, capture_output=True, check=False)
    assert added.returncode == 0, added.stderr
    with monitor_server(ws.root, env) as port:
        yield f"http://127.0.0.1:{port}", ws


def job_files_of(ws: Workspace) -> list[str]:
    return sorted(p.name for p in ws.job_dir.iterdir() if DAY in p.name and not p.name.startswith("."))  # not locks


def blocks_of(ws: Workspace) -> list[str]:
    found = []
    for name in ("JOBS_NIGHT", "JOBS_AUTO"):
        path = ws.job_dir / name
        if path.is_file():
            found += [f"{name} {b.mode}" for b in parse_blocks(path.read_text(encoding="utf-8"), name) if b.date == DAY]
    return found


def test_walk_a_date_with_one_failed_ab_to_its_end(server: tuple[str, Workspace]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, ws = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        def shot(name: str) -> None:
            page.screenshot(path=str(ARTIFACTS / f"walk-{name}.png"), full_page=True)

        try:
            page.goto(url + "/")  # a named account: the name and its own password
            page.fill("#user", USER)
            page.fill("#password", PASSWORD)
            page.click("#login-button")
            expect(page.locator("#who")).to_contain_text(USER)

            # (a) createAB and process from the date row; the job ends red, naming the failure
            row = page.locator(f'tr[data-date="{DAY}"]')
            row.locator('button[data-action="create_ab"]').click()
            expect(page.locator("#job-state")).to_have_text("done", timeout=60_000)
            frame = ws.raw_dir / DAY / DARK_FRAME  # the dark frame arrives broken
            frame.parent.mkdir(parents=True, exist_ok=True)
            frame.write_bytes(b"SIMPLE  =                    T" + b" " * 50 + b"corrupted" * 300)
            page.goto(url + "/")
            row.locator('button[data-action="process"]').click()
            expect(page.locator("#job-state")).to_have_text("failed", timeout=300_000)
            expect(page.locator("#job-state")).to_have_class("job-failed")
            expect(page.locator("#job-problems")).to_contain_text("1 failed")
            expect(page.locator("#job-problems")).to_contain_text(f"{DARK} failed: recipe_error")  # which, and why
            shot("1-job-failed")

            # (b) the date table: 1 failed, 1 blocked, in colour
            page.goto(url + "/")
            cell = page.locator(f'tr[data-date="{DAY}"] td[data-step="abs"]')
            failed = cell.locator('[data-trouble="failed"]')
            expect(failed).to_have_text("1 failed")
            assert failed.evaluate("e => getComputedStyle(e).backgroundColor") == RED
            expect(cell.locator('[data-trouble="blocked"]')).to_have_text("1 blocked")
            shot("2-date-table")

            # (c) the AB monitor: the failed AB's reason opens its log at the error line
            cell.locator("a").first.click()
            expect(page).to_have_url(url + f"/abs/{DAY}")
            dark = page.locator(f'tr[data-ab="{DARK}"]')
            expect(dark.locator('[data-field="state"]')).to_have_text("failed")
            expect(page.locator(f'tr[data-ab="{FLAT}"] [data-field="state"]')).to_have_text("blocked")
            shot("3-ab-monitor")
            dark.locator('a[data-field="log"]').click()
            expect(page.locator("#first-error")).to_be_in_viewport()
            expect(page.locator("#first-error")).to_contain_text("ERROR")
            shot("4-log-at-error")

            # (d) repair the input (the broken frame removed: the run fetches it again from the archive), re-run
            frame.unlink()
            page.goto(url + f"/abs/{DAY}")
            page.locator(f'tr[data-ab="{DARK}"] button.rerun-button').click()  # the dark and the flat it blocked
            expect(page.locator("#job-state")).to_have_text("done", timeout=300_000)
            page.goto(url + f"/abs/{DAY}")
            for name in (DARK, FLAT):
                expect(page.locator(f'tr[data-ab="{name}"] [data-field="state"]')).to_have_text("succeeded")
            expect(page.locator('[data-count="failed"]')).to_have_text("0")
            shot("5-rerun")
            page.goto(url + "/")
            expect(page.locator(f'tr[data-date="{DAY}"] [data-trouble]')).to_have_count(1)  # incomplete only
            expect(page.locator(f'tr[data-date="{DAY}"] [data-trouble="incomplete"]')).to_have_count(1)

            # (e) certify: the dark accepted with a comment, shown with the person's name
            page.locator(f'tr[data-date="{DAY}"] td[data-step="certify_move"] a').click()
            expect(page.locator("#failed-abs")).to_have_text("failed ABs (0)")
            page.get_by_label(f"accept {DARK}").check()
            page.locator(f'tr[data-ab="{DARK}"] input[type="text"]').fill(COMMENT)
            for name in page.locator("table.certify tr[data-ab]").evaluate_all("rows => rows.map(r => r.dataset.ab)"):
                if name != DARK and page.locator(f'tr[data-ab="{name}"] td.v-green').count() == 0:
                    page.get_by_label(f"accept {name}").check()  # the grey ones by hand, the green ones at once
            page.click("#certify-button")
            expect(page.locator("#certify-message")).to_contain_text("certified (cal_Certif)")
            mine = page.locator(f'#cert-history tr[data-ab="{DARK}"]').first
            expect(mine.locator(".cert-by")).to_have_text(USER)
            expect(mine.locator(".cert-comment")).to_have_text(COMMENT)
            shot("6-certified")
            page.goto(url + f"/ab/{DARK}")
            expect(page.locator("#cert-history .cert-by").first).to_have_text(USER)
            expect(page.locator("#cert-history")).to_contain_text(COMMENT)

            # (f) move, then finish: the confirmation names the effects, Confirm runs it
            page.goto(url + "/")
            page.locator('button[data-action="move"]').click()
            expect(page.locator("#job-state")).to_have_text("done", timeout=60_000)
            page.goto(url + "/")
            page.locator('button[data-action="finish"]').click()
            effects = page.locator("#confirm-effects")
            expect(effects).to_contain_text(f"raw frame(s) in $DFO_RAW_DIR/{DAY}")
            expect(effects).to_contain_text(f"execAB_CALIB_{DAY}")
            expect(effects).to_contain_text("removes the date's ToDo block(s): JOBS_NIGHT: CALIB")
            shot("7-confirm-finish")
            page.click("#confirm-button")
            expect(page.locator("#job-state")).to_have_text("done", timeout=120_000)
            shot("8-finished")
        finally:
            browser.close()

    # (g) the date's job files and blocks are gone; DFO_STATUS ends certified, moved, finished
    assert job_files_of(ws) == [] and blocks_of(ws) == []
    flags = [line.flag for line in ws.status_log.read() if line.key == DAY]
    assert flags[-3:] == ["cal_Certif", "cal_Updated", "finished"]
    assert "cal_QC" in flags
    assert not (ws.raw_dir / DAY).is_dir() or not any((ws.raw_dir / DAY).glob("*.fits"))
