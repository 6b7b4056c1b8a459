"""Re-run, abort and reset buttons of the monitor (issue 20) at the HTTP level: when each shows, the fields it
posts, the commands the job runs, and the confirmations of abort and reset.

A NACO header night (CALIB ABs created, nothing processed) whose cascade states are written into the database
directly: no esorex runs here (tests/monitor/test_walk_failed_ab.py walks a real failure in the browser)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import NIGHT, log_in_token, science_night
from sqlalchemy import delete, insert
from starlette.datastructures import FormData
from starlette.testclient import TestClient

from dfos.ab.lists import read_ab_list
from dfos.db import cascade_nodes, engine_for_url
from dfos.errors import UsageError
from dfos.monitor.app import create_app
from dfos.monitor.jobs import action_steps
from dfos.monitor.rerun import abort_effect, descendants_field, rerun_allowed, rerun_field, reset_effect, row_actions
from dfos.steps.status import append_flag
from dfos.workspace import Workspace

TOKEN = "rerun-token"
DAY = "2013-02-12"
DAG = f"CALIB_{DAY}"


@pytest.fixture
def night(tmp_path: Path) -> Workspace:
    return science_night(tmp_path / "ws")


def names(ws: Workspace, complete: bool = True) -> list[str]:
    """The ABs of the night (only the COMPLETE ones: an INCOMPLETE AB shows as incomplete whatever it ran)."""
    return [e.name for e in read_ab_list(ws.ab_list("CALIB", DAY)) if e.completeness == "COMPLETE" or not complete]


def set_states(ws: Workspace, states: dict[str, str]) -> None:
    with engine_for_url(ws.db_url).begin() as db:
        db.execute(delete(cascade_nodes).where(cascade_nodes.c.dag_id == DAG))
        for ab, state in states.items():
            db.execute(insert(cascade_nodes).values(dag_id=DAG, ab=ab, state=state, attempts=1,
                                                    reason="recipe_error: boom" if state == "failed" else None))


class Started:
    """Stands in for the job runner's start: records the steps instead of running them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[list[str]]]] = []
        self.batches: list[str] = []

    def __call__(self, action: str, label: str, steps: list[list[str]], batch: str = "") -> Any:
        self.calls.append((action, label, steps))
        self.batches.append(batch)
        return type("J", (), {"id": len(self.calls)})()


@pytest.fixture
def client(night: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Started]]:
    with TestClient(create_app(night, token=TOKEN), base_url="http://127.0.0.1") as test_client:
        started = Started()
        monkeypatch.setattr(test_client.app.state.monitor.jobs, "start", started)  # type: ignore[attr-defined]
        yield test_client, started


def login(client: TestClient) -> str:
    """Log in with the token; return the session's CSRF token."""
    return log_in_token(client, TOKEN)


def row_of(page: str, ab: str) -> str:
    found = re.search(rf'<tr data-ab="{re.escape(ab)}">(.*?)</tr>', page, re.S)
    assert found is not None, ab
    return found[1]


def dfos_args(steps: list[list[str]]) -> list[list[str]]:
    return [step[step.index("--root") + 2:] for step in steps]


# --- the AB monitor ---------------------------------------------------------------------------------------

def test_the_ab_monitor_offers_rerun_for_failed_cancelled_blocked_and_succeeded_abs(
        client: tuple[TestClient, Started], night: Workspace) -> None:
    http, _ = client
    abs_ = names(night)
    set_states(night, {abs_[0]: "failed", abs_[1]: "blocked", abs_[2]: "succeeded", abs_[3]: "cancelled",
                       abs_[4]: "waiting"})
    assert 'id="rerun-form"' not in http.get(f"/abs/{DAY}").text  # not logged in: no buttons
    login(http)
    page = http.get(f"/abs/{DAY}").text
    assert 'id="rerun-selected"' in page and 'id="rerun-descendants"' in page
    for ab in abs_[:4]:
        assert f'name="abs" value="{ab}" form="rerun-form"' in row_of(page, ab)
    assert 'type="checkbox"' not in row_of(page, abs_[4])  # queued: nothing to re-run yet
    assert 'class="rerun-button"' in row_of(page, abs_[0])  # the failed AB: one click
    assert 'class="rerun-button"' not in row_of(page, abs_[2])
    assert 'id="abort-button"' not in page  # nothing runs


def test_no_rerun_once_the_date_is_certified_and_abort_while_abs_run(
        client: tuple[TestClient, Started], night: Workspace) -> None:
    http, _ = client
    abs_ = names(night)
    set_states(night, {abs_[0]: "running", abs_[1]: "succeeded"})
    login(http)
    page = http.get(f"/abs/{DAY}").text
    assert re.search(r'id="abort-button"[^>]*>abort now \(1 running\)', page)
    assert 'id="rerun-form"' not in page  # not while the cascade runs (dfos requeue would be refused)
    set_states(night, {abs_[1]: "succeeded"})
    assert 'id="rerun-form"' in http.get(f"/abs/{DAY}").text
    append_flag(night, "cal_Certif", NIGHT)
    page = http.get(f"/abs/{DAY}").text
    assert 'id="rerun-form"' not in page and 'type="checkbox"' not in page


def test_rerun_posts_the_ticked_abs_and_descendants(client: tuple[TestClient, Started], night: Workspace) -> None:
    http, started = client
    abs_ = names(night)
    csrf = login(http)
    form = {"csrf": csrf, "date": DAY, "mode": "CALIB", "abs": [abs_[0], abs_[2]], "descendants": "1"}
    response = http.post("/action/rerun", data=form, follow_redirects=False)  # two checkboxes ticked
    assert response.status_code == 303  # rerun asks nothing: it runs what was ticked
    action, _, steps = started.calls[-1]
    assert action == "rerun"
    assert dfos_args(steps) == [["requeue", "-m", "CALIB", "-d", DAY, "-a", abs_[0], "-a", abs_[2], "--descendants"]]
    assert started.batches[-1] == DAG  # its failed ABs are named when the job fails
    http.post("/action/rerun", data={"csrf": csrf, "date": DAY, "abs": abs_[1], "descendants": ""})
    assert dfos_args(started.calls[-1][2]) == [["requeue", "-m", "CALIB", "-d", DAY, "-a", abs_[1]]]


@pytest.mark.parametrize(("fields", "said"), [
    ({"abs": ""}, "choose the ABs"),
    ({"abs": "UVES.nothing.ab"}, "is not an AB of CALIB"),
    ({"abs": "../x.ab"}, ""),
    ({"abs": "{first}", "descendants": "yes"}, "descendants must be 1 or empty"),
])
def test_a_bad_rerun_form_is_refused(client: tuple[TestClient, Started], night: Workspace,
                                     fields: dict[str, str], said: str) -> None:
    http, started = client
    csrf = login(http)
    data = {"csrf": csrf, "date": DAY, "mode": "CALIB",
            **{k: v.format(first=names(night)[0]) for k, v in fields.items()}}
    response = http.post("/action/rerun", data=data)
    assert response.status_code == 400 and said in response.text
    assert not started.calls


# --- the date table ---------------------------------------------------------------------------------------

def _cell(page: str) -> str:
    found = re.search(rf'<tr data-date="{DAY}">.*?<td [^>]*data-step="abs">(.*?)</td>', page, re.S)
    assert found is not None
    return found[1]


def test_the_date_row_has_reset_until_moved_and_abort_while_running(
        client: tuple[TestClient, Started], night: Workspace) -> None:
    http, _ = client
    abs_ = names(night)
    assert "reset-button" not in http.get("/").text  # not logged in
    login(http)
    cell = _cell(http.get("/").text)
    assert 'data-action="reset" data-mode="CALIB"' in cell and 'data-action="abort"' not in cell
    set_states(night, {abs_[0]: "running"})
    cell = _cell(http.get("/").text)
    assert 'data-action="abort" data-mode="CALIB"' in cell and abs_[0] in cell  # its title names the AB
    assert 'data-action="reset"' not in cell  # not while it runs
    set_states(night, {})
    for flag in ("cal_Queued", "cal_QC", "cal_Certif", "cal_Updated"):
        append_flag(night, flag, NIGHT)
    assert 'data-action="reset"' not in _cell(http.get("/").text)  # moved: certified products stay


def test_abort_and_reset_ask_first_naming_what_they_do_and_post_every_field(
        client: tuple[TestClient, Started], night: Workspace) -> None:
    http, started = client
    abs_ = names(night)
    set_states(night, {abs_[0]: "running", abs_[1]: "running"})
    csrf = login(http)
    page = http.post("/action/abort", data={"csrf": csrf, "date": DAY, "mode": "CALIB"}).text
    assert not started.calls
    text = unescape(re.sub(r"<[^>]+>", " ", page))
    assert f"kills the 2 running AB(s) of {DAG} and marks them cancelled" in text and abs_[1] in text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    assert hidden["date"] == DAY and hidden["mode"] == "CALIB" and hidden["confirm"] == "1"
    http.post("/action/abort", data=hidden)
    assert dfos_args(started.calls[-1][2]) == [["stop-cascade", "--dag-id", DAG, "--now"]]

    (night.job_dir / f"execAB_{DAG}").write_text("# exec\n", encoding="utf-8")
    page = http.post("/action/reset", data={"csrf": csrf, "date": DAY, "mode": "CALIB"}).text
    text = unescape(re.sub(r"<[^>]+>", " ", page))
    assert f"removes the {len(names(night, complete=False))} AB(s) of CALIB {DAY}" in text and abs_[0] in text
    assert f"execAB_{DAG}" in text and f"appends cal_Reset for {DAY}" in text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    http.post("/action/reset", data=hidden)
    assert dfos_args(started.calls[-1][2]) == [["reset", "-m", "CALIB", "-d", DAY, "--yes"]]


def test_a_confirm_page_of_rerun_would_carry_its_abs(client: tuple[TestClient, Started], night: Workspace,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a re-run ever ask first, its Confirm re-posts the ABs and descendants."""
    import dfos.monitor.actions as actions
    from dfos.monitor.confirm import DESTRUCTIVE

    http, started = client
    abs_ = names(night)
    monkeypatch.setattr(actions, "DESTRUCTIVE", (*DESTRUCTIVE, "rerun"))
    csrf = login(http)
    page = http.post("/action/rerun", data={"csrf": csrf, "date": DAY, "abs": [abs_[0], abs_[1]],
                                            "descendants": "1"}).text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    assert hidden["abs"] == f"{abs_[0]} {abs_[1]}" and hidden["descendants"] == "1" and hidden["date"] == DAY
    http.post("/action/rerun", data=hidden)
    assert dfos_args(started.calls[-1][2])[0][-5:] == ["-a", abs_[0], "-a", abs_[1], "--descendants"]


# --- the pure parts ---------------------------------------------------------------------------------------

def test_decisions_and_effects_are_pure() -> None:
    assert rerun_allowed(["cal_AB", "cal_Queued", "cal_QC"], "CALIB", DAY)
    assert not rerun_allowed(["cal_QC", "cal_Certif"], "CALIB", DAY)
    assert rerun_allowed(["cal_QC", "cal_Certif"], "SCIENCE", DAY)
    assert row_actions(["cal_AB"], "CALIB", DAY, 3, ()) == {"abort": (), "reset": True}
    assert row_actions(["cal_AB"], "CALIB", DAY, 0, ()) == {"abort": (), "reset": False}
    assert row_actions(["cal_AB", "cal_Updated"], "CALIB", DAY, 3, ("a.ab",)) == {"abort": ("a.ab",), "reset": False}
    title, lines = abort_effect(DAG, [])
    assert title == f"abort the cascade {DAG} now" and "nothing is killed" in lines[0]
    title, lines = reset_effect(f"SCIENCE_{DAY}", DAY, ["s.ab"], ["execAB_SCIENCE_x"], [])
    assert title == f"reset SCIENCE {DAY}" and "sci_Reset" in lines[-1] and "execAB_SCIENCE_x" in lines[3]
    with pytest.raises(UsageError):
        rerun_field(FormData([("abs", " ")]))
    assert rerun_field(FormData([("abs", "a.ab"), ("abs", "b.ab")])) == "a.ab b.ab"
    assert descendants_field(FormData([("descendants", "1")])) and not descendants_field(FormData([]))


def test_action_steps_pass_descendants_through(night: Workspace) -> None:
    from datetime import date

    steps = action_steps(night, "rerun", date(2013, 2, 12), names=("a.ab",), descendants=True)
    assert dfos_args(steps) == [["requeue", "-m", "CALIB", "-d", DAY, "-a", "a.ab", "--descendants"]]


# --- abort for real ---------------------------------------------------------------------------------------

def test_abort_now_from_the_ab_monitor_kills_the_running_ab_and_marks_it_cancelled(
        sleepy: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cascade of sleeping recipes (no esorex) runs; the AB monitor's "abort now", confirmed, cancels it."""
    import subprocess
    import sys

    from monitor_helpers import wait_until

    from chains import write_chain
    from dfos.cascade.run import cascade_state

    ws = sleepy
    monkeypatch.setenv("DFOS_ESOREX", ws.settings.ESOREX)
    jobs = write_chain(ws, 2, 60)  # C0 <- C1, recipes that would sleep a minute
    cascade = subprocess.Popen([sys.executable, "-m", "dfos.cli.main", "--root", str(ws.root), "exec-cascade",
                                "--dag-id", DAG, "--jobs", str(jobs)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)

    def states() -> dict[str, str]:
        try:
            return {str(r["ab"]): str(r["state"]) for r in cascade_state(ws, DAG)}
        except Exception:  # the database is not there yet
            return {}

    try:
        wait_until(lambda: states().get("C0.ab") == "running", timeout=30, what="the first recipe to run")
        with TestClient(create_app(ws, token=TOKEN), base_url="http://127.0.0.1") as http:
            csrf = login(http)
            page = http.get(f"/abs/{DAY}").text
            assert re.search(r'id="abort-button"[^>]*title="kill the running ABs \(C0\.ab\)', page)
            asked = http.post("/action/abort", data={"csrf": csrf, "date": DAY, "mode": "CALIB"}).text
            assert "kills the 1 running AB(s)" in asked and "C0.ab" in asked
            hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', asked))
            job = http.post("/action/abort", data=hidden, follow_redirects=False).headers["location"]
            done = wait_until(lambda: (d := http.get(f"/api{job}").json())["state"] != "running" and d, timeout=120,
                              what="the abort job to end")
            assert done["state"] == "done", done
            assert "1 running AB(s) cancelled (C0.ab)" in done["log"]
        assert cascade.wait(timeout=30) == 11  # the executor ended without running C1
    finally:
        cascade.kill()
    assert states() == {"C0.ab": "cancelled", "C1.ab": "waiting"}
