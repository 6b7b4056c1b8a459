"""Honest states and confirmations (issue 20) over HTTP: a real night processed with real esorex where one AB
failed for real (a corrupted dark frame), its blocked descendant and two INCOMPLETE ABs; monitor jobs that
fail; the "are you sure?" answer of destructive actions; ages on one clock."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from honest_night import INCOMPLETE, NOW, failed_night
from monitor_helpers import decide, log_in_token, wait_until
from starlette.testclient import TestClient

from dfos.jobs.model import JobBlock, render_block
from dfos.jobs.todo import executed_marker, mark_executed
from dfos.monitor.app import create_app
from dfos.monitor.confirm import finish_effect, launch_effect
from dfos.monitor.honest import certification_state, file_moment, job_problems, trouble_text
from dfos.workspace import Workspace
from nights import BIAS, DAG, DARK, FLAT, RED_BIAS

pytestmark = pytest.mark.esorex

TOKEN = "honest-token"


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory, uves_small_archive: Path) -> Workspace:
    return failed_night(tmp_path_factory.mktemp("honest") / "ws", uves_small_archive)


@pytest.fixture
def client(night: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(night, token=TOKEN), base_url="http://127.0.0.1") as test_client:
        yield test_client


def login(client: TestClient) -> str:
    """Log in with the token; return the session's CSRF token."""
    return log_in_token(client, TOKEN)


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))).strip()


# --- 1. the date table --------------------------------------------------------------------------------------

def test_the_date_table_counts_failed_blocked_and_incomplete_abs(client: TestClient) -> None:
    login(client)
    page = client.get("/").text
    row = re.search(r'<tr data-date="2013-02-12">(.*?)</tr>', page, re.S)
    assert row is not None
    cell = re.search(r'<td [^>]*data-step="abs">(.*?)</td>', row[1], re.S)
    assert cell is not None
    assert text_of(cell[1]).startswith("7 ABs · 1 failed · 1 blocked · 2 incomplete")
    assert '<span class="trouble-failed" data-trouble="failed">1 failed</span>' in cell[1]
    assert '<span class="trouble-blocked" data-trouble="blocked">1 blocked</span>' in cell[1]
    dates = client.get("/api/dates").json()
    assert dates["dates"][0]["trouble"] == {"CALIB": {"failed": 1, "blocked": 1, "incomplete": 2}}
    assert dates["state"] == re.search(r'id="dates" data-state="([^"]+)"', page)[1]  # type: ignore[index]


def test_trouble_text_names_only_what_is_there() -> None:
    assert trouble_text(7, {"failed": 1, "blocked": 2}) == "7 ABs · 1 failed · 2 blocked"
    assert trouble_text(7, {}) == "7 ABs"


# --- 2. jobs ------------------------------------------------------------------------------------------------

def _job(client: TestClient, steps: list[list[str]]) -> dict[str, object]:
    job = client.app.state.monitor.jobs.start("auto_daily", "test job", steps)  # type: ignore[attr-defined]
    doc = wait_until(lambda: (d := client.get(f"/api/jobs/{job.id}").json())["state"] != "running" and d,
                     timeout=60, what="the job to end")
    assert isinstance(doc, dict)
    return doc


def test_a_job_is_red_when_a_command_fails_an_ab_failed_or_its_log_has_an_error(client: TestClient) -> None:
    login(client)
    python = sys.executable
    clean = _job(client, [[python, "-c", "print('all fine')"]])
    assert clean["state"] == "done" and clean["problems"] == []
    exited = _job(client, [[python, "-c", "raise SystemExit(3)"]])
    assert exited["state"] == "failed" and "exit" in str(exited["problems"])
    ab_failed = _job(client, [[python, "-c", f"print('{DAG}: 3 succeeded, 1 failed, 1 blocked')"]])
    assert ab_failed["state"] == "failed" and "ABs failed" in str(ab_failed["problems"])
    error = _job(client, [[python, "-c", "print('start'); print('12:00:01 [ ERROR ] esorex: no such recipe')"]])
    assert error["state"] == "failed" and "[ ERROR ]" in str(error["problems"])
    job_id = client.app.state.monitor.jobs.recent(1)[0].id  # type: ignore[attr-defined]
    page = client.get(f"/jobs/{job_id}").text
    assert '<span id="job-state" class="job-failed">failed</span>' in page
    assert '<span id="first-error" class="error-line">12:00:01 [ ERROR ] esorex: no such recipe</span>' in page
    assert 'class="job-failed">failed</span>' in client.get("/").text  # the dfoMonitor's actions list: red


def test_job_problems_reads_exit_codes_cascade_summaries_and_error_lines() -> None:
    assert job_problems([0, 0], "CALIB_2013-02-12: 5 succeeded, 2 incomplete\n") == []
    assert job_problems([0, 11], "")[0] == "a command exited with code 11 (some ABs failed or were blocked)"
    assert job_problems([0], "exec-cascade for 2013-02-12: some ABs failed or were blocked\n")
    assert job_problems([0], "Error: no ABs in AB dir\n")[0].startswith("error in the log (line 1)")
    assert job_problems([0], "CALIB_2013-02-12: 0 failed\nno Error here\n") == []


# --- 3. the AB monitor --------------------------------------------------------------------------------------

def test_the_ab_monitor_shows_reasons_inline_and_certification(client: TestClient, night: Workspace) -> None:
    login(client)
    decide(night, RED_BIAS, "rejected", comment="noisy")
    from sqlalchemy import insert

    from dfos.db import comments, engine_for_url

    orderpos = "UVES.2013-02-12T21:50:00.500_frm.ab"
    with engine_for_url(night.db_url).begin() as db:
        db.execute(insert(comments).values(scope="ab", subject=orderpos, text="provisional certified: looks fine",
                                           author="qc", at=NOW))
    page = client.get("/abs/2013-02-12").text

    def row(name: str) -> str:
        found = re.search(rf'<tr data-ab="{re.escape(name)}">(.*?)</tr>', page, re.S)
        assert found is not None
        return found[1]

    dark = row(DARK)
    reason = re.search(r'<div class="reason" data-field="reason"><a href="([^"]+)" data-field="log">(.*?)</a>', dark)
    assert reason is not None and reason[2].startswith("recipe_error: exit code ")
    assert reason[1].startswith("/file?path=") and reason[1].endswith("#first-error")
    assert "it depends on " + DARK in text_of(row(FLAT))  # blocked: why, inline
    assert "LINE_GUESS_TAB_BLUE: 0 of 1 required found" in text_of(row(INCOMPLETE))  # INCOMPLETE: why, inline
    certification = {name: re.search(r'data-field="certification">([^<]*)<', row(name))[1]  # type: ignore[index]
                     for name in (BIAS, RED_BIAS, orderpos, DARK)}
    assert certification == {BIAS: "accepted", RED_BIAS: "rejected", orderpos: "provisional", DARK: ""}
    doc = {ab["ab"]: ab for ab in client.get("/api/abs/2013-02-12").json()["abs"]}
    assert doc[DARK]["reason"].startswith("recipe_error") and doc[DARK]["log"].endswith(".log")
    assert (doc[RED_BIAS]["certification"], doc[orderpos]["certification"]) == ("rejected", "provisional")

    log = client.get(reason[1].replace("&amp;", "&").split("#")[0]).text  # the failed AB's log, its error anchored
    first = re.search(r'<span id="first-error" class="error-line">(.*?)</span>', log)
    assert first is not None and "[ ERROR ]" in first[1]
    assert 'href="#first-error"' in log


def test_certification_state() -> None:
    assert certification_state("certified", True, True) == "accepted"
    assert certification_state(None, True, True) == "provisional"
    assert certification_state(None, False, True) == "undecided"
    assert certification_state(None, False, False) == ""


# --- 5. confirmations ---------------------------------------------------------------------------------------

def test_finish_asks_first_naming_the_raw_frames_and_job_files(client: TestClient, night: Workspace) -> None:
    csrf = login(client)
    status = night.status_log.path.read_text()
    raw = len([p for p in (night.raw_dir / "2013-02-12").iterdir() if ".fits" in p.name])
    assert raw > 0
    asked = client.post("/action/finish", data={"date": "2013-02-12", "csrf": csrf}, follow_redirects=False)
    assert asked.status_code == 200 and "Are you sure?" in asked.text
    effects = text_of(re.search(r'<ul id="confirm-effects">(.*?)</ul>', asked.text, re.S)[1])  # type: ignore[index]
    assert f"deletes {raw} raw frame(s) in $DFO_RAW_DIR/2013-02-12" in effects
    assert f"execAB_{DAG}" in effects and f"execQC_{DAG}" in effects and "JOBS_NIGHT: CALIB 2013-02-12" in effects
    assert "appends 'finished' for 2013-02-12" in effects
    form = re.search(r'<form method="post" action="/action/finish" id="confirm-form".*?</form>', asked.text, re.S)
    assert form is not None and 'name="confirm" value="1"' in form[0] and f'value="{csrf}"' in form[0]
    assert 'name="date" value="2013-02-12"' in form[0] and 'id="confirm-cancel"' in asked.text
    as_json = client.post("/action/finish", data={"date": "2013-02-12", "csrf": csrf},
                          headers={"accept": "application/json"})
    assert as_json.status_code == 409 and as_json.json()["confirm"] == "required"
    for odd in ("yes", "true", "0", "1" * 10_000):  # only confirm=1 confirms
        again = client.post("/action/finish", data={"date": "2013-02-12", "csrf": csrf, "confirm": odd},
                            follow_redirects=False)
        assert again.status_code == 200 and "Are you sure?" in again.text
    assert night.status_log.path.read_text() == status  # asking changed nothing
    assert client.post("/action/finish", data={"date": "2013-02-12", "confirm": "1"}).status_code == 403  # CSRF
    confirmed = client.post("/action/finish", data={"date": "2013-02-12", "csrf": csrf, "confirm": "1"},
                            follow_redirects=False)
    assert confirmed.status_code == 303 and confirmed.headers["location"].startswith("/jobs/")
    job = wait_until(lambda: (d := client.get("/api" + confirmed.headers["location"]).json())["state"] != "running"
                     and d, timeout=60, what="finish to end")
    assert job["state"] == "failed"  # finish refuses a date that is not moved: red, and nothing finished
    assert "finished" not in night.status_log.path.read_text()


def test_launching_a_todo_list_names_its_blocks_and_dates(client: TestClient) -> None:
    csrf = login(client)
    asked = client.post("/action/launch_todo", data={"todo": "JOBS_NIGHT", "csrf": csrf}, follow_redirects=False)
    assert asked.status_code == 200
    effects = text_of(re.search(r'<ul id="confirm-effects">(.*?)</ul>', asked.text, re.S)[1])  # type: ignore[index]
    assert f"runs the block CALIB 2013-02-12: raw download, the AB cascade {DAG}" in effects
    assert "then appends cal_QC for 2013-02-12" in effects and "dates: 2013-02-12" in effects
    remove = client.post("/action/remove", data={"date": "2013-02-12", "csrf": csrf}, follow_redirects=False)
    assert remove.status_code == 200 and "appends 'removed' for 2013-02-12" in unescape(remove.text)


def test_effects_are_pure() -> None:
    effect = finish_effect("2024-07-12", 21, "$DFO_RAW_DIR/2024-07-12", ["execAB_CALIB_2024-07-12"], [])
    assert effect.title == "finish 2024-07-12" and effect.lines[0].startswith("deletes 21 raw frame(s)")
    listed = launch_effect("JOBS_INGEST", '#!/bin/bash\n"$DFOS" ingest -m CALIB -d 2024-07-12\n')
    assert listed.lines == ('runs: "$DFOS" ingest -m CALIB -d 2024-07-12', "dates: 2024-07-12")
    assert launch_effect("JOBS_CLEANUP", "#!/bin/bash\n").lines == ("runs nothing: the list holds no command",)
    block = "\n".join(render_block(JobBlock("CALIB", "2024-07-12", "written by test", "execAB_CALIB_2024-07-12",
                                             "execQC_CALIB_2024-07-12"))) + "\n"
    assert launch_effect("JOBS_NIGHT", block).lines[0].startswith("runs the block CALIB 2024-07-12")
    ran, marked = mark_executed(block, "CALIB", "2024-07-12", executed_marker("2024-07-13T09:00:00", "qc", 0))
    assert marked == 1  # a block that ran is skipped by the launch: the confirmation names nothing to run
    assert launch_effect("JOBS_NIGHT", ran).lines == ("runs nothing: the list holds no command",)


# --- 6. one clock -------------------------------------------------------------------------------------------

def test_ages_are_measured_on_the_dfos_clock(client: TestClient, night: Workspace) -> None:
    login(client)
    last_ab = night.mon_dir / "LAST_AB"
    two_hours_ago = time.time() - 2 * 3600
    os.utime(last_ab, (two_hours_ago, two_hours_ago))
    watcher = night.mon_dir / "AUTO_DAILY" / "last_run"
    watcher.parent.mkdir(parents=True, exist_ok=True)
    watcher.write_text("2013-02-13T11:00:00\n")
    page = client.get("/").text
    found = re.search(r'<div class="panel" id="last">(.*?)</div>\s*<div class="panel"', page, re.S)
    assert found is not None
    panel = text_of(found[1]).replace(" )", ")")
    assert "(2013-02-13T12:00:00, age: 2.0 h)" in panel or "(2013-02-13T11:59:59, age: 2.0 h)" in panel
    assert "2013-02-13T11:00:00 (age: 3.0 h)" in panel
    assert "(SUCCESSFUL, 2013-02-13T14:00:00, age: 0.0 h)" in panel  # the last run ended at DFOS_NOW


def test_file_moment_moves_mtimes_by_the_clocks_offset() -> None:
    from datetime import UTC, datetime

    mtime = datetime(2026, 12, 6, 18, 0, 0, tzinfo=UTC).timestamp()  # two hours before the real now
    moved = file_moment(mtime, datetime(2013, 2, 13, 14), datetime(2026, 12, 6, 20, 0, 0))
    assert moved == datetime(2013, 2, 13, 12)
    assert file_moment(mtime, datetime(2026, 12, 6, 20), datetime(2026, 12, 6, 20)) == datetime(2026, 12, 6, 18)
