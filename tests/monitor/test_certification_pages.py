"""Certification you can follow (issue 20), on the small UVES night processed with real esorex, one AB of it
failed (its recipe does not exist): the certify page lists the failed AB with its reason and log, shows each
AB's QC1 values against their thresholds with QC plot thumbnails, and every decision and comment, provisional
ones included, with the person's name and time; so do the AB page and the history page.  Named accounts decide
as themselves, in the login form of Chromium too."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from monitor_helpers import NOW, csrf_of, launch_chromium, monitor_server
from starlette.testclient import TestClient

from dfos.monitor.app import create_app
from dfos.monitor.security.accounts import accounts_path, add_account
from dfos.monitor.security.audit import AUDIT_LOG
from dfos.steps.cascade import exec_cascade
from dfos.steps.certify import ACCEPT, Decision, certify
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.headers import extract_headers
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, init_workspace, open_workspace
from nights import BIAS, DAG, DARK, NIGHT, RED_BIAS

pytestmark = pytest.mark.esorex

PASSWORD = "shared-pw"
#: The night's evening: certify -L (light) takes TODAY only.
EVENING = "2013-02-12T23:30:00"


def _link_archive(ws: Workspace, archive: Path) -> None:
    for source in archive.rglob("*.fits"):
        target = ws.archive_dir / source.relative_to(archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory, uves_small_archive: Path) -> Workspace:
    """The night processed (cascade, QC, cal_QC), the dark AB failed (its recipe is unknown to esorex), a
    provisional decision by bob from the evening (certify -L), and two named accounts."""
    root = tmp_path_factory.mktemp("certification") / "ws"
    init_workspace(root, env={}, instrument="UVES")
    ws = open_workspace(root, env={"DFOS_NOW": NOW})
    _link_archive(ws, uves_small_archive)
    extract_headers(ws, NIGHT)
    create_abs(ws, NIGHT, "CALIB")
    dark = ws.ab_dir / DARK
    dark.write_text(re.sub(r"(RECIPE\s+)uves_cal_mdark", r"\1uves_cal_nosuch", dark.read_text()))
    create_job(ws, NIGHT, "CALIB")
    assert not exec_cascade(ws, DAG, ws.job_dir / f"execAB_{DAG}", slots=2).ok  # the dark failed
    append_flag(ws, "cal_QC", NIGHT)
    evening = open_workspace(root, env={"DFOS_NOW": EVENING})
    certify(evening, "CALIB", NIGHT, [Decision(BIAS, ACCEPT, "bias fine so far")], light=True, user="bob")
    add_account(accounts_path(ws), "alice", "alice-pw")
    add_account(accounts_path(ws), "bob", "bob-pw")
    return ws


@pytest.fixture(scope="module")
def client(night: Workspace) -> Iterator[TestClient]:
    ws = open_workspace(night.root, env={"DFOS_NOW": NOW, "DFOS_MONITOR_PASSWORD": PASSWORD})
    with TestClient(create_app(ws), base_url="http://127.0.0.1") as test_client:
        page = test_client.post("/login", data={"user": "alice", "password": "alice-pw"})
        assert page.status_code == 200 and 'id="who" title="logged in as">alice<' in page.text
        yield test_client


def _row(page: str, attribute: str, name: str) -> str:
    found = re.search(rf'<tr [^>]*{attribute}="{re.escape(name)}"[^>]*>(.*?)</tr>', page, re.S)
    assert found, f"no row {attribute}={name}"
    return found[1]


def test_the_certify_page_lists_the_failed_ab_with_its_reason_and_log(client: TestClient) -> None:
    page = client.get("/certify/2013-02-12").text
    assert 'failed ABs (1)' in page
    row = _row(page, "data-failed-ab", DARK)
    assert "recipe_error" in row and "Unable to find recipe" in row and "uves_cal_nosuch" in row
    log = re.search(r'class="failed-log" href="/file\?path=([^"]+)"', row)
    assert log, row
    shown = client.get(f"/file?path={log[1]}")
    assert shown.status_code == 200 and "uves_cal_nosuch" in shown.text  # the recipe log of the failed run
    assert f'<tr data-ab="{DARK}">' not in page  # not offered for certification


def test_the_certify_page_shows_qc1_values_against_thresholds_with_thumbnails(client: TestClient) -> None:
    page = client.get("/certify/2013-02-12").text
    detail = re.search(rf'<tr class="certify-detail" data-detail="{re.escape(BIAS)}">(.*?)(?:<tr data-ab=|<h2 )',
                       page, re.S)
    assert detail, "no detail row of the bias"
    level = re.search(r'<tr class="qc-(\w+)"><td>[^<]*</td><td>QC BIAS LEVEL</td><td class="qc-value">([^<]*)</td>'
                      r'\s*<td class="qc-threshold">([^<]*)</td>', detail[1])
    assert level, detail[1][:2000]
    assert level[1] == "in" and level[2].startswith("179.99") and level[3] == "170 .. 190"
    assert '<td class="qc-threshold">none</td>' in detail[1]  # an unscored value says so
    thumbs = re.findall(r'<img class="qc-thumb" width="240" src="(/file\?path=[^"]+)"', detail[1])
    assert thumbs
    image = client.get(thumbs[0])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")


def test_every_decision_and_comment_shows_with_its_person_and_time(client: TestClient, night: Workspace) -> None:
    page = client.get("/certify/2013-02-12").text
    assert re.search(r'<tr class="cert-provisional" data-ab="' + re.escape(BIAS) + r'">\s*<td>2013-02-12T23:30:00</td>'
                     r'<td class="cert-by">bob</td>', page), "the provisional decision of bob"
    csrf = csrf_of(page)
    names = re.findall(r'<input type="hidden" name="ab_(\d+)" value="([^"]+)">', page)
    index = next(i for i, name in names if name == BIAS)
    first = client.post("/certify/2013-02-12", data={"csrf": csrf, "count": str(len(names)), "light": "0",
                                                     **{f"ab_{i}": name for i, name in names},
                                                     f"decision_{index}": "reject",
                                                     f"comment_{index}": "bias level drifts"})
    assert first.status_code == 200 and "1 decision(s) recorded" in first.text
    again = client.post("/certify/2013-02-12", data={"csrf": csrf, "count": str(len(names)), "light": "0",
                                                     **{f"ab_{i}": name for i, name in names},
                                                     f"decision_{index}": "accept",
                                                     f"comment_{index}": "drift within the noise"})
    assert again.status_code == 200

    for url in ("/certify/2013-02-12", f"/ab/{BIAS}", "/history"):
        shown = client.get(url).text
        history = shown[shown.index('id="cert-history"'):]
        rows = re.findall(r'<tr class="([^"]+)" data-ab="' + re.escape(BIAS) + r'">(.*?)</tr>', history, re.S)
        kinds = [(cls, re.search(r'class="cert-by">([^<]*)<', body)[1],  # type: ignore[index]
                  re.search(r'class="cert-comment">([^<]*)<', body)[1]) for cls, body in rows]  # type: ignore[index]
        assert kinds == [("cert-decision cert-current", "alice", "drift within the noise"),
                         ("cert-decision cert-earlier", "alice", "bias level drifts"),
                         ("cert-decision cert-earlier", "auto", "all 2 scores green"),  # scoring's
                         ("cert-provisional", "bob", "bias fine so far")], (url, kinds)
        assert "2013-02-13T14:00:00" in history and "2013-02-12T23:30:00" in history
        assert ">token<" not in history
    assert "user=alice client=testclient action=certify target=CALIB_2013-02-12:1" in \
        (night.mon_dir / AUDIT_LOG).read_text()


def test_the_login_form_in_chromium_decides_as_the_named_person(night: Workspace) -> None:
    from playwright.sync_api import expect, sync_playwright

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DFOS_")},
           "DFOS_MONITOR_PASSWORD": PASSWORD, "DFOS_NOW": NOW}
    with monitor_server(night.root, env) as port, sync_playwright() as playwright:
        url = f"http://127.0.0.1:{port}"
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url + "/certify/2013-02-12")
            page.fill("#user", "bob")
            page.fill("#password", "alice-pw")  # another person's password
            page.click("#login-button")
            expect(page.locator("#login-failed")).to_be_visible()
            page.fill("#user", "bob")
            page.fill("#password", "bob-pw")
            page.click("#login-button")
            expect(page.locator("#who")).to_have_text("bob")
            expect(page.locator(f'tr[data-failed-ab="{DARK}"] td.reason')).to_contain_text("Unable to find recipe")
            row = page.locator(f'tr[data-ab="{RED_BIAS}"]')
            row.locator('input[value="accept"]').check()
            row.locator('input[type="text"]').fill("red bias checked in the browser")
            page.uncheck('input[name="accept_green"]')
            page.click("#certify-button")
            expect(page.locator("#certify-message")).to_contain_text("1 decision(s) recorded")
            mine = page.locator(f'#cert-history tr.cert-current[data-ab="{RED_BIAS}"]')
            expect(mine.locator("td.cert-by")).to_have_text("bob")
            expect(mine.locator("td.cert-comment")).to_have_text("red bias checked in the browser")
            page.goto(url + f"/ab/{RED_BIAS}")
            expect(page.locator("#cert-history tr.cert-current td.cert-by")).to_have_text("bob")
            page.click("#logout")
            page.goto(url + "/login")
            page.fill("#password", PASSWORD)  # the shared password, no name: operator
            page.click("#login-button")
            expect(page.locator("#who")).to_have_text("operator")
        finally:
            browser.close()
