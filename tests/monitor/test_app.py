"""The monitor over HTTP (Starlette's test client, the real app): pages, login, CSRF, file views,
actions as background jobs, the static export."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import log_in_token, wait_until
from starlette.testclient import TestClient

from dfos.monitor.app import create_app
from dfos.steps.create_ab import create_abs
from dfos.steps.headers import extract_headers
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, open_workspace

NIGHT = date(2013, 2, 12)
TOKEN = "test-token-123"


@pytest.fixture
def night(uves_night: Workspace) -> Workspace:
    ws = open_workspace(uves_night.root, env={"DFOS_NOW": "2013-02-13T14:00:00"})
    extract_headers(ws, NIGHT)
    append_flag(ws, "raw_Complete", NIGHT)  # the night is complete: createAB is offered
    return ws


@pytest.fixture
def client(night: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(night, token=TOKEN), base_url="http://127.0.0.1") as test_client:
        yield test_client


def login(client: TestClient) -> str:
    """Log in with the token; return the session's CSRF token."""
    return log_in_token(client, TOKEN)


def ended_job(client: TestClient, number: str, timeout: float) -> dict[str, Any]:
    """The job's JSON once it is no longer running (``timeout`` only guards against a hang)."""

    def ended() -> dict[str, Any] | None:
        doc: dict[str, Any] = client.get(f"/api/jobs/{number}").json()
        return doc if doc["state"] != "running" else None

    doc = wait_until(ended, timeout=timeout, interval=0.1, what=f"job {number} to end")
    assert doc is not None
    return doc


def test_pages_need_a_login_unless_public(client: TestClient, night: Workspace) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/"
    assert client.get("/api/dates").status_code == 401
    public = open_workspace(night.root, env={"DFOS_MONITOR_PUBLIC": "yes", "DFOS_NOW": "2013-02-13T14:00:00"})
    with TestClient(create_app(public, token=TOKEN), base_url="http://127.0.0.1") as anonymous:
        page = anonymous.get("/")
        assert page.status_code == 200 and "2013-02-12" in page.text
        assert "createAB</button>" not in page.text  # anonymous readers get no action buttons
        assert page.headers["x-frame-options"] == "DENY"


def test_the_dfo_monitor_shows_the_date_table_and_panels(client: TestClient) -> None:
    login(client)
    page = client.get("/").text
    for panel in ("installation", "ab-count", "xdm", "archive", "cron", "last", "todo", "postit", "system"):
        assert f'id="{panel}"' in page
    row = re.search(r'<tr data-date="2013-02-12">(.*?)</tr>', page, re.S)
    assert row is not None
    assert 'class="s-offer" data-step="create_ab"' in row[1] and 'data-action="create_ab"' in row[1]
    assert 'class="c-green"' in row[1]  # raw_Complete is set
    dates = client.get("/api/dates").json()
    assert dates["dates"][0]["steps"]["create_ab"] == "OFFER"


def test_a_past_night_without_raw_complete_says_what_it_waits_for(night: Workspace) -> None:
    """A night brought in by 'dfos headers' alone stays YELLOW with every step WAIT: the cell says why and how."""
    ws = open_workspace(night.root, env={"DFOS_NOW": "2013-02-14T14:00:00"})
    append_flag(ws, "fits_Requested", date(2013, 2, 13))
    for where in ("DFO_HDR_DIR", "DFO_RAW_DIR"):  # its headers and frames, as 'dfos headers' and 'download' leave them
        (ws.path(where) / "2013-02-13").mkdir(exist_ok=True)
    with TestClient(create_app(ws, token=TOKEN), base_url="http://127.0.0.1") as client:
        login(client)
        page = client.get("/").text
    waiting = re.search(r'<tr data-date="2013-02-13">(.*?)</tr>', page, re.S)
    assert waiting and 'data-hint="raw"' in waiting[1] and "dfos flag raw_Complete -d 2013-02-13" in waiting[1]
    complete = re.search(r'<tr data-date="2013-02-12">(.*?)</tr>', page, re.S)
    assert complete and 'data-hint="raw"' not in complete[1]


def test_the_page_carries_the_state_it_was_drawn_with(client: TestClient, night: Workspace) -> None:
    """The browser compares the page's fingerprint with /api/dates, so a change made between drawing the
    page and its first poll still reloads it (the first poll used to be taken as the baseline)."""
    login(client)
    drawn = re.search(r'id="dates" data-state="([0-9a-f]{16})"', client.get("/").text)
    assert drawn is not None
    assert client.get("/api/dates").json()["state"] == drawn[1]
    night.status_log.append("cal_AB", "2013-02-12", datetime(2013, 2, 13, 9))
    assert client.get("/api/dates").json()["state"] != drawn[1]


def test_state_changes_need_login_and_csrf(client: TestClient, night: Workspace) -> None:
    assert client.post("/action/create_ab", data={"date": "2013-02-12"}).status_code == 401
    assert client.post("/postit", data={"text": "x"}).status_code == 401
    csrf = login(client)
    assert client.post("/action/create_ab", data={"date": "2013-02-12"}).status_code == 403
    assert client.post("/action/create_ab", data={"date": "2013-02-12", "csrf": "forged"}).status_code == 403
    wrong = csrf[:-1] + ("A" if csrf[-1] != "A" else "B")  # one character off
    assert client.post("/postit", data={"text": "hide frame X", "csrf": wrong}).status_code == 403
    assert not (night.mon_dir / "DFO_POSTIT").exists()
    response = client.post("/postit", data={"text": "hide frame X", "csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303 and (night.mon_dir / "DFO_POSTIT").read_text() == "hide frame X"
    assert client.post("/action/create_ab", data={"date": "../x", "csrf": csrf}).status_code == 400
    assert client.post("/action/rm_rf", data={"csrf": csrf}).status_code == 404
    assert client.post("/action/launch_todo", data={"todo": "../../bin/sh", "csrf": csrf}).status_code == 400


def test_a_wrong_password_is_refused(night: Workspace) -> None:
    ws = open_workspace(night.root, env={"DFOS_MONITOR_PASSWORD": "s3cret"})
    with TestClient(create_app(ws), base_url="http://127.0.0.1") as client:
        assert client.post("/login", data={"password": "guess"}).status_code == 401
        assert client.get("/login?token=anything").status_code == 200 and 'id="logout"' not in client.get("/login").text
        assert client.post("/login", data={"password": "s3cret"}).status_code == 200  # redirected to the monitor
        assert client.get("/api/dates").status_code == 200


def test_file_views_stay_inside_the_workspace(client: TestClient, night: Workspace, tmp_path: Path) -> None:
    login(client)
    secret = tmp_path / "outside.txt"
    secret.write_text("not for the monitor")
    (night.root / "link-out").symlink_to(secret)
    (night.root / "lists" / "dir-out").symlink_to(tmp_path, target_is_directory=True)
    status = client.get("/file", params={"path": "monitor/DFO_STATUS"})
    assert status.status_code == 200 and "fits_Requested 2013-02-12" in status.text
    for bad in ("../outside.txt", "/etc/passwd", str(secret), "link-out", "lists/dir-out/outside.txt",
                "monitor/../../outside.txt", "", "monitor/", "~/x"):
        response = client.get("/file", params={"path": bad})
        assert response.status_code == 404 and "not for the monitor" not in response.text, bad


def test_create_ab_runs_as_a_background_job(client: TestClient, night: Workspace) -> None:
    csrf = login(client)
    response = client.post("/action/create_ab", data={"date": "2013-02-12", "csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    job_url = response.headers["location"]
    number = job_url.rsplit("/", 1)[-1]
    doc = ended_job(client, number, timeout=60)
    assert doc["state"] == "done", doc["log"]
    assert "$ --root" in doc["log"] and "7 ABs" in doc["log"]
    assert (night.mon_dir / "AB_list_CALIB_2013-02-12").is_file()
    page = client.get("/abs/2013-02-12")
    assert page.status_code == 200 and page.text.count('<tr data-ab="') == 7
    api = client.get("/api/abs/2013-02-12", params={"state": "incomplete"}).json()
    assert api["counts"]["created"] == 5 and api["counts"]["incomplete"] == 2 and len(api["abs"]) == 2


def test_the_static_export_has_no_actions(night: Workspace, tmp_path: Path) -> None:
    from dfos.monitor.export import export_site

    create_abs(night, NIGHT, "CALIB")
    target = tmp_path / "web" / "site"
    pages = export_site(night, target, wait=30)
    assert pages == 4
    index = (target / "index.html").read_text()
    assert "2013-02-12" in index and 'href="abs_2013-02-12.html"' in index
    assert "<form" not in index and "<script" not in index and "/static/" not in index
    abs_page = (target / "abs_2013-02-12.html").read_text()
    assert abs_page.count('<tr data-ab="') == 7
    assert {p.name for p in target.iterdir()} == {"index.html", "abs_2013-02-12.html", "health.html",
                                                  "history.html", "monitor.css", "img"}
    export_site(night, target, wait=30)  # again: replaced, nothing left over beside it
    assert sorted(p.name for p in target.parent.iterdir()) == ["site"]


def test_the_default_bind_address_is_loopback() -> None:
    from dfos.cli.commands.monitor import serve_cmd

    host = next(p for p in serve_cmd.params if p.name == "host")
    assert host.default == "127.0.0.1"


def test_the_session_key_is_private(night: Workspace) -> None:
    create_app(night, token=TOKEN)
    assert os.stat(night.root / ".monitor_secret").st_mode & 0o077 == 0


def test_todo_lists_can_be_edited_and_launched(client: TestClient, night: Workspace) -> None:
    csrf = login(client)
    script = "#!/bin/sh\necho ingesting 2013-02-12\n"
    response = client.post("/todo/JOBS_INGEST", data={"text": script, "csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    path = night.job_dir / "JOBS_INGEST"
    assert path.read_text() == script and os.access(path, os.X_OK)
    assert client.post("/todo/JOBS_OTHER", data={"text": "x", "csrf": csrf}).status_code == 404
    page = client.get("/").text
    assert "JOBS_INGEST: 1 lines" in page
    asked = client.post("/action/launch_todo", data={"todo": "JOBS_INGEST", "csrf": csrf}, follow_redirects=False)
    assert asked.status_code == 200 and "Are you sure?" in asked.text  # launching asks first (issue 20)
    response = client.post("/action/launch_todo", data={"todo": "JOBS_INGEST", "csrf": csrf, "confirm": "1"},
                           follow_redirects=False)
    number = response.headers["location"].rsplit("/", 1)[-1]
    doc = ended_job(client, number, timeout=30)
    assert doc["state"] == "done" and "ingesting 2013-02-12" in doc["log"]


def test_a_job_file_naming_another_workspace_shows_and_is_not_launched(client: TestClient, night: Workspace,
                                                                        tmp_path: Path) -> None:
    """Issue 19: JOBS_INGEST copied from another workspace (--root OTHER) would ingest there: the main page
    says so in its sharing panel, and the monitor refuses to launch it until 'dfos sharing relocate'."""
    csrf = login(client)
    other = tmp_path / "other-ws"
    script = f"#!/bin/sh\ntouch {other}/ingested\n/x/bin/dfos --root {other} ingest -m CALIB -d 2013-02-12\n"
    assert client.post("/todo/JOBS_INGEST", data={"text": script, "csrf": csrf},
                       follow_redirects=False).status_code == 303
    page = client.get("/").text
    assert 'id="sharing"' in page and f"--root {other}" in page and "sharing relocate" in page
    response = client.post("/action/launch_todo", data={"todo": "JOBS_INGEST", "csrf": csrf}, follow_redirects=False)
    assert response.status_code == 409 and "sharing relocate" in response.text
    assert not other.exists()


def test_the_link_bar() -> None:
    from dfos.monitor.facts import link_bar

    items = link_bar("bias|bias_trending|/health; BREAK; SPACE; evil|x|javascript:alert(1); broken; "
                     "wiki|QC_wiki|https://example.org/qc")
    assert items == [{"kind": "link", "label": "bias", "title": "bias trending", "url": "/health"},
                     {"kind": "break"}, {"kind": "space"},
                     {"kind": "link", "label": "wiki", "title": "QC wiki", "url": "https://example.org/qc"}]


def test_the_forced_refresh_button_runs_auto_daily(client: TestClient, night: Workspace) -> None:
    csrf = login(client)
    assert 'data-action="auto_daily"' in client.get("/").text
    response = client.post("/action/auto_daily", data={"csrf": csrf}, follow_redirects=False)
    number = response.headers["location"].rsplit("/", 1)[-1]
    doc = ended_job(client, number, timeout=120)
    assert doc["state"] == "done" and "$ --root" in doc["log"] and "auto-daily" in doc["log"]
    assert (night.mon_dir / "AUTO_DAILY" / "last_run").is_file()


def test_a_todo_list_whose_blocks_all_ran_is_not_pending(client: TestClient, night: Workspace) -> None:
    """Issue 20: a JOBS_NIGHT block that ran is commented out under its '# executed' line: the ToDo list is no
    longer yellow (offered), and its header alone is no pending line."""
    from dfos.steps.create_job import create_job
    from dfos.steps.todo import mark_block

    login(client)
    create_abs(night, NIGHT, "CALIB")
    create_job(night, NIGHT, "CALIB")
    page = client.get("/").text
    found = re.search(r'<div class="(\w+) todo-row">JOBS_NIGHT: (\d+) lines', page)
    assert found and found[1] == "offer" and int(found[2]) >= 5
    assert mark_block(night, "CALIB", NIGHT, 0, "qc") == ("JOBS_NIGHT",)
    page = client.get("/").text
    found = re.search(r'<div class="(\w+) todo-row">JOBS_NIGHT: (\d+) lines', page)
    assert found and found[1] == "wait" and found[2] == "0"
    row = re.search(r'JOBS_NIGHT: 0 lines.*?</div>', page, re.S)
    assert row and "launch_todo" not in row[0]  # nothing left to launch: no launch button
    assert "# executed 2013-02-13T14:00:00 by qc, exit 0" in (night.job_dir / "JOBS_NIGHT").read_text()
