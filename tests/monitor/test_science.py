"""The monitor shows both modes: a NACO header night with CALIB and SCIENCE ABs (the SCIENCE AB
naco_img_jitter reads the flat of a CALIB AB), over HTTP with the real app."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import FLAT_AB, NIGHT, SCIENCE_AB, decide, science_night, wait_until
from sqlalchemy import insert
from starlette.testclient import TestClient

from dfos.ab.format import with_status
from dfos.ab.model import ProcessStatus
from dfos.db import ab_runs, engine_for_url
from dfos.keys import Mode
from dfos.monitor.app import create_app
from dfos.monitor.jobs import action_steps
from dfos.steps.create_ab import create_abs
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, open_workspace

TOKEN = "science-token"
BATCH = "SCIENCE_2013-02-12"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = science_night(tmp_path_factory.mktemp("science") / "ws")
    create_abs(ws, NIGHT, Mode.SCIENCE)
    return ws


@pytest.fixture
def night(built: Workspace, tmp_path: Path) -> Workspace:
    """A copy of the night for one test (its database, flags and AB files change)."""
    shutil.copytree(built.root, tmp_path / "ws", symlinks=True)
    return open_workspace(tmp_path / "ws", env={"DFOS_NOW": "2013-02-13T14:00:00"})


@pytest.fixture
def client(night: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(night, token=TOKEN), base_url="http://127.0.0.1") as test_client:
        response = test_client.get(f"/login?token={TOKEN}")
        assert response.status_code == 200 and 'id="logout"' in response.text
        yield test_client


def csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert found
    return found[1]


def date_row(client: TestClient) -> str:
    found = re.search(r'<tr data-date="2013-02-12">(.*?)</tr>', client.get("/").text, re.S)
    assert found
    return found[1]


def cell(row: str, step: str) -> str:
    found = re.search(rf'<td class="(s-\w+)" data-step="{step}"[^>]*>(.*?)</td>', row, re.S)
    assert found, step
    return f"{found[1]} {found[2]}"


def test_the_date_table_has_a_science_column_beside_the_calib_one(client: TestClient) -> None:
    page = client.get("/").text
    assert '<th colspan="4" class="mode-head" id="calib-head">CALIB</th>' in page
    assert '<th colspan="3" class="mode-head" id="science-head">SCIENCE</th>' in page
    row = date_row(client)
    calib, science = cell(row, "abs"), cell(row, "sci_abs")
    assert '<a href="/abs/2013-02-12">8 ABs</a>' in calib and '>created</span>' in calib
    assert f'<a href="/abs/{BATCH}">2 ABs</a>' in science and 'data-progress="SCIENCE">created</span>' in science
    assert 'data-action="process" data-mode="SCIENCE"' in science and 'data-mode="CALIB"' in calib
    assert cell(row, "sci_create_ab").startswith("s-offer") and 'data-mode="SCIENCE">createAB' in row
    assert cell(row, "sci_certify_move").startswith("s-wait")
    dates = client.get("/api/dates").json()["dates"][0]
    assert (dates["n_cal_abs"], dates["n_sci_abs"]) == (8, 2)
    assert dates["progress"] == {"CALIB": "created", "SCIENCE": "created"}
    assert (dates["steps"]["sci_create_ab"], dates["steps"]["sci_abs"]) == ("OFFER", "OFFER")


def test_the_ab_monitor_of_a_batch_says_its_mode(client: TestClient) -> None:
    page = client.get(f"/abs/{BATCH}").text
    assert "<h1>AB monitor SCIENCE 2013-02-12</h1>" in page and '<b id="mode">SCIENCE</b>' in page
    assert re.findall(r'<tr data-ab="([^"]+)"', page) == [SCIENCE_AB, "NACO.2013-02-13T03:00:00.382_tpl.ab"]
    assert f'data-live="/api/abs/{BATCH}?' in page
    assert client.get("/abs/2013-02-12?mode=science").text.count('<tr data-ab="') == 2  # the date and ?mode=
    assert client.get("/abs/CALIB_2013-02-12").text.count('<tr data-ab="') == 8
    api = client.get(f"/api/abs/{BATCH}").json()
    assert (api["mode"], api["batch"], api["total"]) == ("SCIENCE", BATCH, 2)
    for bad in (f"QC_{BATCH}", f"{BATCH}_sub", "SCIENCE_094.D-0192A", "SCIENCE_2013-02-30", "BOGUS_2013-02-12",
                "x" * 300):
        assert client.get(f"/abs/{bad}").status_code == 404, bad
        assert client.get(f"/certify/{bad}").status_code == 404, bad


def test_science_made_with_a_rejected_flat_is_marked_in_red_with_the_reason(client: TestClient,
                                                                           night: Workspace) -> None:
    assert 'class="rejected-input"' not in client.get(f"/abs/{BATCH}").text
    decide(night, FLAT_AB, "rejected", comment="ghost in the flat")
    page = client.get(f"/abs/{BATCH}").text
    row = re.search(rf'<tr data-ab="{re.escape(SCIENCE_AB)}">(.*?)</tr>', page, re.S)
    badge = '<div class="rejected-input" data-field="rejected"><span class="badge">rejected input</span>'
    assert row and badge in row[1]
    assert f"MASTER_IMG_FLAT from {FLAT_AB}; {FLAT_AB} was rejected by qc-scientist" in row[1]
    assert "ghost in the flat" in row[1] and page.count('class="rejected-input"') == 1  # the other AB is clean
    (first, second) = client.get(f"/api/abs/{BATCH}").json()["abs"]
    assert [i["rejected"] for i in first["rejected_inputs"]] == [FLAT_AB] and second["rejected_inputs"] == []
    ab_page = client.get(f"/ab/{SCIENCE_AB}").text
    assert '<b id="mode">SCIENCE</b>' in ab_page
    assert f'<a href="/abs/{BATCH}">AB monitor SCIENCE 2013-02-12</a>' in ab_page
    marker = re.search(r'<div class="rejected-input" id="rejected-inputs">(.*?)</div>', ab_page, re.S)
    assert marker and "the inputs of this AB include" in marker[1] and "ghost in the flat" in marker[1]
    flat_page = client.get(f"/ab/{FLAT_AB}").text
    assert '<b id="mode">CALIB</b>' in flat_page and 'id="rejected-inputs"' not in flat_page
    decide(night, FLAT_AB, "certified", comment="it was a satellite")  # the newest decision stands
    assert 'class="rejected-input"' not in client.get(f"/abs/{BATCH}").text
    assert 'id="rejected-inputs"' not in client.get(f"/ab/{SCIENCE_AB}").text


def ended(client: TestClient, location: str) -> dict[str, Any]:
    number = location.rsplit("/", 1)[-1]

    def done() -> dict[str, Any] | None:
        doc: dict[str, Any] = client.get(f"/api/jobs/{number}").json()
        return doc if doc["state"] != "running" else None

    doc = wait_until(done, timeout=120, interval=0.1, what=f"job {number} to end")
    assert doc is not None
    return doc


def test_create_ab_for_science_runs_through_the_action_machinery(client: TestClient, night: Workspace) -> None:
    token = csrf(client)
    assert client.post("/action/create_ab", data={"date": "2013-02-12", "mode": "SCIENCE"}).status_code == 403
    refused = client.post("/action/create_ab", data={"date": "2013-02-12", "mode": "X; rm -rf /", "csrf": token})
    assert refused.status_code == 400 and "is not CALIB or SCIENCE" in refused.text
    response = client.post("/action/create_ab", data={"date": "2013-02-12", "mode": "science", "csrf": token},
                           follow_redirects=False)
    assert response.status_code == 303
    doc = ended(client, response.headers["location"])
    assert doc["state"] == "done", doc["log"]
    assert doc["label"] == "createAB -m SCIENCE 2013-02-12" and "create-ab -m SCIENCE -d 2013-02-12" in doc["log"]
    assert "SCIENCE 2013-02-12: 2 ABs" in doc["log"]
    audit = (night.mon_dir / "monitor_audit.log").read_text().splitlines()[-1]
    assert "action=create_ab target=SCIENCE_2013-02-12" in audit


def test_the_actions_of_a_mode_build_that_modes_commands(night: Workspace) -> None:
    steps = [argv[5:] for argv in action_steps(night, "process", NIGHT, mode=Mode.SCIENCE)]
    assert steps == [["create-job", "-m", "SCIENCE", "-d", "2013-02-12"],
                     ["exec-cascade", "--dag-id", BATCH, "--jobs", str(night.job_dir / f"execAB_{BATCH}")],
                     ["exec-cascade", "--dag-id", f"QC_{BATCH}", "--jobs", str(night.job_dir / f"execQC_{BATCH}")],
                     ["end-job", "-m", "SCIENCE", "-d", "2013-02-12"]]
    assert action_steps(night, "move", NIGHT, mode=Mode.SCIENCE)[0][5:] == ["move", "-m", "SCIENCE", "-d", "2013-02-12"]
    assert action_steps(night, "create_ab", NIGHT)[0][5:] == ["create-ab", "-m", "CALIB", "-d", "2013-02-12"]


def _processed(ws: Workspace, name: str) -> None:
    """Mark a SCIENCE AB processed the way the cascade leaves it: a successful run in the database and
    PROCESS_STATUS SUCCESSFUL in its file (the NACO header night cannot run the recipe itself)."""
    path = ws.ab_dir / name
    text = with_status(path.read_text(), ProcessStatus.SUCCESSFUL)
    assert text is not None
    path.write_text(text)
    with engine_for_url(ws.db_url).begin() as db:
        db.execute(insert(ab_runs).values(ab=name, batch_id=BATCH, recipe="naco_img_jitter",
                                          started="2013-02-13T09:00:00", ended="2013-02-13T09:00:03",
                                          status="SUCCESSFUL", wall_s=3.0))


def test_certify_science_from_the_monitor_then_move_is_offered(client: TestClient, night: Workspace) -> None:
    _processed(night, SCIENCE_AB)
    append_flag(night, "sci_Queued", NIGHT)
    append_flag(night, "sci_QC", NIGHT)
    decide(night, FLAT_AB, "rejected", comment="ghost")
    row = date_row(client)
    assert f'<a href="/certify/{BATCH}">certify</a>' in cell(row, "sci_certify_move")
    assert 'data-progress="SCIENCE">processed' in row
    page = client.get(f"/certify/{BATCH}").text
    assert "<h1>certify SCIENCE 2013-02-12</h1>" in page and f'action="/certify/{BATCH}"' in page
    line = re.search(rf'<tr data-ab="{re.escape(SCIENCE_AB)}">(.*?)</tr>', page, re.S)
    assert line and 'class="rejected-input"' in line[1] and f"MASTER_IMG_FLAT from {FLAT_AB}" in line[1]
    response = client.post(f"/certify/{BATCH}", data={"csrf": csrf(client), "count": "1", "ab_0": SCIENCE_AB,
                                                       "decision_0": "reject", "comment_0": "made with a bad flat"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith(f"/certify/{BATCH}?message=")
    assert "certified (sci_Certif)" in client.get(response.headers["location"]).text
    assert [line.flag for line in night.status_log.read()][-1] == "sci_Certif"
    row = date_row(client)
    assert cell(row, "sci_certify_move").startswith("s-done")
    assert 'data-action="move" data-mode="SCIENCE"' in row and 'data-action="move" data-mode="CALIB"' not in row


def test_a_comment_without_accept_or_reject_is_not_dropped_in_silence(client: TestClient, night: Workspace) -> None:
    """A comment typed on the certify page without choosing accept or reject: nothing is recorded (not even
    'accept every green AB'), and the page says why, naming the AB."""
    _processed(night, SCIENCE_AB)
    append_flag(night, "sci_QC", NIGHT)
    flags = night.status_log.path.read_text()
    response = client.post(f"/certify/{BATCH}", data={"csrf": csrf(client), "count": "1", "ab_0": SCIENCE_AB,
                                                       "decision_0": "", "comment_0": "coadd looks fine",
                                                       "accept_green": "1"}, follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert f"nothing recorded: a comment needs accept or reject ({SCIENCE_AB}); choose one and record again" in page
    assert night.status_log.path.read_text() == flags
    assert "coadd looks fine" not in client.get(f"/ab/{SCIENCE_AB}").text


def test_a_calib_count_cannot_certify_science_abs(client: TestClient, night: Workspace) -> None:
    """The certify form of one mode names only that mode's ABs: a CALIB AB posted to SCIENCE is refused."""
    _processed(night, SCIENCE_AB)
    append_flag(night, "sci_QC", NIGHT)
    response = client.post(f"/certify/{BATCH}", data={"csrf": csrf(client), "count": "1", "ab_0": FLAT_AB,
                                                       "decision_0": "accept"})
    assert response.status_code == 400 and "is not a successful AB of 2013-02-12" in response.text


def test_the_history_counts_the_abs_of_both_modes(client: TestClient) -> None:
    row = re.search(r'<tr><td><a href="/abs/2013-02-12">2013-02-12</a></td>(.*?)</tr>', client.get("/history").text,
                    re.S)
    assert row and "<td>8</td>" in row[1] and f'<td><a href="/abs/{BATCH}">2</a></td>' in row[1]


def test_the_static_export_has_the_science_ab_monitor(night: Workspace, tmp_path: Path) -> None:
    from dfos.monitor.export import export_site

    target = tmp_path / "site"
    export_site(night, target, wait=30)
    index = (target / "index.html").read_text()
    assert f'href="abs_{BATCH}.html">2 ABs</a>' in index and 'href="abs_2013-02-12.html">8 ABs</a>' in index
    science = (target / f"abs_{BATCH}.html").read_text()
    assert "<h1>AB monitor SCIENCE 2013-02-12</h1>" in science and science.count('<tr data-ab="') == 2


def test_rerun_abort_and_reset_actions_check_their_abs(client: TestClient, night: Workspace) -> None:
    """Issue 20: re-run chosen ABs (names checked: safe, and ABs of the date), hard abort, reset; argument lists."""
    steps = action_steps(night, "rerun", NIGHT, mode=Mode.SCIENCE, names=(SCIENCE_AB,))
    assert [argv[5:] for argv in steps] == [["requeue", "-m", "SCIENCE", "-d", "2013-02-12", "-a", SCIENCE_AB]]
    assert action_steps(night, "abort", NIGHT, mode=Mode.SCIENCE)[0][5:] == ["stop-cascade", "--dag-id", BATCH,
                                                                             "--now"]
    assert action_steps(night, "reset", NIGHT)[0][5:] == ["reset", "-m", "CALIB", "-d", "2013-02-12", "--yes"]
    token = csrf(client)
    for bad, said in [("x; rm -rf /", "is not a safe AB name"), ("NOPE.ab", "is not an AB of SCIENCE 2013-02-12")]:
        refused = client.post("/action/rerun", data={"date": "2013-02-12", "mode": "SCIENCE", "abs": bad,
                                                     "csrf": token})
        assert refused.status_code == 400 and said in refused.text, refused.text
    assert client.post("/action/rerun", data={"date": "2013-02-12", "mode": "SCIENCE", "abs": SCIENCE_AB}
                       ).status_code == 403  # no CSRF token
