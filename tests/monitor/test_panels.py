"""The dfoMonitor's DFOS panels over HTTP (Starlette's test client, the real app; no esorex): the CAL row and
its depth form, refreshVCAL, calChecker, the live autoDaily state, the log links, the per-date status and
CAL pages, the cron checks, the transfer panel and its queries, the XDM refresh."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from monitor_helpers import log_in_token, wait_until
from starlette.testclient import TestClient

from dfos.headers.io import card_text, dotted_header
from dfos.keys import Mode
from dfos.monitor.app import create_app
from dfos.monitor.background import Cached
from dfos.monitor.panels import classify_crontab_lines
from dfos.monitor.web import MonitorState
from dfos.steps.auto_state import read_state, write_state
from dfos.steps.cal_checker import read_cal_checker
from dfos.steps.create_ab import create_abs
from dfos.steps.headers import extract_headers
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, open_workspace

NIGHT = date(2013, 2, 12)
NOW = "2013-02-13T14:00:00"
TOKEN = "panel-token-123"
SETUP = [("DET.CHIPS", 1), ("DET.WIN1.BINX", 1), ("DET.WIN1.BINY", 1), ("DET.READ.SPEED", "1pt/225kHz/lg"),
         ("DET.WIN1.NX", 100), ("DET.WIN1.NY", 100)]


def memory_header(folder: Path, name: str, catg: str, extra: list[tuple[str, object]] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(card_text(dotted_header([("SIMPLE", True), ("PRO.CATG", catg), *SETUP, *(extra or [])])))
    return path


@pytest.fixture
def night(uves_night: Workspace) -> Workspace:
    ws = open_workspace(uves_night.root, env={"DFOS_NOW": NOW})
    extract_headers(ws, NIGHT)
    append_flag(ws, "raw_Complete", NIGHT)
    return ws


@pytest.fixture
def client(night: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(night, token=TOKEN), base_url="http://127.0.0.1") as test_client:
        yield test_client


def login(client: TestClient) -> str:
    """Log in with the token; return the session's CSRF token."""
    return log_in_token(client, TOKEN)


def panel(page: str, name: str) -> str:
    found = re.search(rf'<div class="panel" id="{name}".*?\n</div>', page, re.S)
    assert found, f"no panel {name}"
    return found[0]


def ended_job(client: TestClient, location: str) -> dict[str, Any]:
    number = location.rsplit("/", 1)[-1]

    def ended() -> dict[str, Any] | None:
        doc: dict[str, Any] = client.get(f"/api/jobs/{number}").json()
        return doc if doc["state"] != "running" else None

    doc = wait_until(ended, timeout=120, interval=0.1, what=f"job {number}")
    assert doc is not None
    return doc


def dfos(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DFOS_NOW": NOW}
    return subprocess.run([sys.executable, "-m", "dfos.cli.main", "--root", str(ws.root), *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_cal_row_shows_the_memory_and_its_depth_form_writes_dfos_toml(client: TestClient, night: Workspace) -> None:
    for day in ("2013-02-09", "2013-02-10", "2013-02-11"):
        memory_header(night.mcal_dir / day, f"UV_MBIA_{day}.hdr", "MASTER_BIAS_BLUE")
    memory_header(night.vcal_dir / "2013-02-12", "v1.hdr", "MASTER_BIAS_BLUE")
    assert client.post("/panel/memory-depth", data={"N_MCAL_LIST": "2"}).status_code == 401  # no login
    csrf = login(client)
    row = panel(client.get("/").text, "cal-memory")
    assert "MCAL: newest 10 date(s)" in row and "2013-02-11 (1)" in row and "2013-02-09 (1)" in row
    assert "VCAL: newest 3 date(s)" in row and "2013-02-12 (1)" in row
    assert 'action="/panel/memory-depth"' in row and 'action="/panel/refresh-vcal"' in row
    before = (night.root / "dfos.toml").read_text()
    assert client.post("/panel/memory-depth", data={"N_MCAL_LIST": "2", "csrf": "forged"}).status_code == 403
    for bad in ("0", "366", "abc", "2.5", "-1", ""):
        answer = client.post("/panel/memory-depth", data={"N_MCAL_LIST": bad, "csrf": csrf})
        assert answer.status_code == 400 and "N_MCAL_LIST" in answer.text, bad
    assert (night.root / "dfos.toml").read_text() == before  # nothing written for a bad value
    done = client.post("/panel/memory-depth", data={"N_MCAL_LIST": "2", "N_VCAL_LIST": "5", "csrf": csrf},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/#cal-memory"
    after = (night.root / "dfos.toml").read_text()
    parsed = tomllib.loads(after)
    assert parsed["association"]["N_MCAL_LIST"] == 2 and parsed["association"]["N_VCAL_LIST"] == 5
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert sorted(changed) == ["N_MCAL_LIST = 2", "N_VCAL_LIST = 5"]  # only these lines changed
    assert open_workspace(night.root, env={}).settings.N_MCAL_LIST == 2
    row = panel(client.get("/").text, "cal-memory")
    assert "MCAL: newest 2 date(s)" in row and "2013-02-09" not in row.split("<form")[0] and "+ 1 older" in row
    audit = (night.mon_dir / "monitor_audit.log").read_text()
    assert "action=edit_memory_depth" in audit and "N_MCAL_LIST=2" in audit


def test_refresh_vcal_removes_entries_no_ab_makes(client: TestClient, night: Workspace) -> None:
    create_abs(night, NIGHT, Mode.CALIB)  # the night's CALIB ABs and their virtual products
    folder = night.vcal_dir / NIGHT.isoformat()
    made = sorted(p.name for p in folder.glob("*.hdr"))
    assert made
    orphan = memory_header(folder, "orphan.hdr", "MASTER_BIAS_BLUE",
                           [("DFOS.AB", "UVES.2013-02-12T00:00:00.000_gone.ab"), ("DFOS.FILE", "$DFS_PRODUCT/x.fits")])
    csrf = login(client)
    job = client.post("/panel/refresh-vcal", data={"csrf": csrf}, follow_redirects=False)
    assert job.status_code == 303
    doc = ended_job(client, job.headers["location"])
    assert doc["state"] == "done", doc["log"]
    gone = "UVES.2013-02-12T00:00:00.000_gone.ab"
    assert f"removed VCAL/2013-02-12/orphan.hdr: its AB {gone} no longer exists" in doc["log"]
    assert not orphan.exists()
    assert sorted(p.name for p in folder.glob("*.hdr")) == made  # the ABs' own virtual products stay
    assert f"{len(made)} kept, 1 removed" in doc["log"]


def test_cal_checker_writes_its_file_and_the_panel_shows_it(client: TestClient, night: Workspace) -> None:
    memory_header(night.mcal_dir / "2013-02-13", "bias.hdr", "MASTER_BIAS_BLUE")  # TODAY: ok
    memory_header(night.mcal_dir / "2013-02-01", "dark.hdr", "MASTER_DARK_BLUE")  # 12 days: due (7 / 30)
    memory_header(night.mcal_dir / "2013-01-01", "flat.hdr", "MASTER_FLAT_BLUE")  # 43 days: missing (1 / 7)
    login(client)
    assert "not run yet" in panel(client.get("/").text, "calchecker")
    done = dfos(night, "cal-checker")
    assert done.returncode == 0, done.stderr
    report = read_cal_checker(night)
    assert report is not None and report.today == "2013-02-13"
    status = {c.catg: c.status for c in report.checks}
    assert status["MASTER_BIAS_BLUE"] == "ok" and status["MASTER_DARK_BLUE"] == "due"
    assert status["MASTER_FLAT_BLUE"] == "missing" and status["ORDER_TABLE_BLUE"] == "missing"  # never taken
    text = (night.mon_dir / "CAL_CHECKER").read_text()
    assert text.startswith("# calChecker UVES 2013-02-13T14:00:00 TODAY=2013-02-13\n# CATG\tSETUP\tLAST")
    assert "MASTER_DARK_BLUE\tDET.CHIPS=1 DET.WIN1.BINX=1" in text and "\t2013-02-01\tMCAL\t12\t7\t30\tdue" in text
    box = panel(client.get("/").text, "calchecker")
    assert re.search(r"1 ok, 1 due, \d+ missing", box) and 'data-catg="MASTER_DARK_BLUE"' in box
    assert 'data-catg="MASTER_BIAS_BLUE"' not in box  # only what needs attention is listed
    assert client.get("/file?path=monitor/CAL_CHECKER").status_code == 200
    cron = dfos(night, "cron", "install")
    assert "*/30 * * * *" in cron.stdout and "cron run -t calChecker" in cron.stdout
    as_json = dfos(night, "cal-checker", "--json")
    assert '"due": 1' in as_json.stdout


def test_the_live_autodaily_state_and_its_log(client: TestClient, night: Workspace) -> None:
    login(client)
    assert client.get("/api/auto-daily").json()["state"] == "idle"  # never ran
    log = night.mon_dir / "AUTO_DAILY" / "auto_daily_20130213T140000_1.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("2013-02-13T14:00:00 2013-02-12: header intake\n")
    write_state(night, "running", "2013-02-13T14:00:00", "2013-02-13T14:00:01", "2013-02-12: createAB -m CALIB", log)
    doc = client.get("/api/auto-daily").json()
    assert doc["state"] == "running" and doc["step"] == "2013-02-12: createAB -m CALIB"
    assert doc["log_href"] == "/file?path=monitor/AUTO_DAILY/auto_daily_20130213T140000_1.log"
    assert "header intake" in client.get(doc["log_href"]).text
    box = panel(client.get("/").text, "auto-daily")
    assert 'data-state="running"' in box and "createAB -m CALIB" in box and 'class="auto-log" href=' in box
    state_file = night.mon_dir / "AUTO_DAILY" / "state"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    state_file.write_text(re.sub(r"pid=\d+", f"pid={dead}", state_file.read_text()))
    assert client.get("/api/auto-daily").json()["state"] == "stopped"  # the run's process is gone
    failed = dfos(night, "auto-daily", "-D", "2013-02-20")  # a real run, on a date without data
    assert failed.returncode != 0
    after = read_state(night)
    assert after.state == "failed" and after.started == NOW
    assert "2013-02-20: header intake: no UVES frames" in after.step
    assert after.log.startswith("monitor/AUTO_DAILY/auto_daily_")
    assert "header intake" in client.get(f"/file?path={after.log}").text  # the run's log, written step by step
    assert client.get("/api/auto-daily").json()["state"] == "failed"
    assert dfos(night, "auto-daily").returncode == 0  # nothing new
    assert read_state(night).state == "idle" and read_state(night).step == "nothing new"


def test_log_links_and_the_per_date_status_and_cal_pages(client: TestClient, night: Workspace) -> None:
    create_abs(night, NIGHT, Mode.CALIB)
    cron_logs = night.mon_dir / "CRON_LOGS"
    cron_logs.mkdir(parents=True, exist_ok=True)
    (cron_logs / "calChecker_20130213T140000.log").write_text("$ dfos cal-checker\nexit 0\n")
    (night.mon_dir / "AUTO_DAILY").mkdir(parents=True, exist_ok=True)
    (night.mon_dir / "AUTO_DAILY" / "auto_daily_20130213T130000_7.log").write_text("nothing new\n")
    login(client)
    page = client.get("/").text
    links = panel(page, "log-links")
    for path in ("monitor/AUTO_DAILY/auto_daily_20130213T130000_7.log",
                 "monitor/CRON_LOGS/calChecker_20130213T140000.log", "monitor/DFO_STATUS"):
        assert f'href="/file?path={path}"' in links
        assert client.get(f"/file?path={path}").status_code == 200
    assert client.get("/file?path=monitor/CRON_LOGS/../../dfos.toml").status_code == 404
    assert client.get("/file?path=monitor/AUTO_DAILY/.lock").status_code == 404
    row = re.search(r'<tr data-date="2013-02-12">.*?</tr>', page, re.S)
    assert row and 'href="/date-status/2013-02-12"' in row[0] and 'href="/date-cal/2013-02-12"' in row[0]
    status = client.get("/date-status/2013-02-12").text
    assert re.search(r"raw_Complete 2013-02-12 \d{4}-", status) and re.search(r"cal_AB 2013-02-12 ", status)
    cal = client.get("/date-cal/2013-02-12").text
    assert 'data-kind="VCAL"' in cal and "$DFO_CAL_DIR/VCAL/2013-02-12/" in cal and "_tpl.ab</a>" in cal
    assert client.get("/date-cal/2013-02-30").status_code == 404
    assert client.get("/date-status/..%2F..").status_code == 404


def monitor(client: TestClient) -> MonitorState:
    found: MonitorState = cast(Any, client.app).state.monitor
    return found


def set_fact(client: TestClient, name: str, value: dict[str, Any]) -> None:
    cache = Cached(lambda: value, ttl=3600.0)
    cache.wait(10)
    setattr(monitor(client).facts, name, cache)


def test_cron_checks_name_each_job_and_whose_workspace_a_line_runs_on(client: TestClient, night: Workspace) -> None:
    mine = dfos(night, "cron", "install").stdout.splitlines()
    other = "17 * * * * /opt/dfos/bin/dfos --root /home/other/ws cron run -t autoDaily"
    lines = [line for line in mine if not line.startswith("#")] + [other]
    found = classify_crontab_lines(lines, night.root)
    assert found["hc"] and found["calchecker_ok"] and found["forced_ok"]
    assert [o["root"] for o in found["others"]] == ["/home/other/ws"]
    hourly = [line.replace("* * * * *", "*/5 * * * *") if "--if-requested" in line else line for line in lines]
    hourly = [line.replace("*/30 * * * *", "0 3 * * *") for line in hourly]
    worse = classify_crontab_lines([line for line in hourly if "-t health" not in line], night.root)
    assert worse["hc"] is None and not worse["forced_ok"] and worse["forced"] and not worse["calchecker_ok"]
    set_fact(client, "cron", {"available": True, "lines": lines, "autodaily": lines[0], "trends": None})
    login(client)
    box = panel(client.get("/").text, "cron-checks")
    assert 'data-check="hc">HC jobs (health) enabled as cronjob' in box.replace("\n", "")
    assert "calChecker enabled every half hour" in box and "forced refresh enabled (* * * * *)" in box
    assert "export for the QC web enabled (*/10 * * * *)" in box
    assert "another workspace: --root /home/other/ws" in box
    assert f"{len(lines)} dfos line(s), {len(lines) - 1} of this workspace" in box


def test_transfer_panel_any_catg_line_and_the_query_buttons(client: TestClient, night: Workspace) -> None:
    headers = night.hdr_dir / NIGHT.isoformat()
    science = next(p for p in sorted(headers.glob("*.hdr")) if "DPR.CATG = 'SCIENCE" in p.read_text()
                   or "CATG= 'SCIENCE" in p.read_text() or "'SCIENCE '" in p.read_text())
    science.unlink()  # one SCIENCE frame not arrived yet; every CALIB frame is here
    frame = science.name.removesuffix(".hdr") + ".fits"
    login(client)

    def answered() -> str | None:
        box = panel(client.get("/").text, "transfer")
        return None if "asking the archive" in box else box

    box = wait_until(answered, timeout=60, what="the transfer facts")
    assert box is not None
    assert "no CALIB file delayed by &gt;1 h" in box
    assert re.search(rf"longest delay \(any dpr.catg\): {re.escape(frame)} SCIENCE \(\d+\.\d h\)", box)
    csrf = login(client)
    for bad in ({"date": "2013-02-30", "query": "pending"}, {"date": NIGHT.isoformat(), "query": "rm -rf"}):
        assert client.post("/panel/transfer", data={**bad, "csrf": csrf}).status_code == 400
    pending = client.post("/panel/transfer", data={"date": NIGHT.isoformat(), "query": "pending", "csrf": csrf},
                          follow_redirects=False)
    doc = ended_job(client, pending.headers["location"])
    assert doc["state"] == "done" and f"{frame}  SCIENCE" in doc["log"] and "1 frame(s) pending" in doc["log"]
    arrived = client.post("/panel/transfer", data={"date": NIGHT.isoformat(), "query": "arrived", "csrf": csrf},
                          follow_redirects=False)
    doc = ended_job(client, arrived.headers["location"])
    assert doc["state"] == "done" and frame not in doc["log"] and "CALIB" in doc["log"] and "arrived" in doc["log"]


def test_xdm_refresh_scans_the_disk_again_now(client: TestClient, night: Workspace) -> None:
    csrf = login(client)
    monitor(client).facts.xdm.wait(60)
    before = dict(monitor(client).facts.xdm.get()[0]["rows"])
    blob = night.raw_dir / "2013-02-12" / "big.bin"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(os.urandom(3_000_000))
    assert dict(monitor(client).facts.xdm.get()[0]["rows"])["RAW"] == before["RAW"]  # cached
    assert 'action="/panel/xdm-refresh"' in panel(client.get("/").text, "xdm")
    done = client.post("/panel/xdm-refresh", data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/#xdm"
    after = dict(monitor(client).facts.xdm.get()[0]["rows"])
    assert after["RAW"] >= before["RAW"] + 3_000_000
    assert client.post("/panel/xdm-refresh", data={"csrf": "forged"}).status_code == 403
