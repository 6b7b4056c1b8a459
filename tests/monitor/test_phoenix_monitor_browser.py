"""The phoenixMonitor in a real browser (Debian's chromium driven by Playwright) against ``dfos monitor serve`` on a
real phoenix campaign: one NACO night taken through ``phoenix -d`` with real esorex (finished), a second date
queued, and a DEEP run created (``-C``) and processed (``-P``) with a recipe time limit so short that every deep
AB fails (a real timeout of the real cascade).  The real clock runs: the estimate has a basis.

Screenshots go to ``test-artifacts/`` (or ``$DFOS_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from monitor_helpers import launch_chromium, monitor_server
from sqlalchemy import func, select

from dfos.ab.lists import read_ab_list
from dfos.db import ab_qc, engine_for_url
from dfos.keys import Mode
from dfos.steps.phoenix import deep_create, deep_process, phoenix_date, queue
from dfos.workspace import Workspace, open_workspace
from naco_night import phoenix_workspace

pytestmark = pytest.mark.esorex

PASSWORD = "campaign-pw"
NIGHT, NEXT = date(2013, 2, 12), date(2013, 2, 14)
RUN = "090.C-0456A"
ARTIFACTS = Path(os.environ.get("DFOS_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
#: The red of trouble (monitor.css ``.trouble``: #c62828).
RED = "rgb(198, 40, 40)"


def _campaign(root: Path) -> Workspace:
    phoenix_workspace(root, NIGHT)
    ws = open_workspace(root, env={})  # the real clock: the campaign's times are real
    assert phoenix_date(ws, NIGHT).finished
    queue(ws, [NEXT])  # still to do
    assert len(deep_create(ws, RUN)) == 3
    impatient = open_workspace(root, env={"DFOS_RECIPE_TIMEOUT": "0.01"})
    counts = deep_process(impatient, RUN)
    assert counts.get("failed") == 3, counts
    return ws


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Workspace]]:
    ws = _campaign(tmp_path / "ws")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DFOS_")}, "DFOS_MONITOR_PASSWORD": PASSWORD}
    with monitor_server(ws.root, env) as port:
        yield f"http://127.0.0.1:{port}", ws


def _verdicts(ws: Workspace, batch: str) -> dict[str, int]:
    with engine_for_url(ws.db_url).begin() as db:
        return {v: n for v, n in db.execute(select(ab_qc.c.verdict, func.count()).where(ab_qc.c.batch_id == batch)
                                            .group_by(ab_qc.c.verdict))}


def test_the_campaign_page_shows_a_real_campaign(server: tuple[str, Workspace]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, ws = server
    calib = read_ab_list(ws.ab_list(Mode.CALIB, NIGHT))
    science = read_ab_list(ws.ab_list(Mode.SCIENCE, NIGHT))
    run_abs = [entry.name for entry in read_ab_list(ws.ab_list(Mode.SCIENCE, RUN))]
    masters = len(list((ws.cal_dir / NIGHT.isoformat()).glob("*.fits")))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        try:
            page.goto(url + "/login?next=/")
            page.fill("#password", PASSWORD)
            page.click("#login-button")
            expect(page.locator("h1")).to_have_text("phoenix campaign")
            expect(page.locator("#keys-done")).to_have_text("1")  # the night; the run failed, the next date waits
            expect(page.locator("#keys-total")).to_have_text("3")
            expect(page.locator("#abs-total")).to_have_text(str(len(calib) + len(science) + 3))
            expect(page.locator("#abs-done")).to_have_text(str(len(calib) + len(science)))
            expect(page.locator("#abs-failed")).to_have_text("3 failed")
            expect(page.locator("#estimate")).to_contain_text("keys/h")  # a key finished: there is a basis

            night = page.locator(f'tr[data-key="{NIGHT}"][data-mode="CALIB"]')
            expect(night.locator('[data-field="key-state"]')).to_have_text("done")
            expect(night.locator('[data-field="jobs"]')).to_contain_text(f'"$DFOS" phoenix -d {NIGHT}')
            expect(night.locator('[data-field="jobs"]')).to_contain_text("finished")
            expect(night.locator('[data-field="abs"]')).to_have_text(f"{len(calib)} ABs")
            expect(night.locator('[data-count="succeeded"]')).to_have_text(f"succeeded {len(calib)}")
            expect(night.locator('[data-count="accepted"]')).to_have_text(f"accepted {len(calib)}")
            expect(night.locator('[data-field="products"]')).to_have_text(str(masters))
            sci = page.locator(f'tr[data-key="{NIGHT}"][data-mode="SCIENCE"]')
            expect(sci.locator('[data-count="succeeded"]')).to_have_text(f"succeeded {len(science)}")
            expect(sci.locator('[data-field="products"]')).to_have_text("3")  # the three NA_SCOA images
            for verdict, count in _verdicts(ws, f"SCIENCE_{NIGHT}").items():
                expect(sci.locator(f'[data-count="{verdict}"]')).to_have_text(f"{verdict} {count}")
            expect(page.locator(f'tr[data-key="{NEXT}"] [data-field="key-state"]')).to_have_text("queued")
            expect(page.locator(f'tr[data-key="{NEXT}"] [data-field="jobs"]')).to_contain_text("queued")

            run = page.locator(f'tr[data-key="{RUN}"][data-mode="SCIENCE"]')
            failed = run.locator('[data-count="failed"]')
            expect(failed).to_have_text("failed 3")
            assert failed.evaluate("e => getComputedStyle(e).backgroundColor") == RED  # trouble at a glance
            expect(run.locator('[data-job="-P"]')).to_contain_text("3 failed")
            page.screenshot(path=str(ARTIFACTS / "phoenix-campaign.png"), full_page=True)

            run.locator('[data-field="abs"] a').click()
            expect(page.locator("h1")).to_have_text(f"AB monitor SCIENCE {RUN}")
            expect(page.locator("#rows")).to_have_text("1–3")
            expect(page.locator("#matching")).to_have_text("3")
            for name in run_abs:
                expect(page.locator(f'tr[data-ab="{name}"] [data-field="state"]')).to_have_text("failed")
            page.screenshot(path=str(ARTIFACTS / "phoenix-run-abs.png"), full_page=True)
        finally:
            browser.close()
