"""The monitor as an attacker tries it (issue 14): secrets through the file view, forged and revoked
cookies, password guessing, bad form values, odd names, missing security headers, the audit log."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from monitor_helpers import NOW, csrf_of, forge_cookie, log_in, night_with_headers
from starlette.testclient import TestClient

from dfos.errors import ConfigError
from dfos.keys import BatchId
from dfos.monitor.app import create_app
from dfos.monitor.security.login import LoginLimiter
from dfos.monitor.security.paths import OutsideWorkspace, shown_file
from dfos.workspace import Workspace, init_workspace, open_workspace

PASSWORD = "correct horse battery"
BASE = "http://127.0.0.1"


@pytest.fixture
def headers_night(uves_night: Workspace) -> Workspace:
    return night_with_headers(uves_night)


def _ws(root: Path, **env: str) -> Workspace:
    return open_workspace(root, env={"DFOS_NOW": NOW, **env})


@pytest.fixture
def guarded(headers_night: Workspace) -> Workspace:
    return _ws(headers_night.root, DFOS_MONITOR_PASSWORD=PASSWORD)


@pytest.fixture
def client(guarded: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(guarded), base_url=BASE) as test_client:
        yield test_client


def _cookie(client: TestClient) -> str:
    value = client.cookies.get("dfos_monitor")
    assert value
    return value


def _with_cookie(app_ws: Workspace, cookie: str) -> Iterator[TestClient]:
    with TestClient(create_app(app_ws), base_url=BASE, headers={"cookie": f"dfos_monitor={cookie}"}) as other:
        yield other


# --- problem 1: secrets ---------------------------------------------------------------------------------

def test_anonymous_readers_of_a_public_monitor_get_no_secret(headers_night: Workspace) -> None:
    ws = _ws(headers_night.root, DFOS_MONITOR_PUBLIC="yes", DFOS_MONITOR_PASSWORD=PASSWORD)
    (ws.root / "dfos.sqlite").touch(exist_ok=True)
    (ws.log_dir / "2013-02-12").mkdir(parents=True, exist_ok=True)
    (ws.log_dir / "2013-02-12" / "config.log").symlink_to(ws.root / "dfos.toml")
    with TestClient(create_app(ws), base_url=BASE) as anonymous:
        key = (ws.root / ".monitor_secret").read_text().strip()
        for path in (".monitor_secret", "dfos.toml", "dfos.sqlite", ".monitor_sessions", "./dfos.toml",
                     "monitor/monitor_audit.log", "logs/2013-02-12/config.log", "config/../dfos.toml",
                     "headers", "monitor/../.monitor_secret"):
            response = anonymous.get("/file", params={"path": path})
            assert response.status_code == 404, path
            assert key not in response.text and "[monitor]" not in response.text, path
        status = anonymous.get("/file", params={"path": "monitor/DFO_STATUS"})
        assert status.status_code == 200 and "raw_Complete 2013-02-12" in status.text
        header = next((ws.hdr_dir / "2013-02-12").glob("*.hdr"))
        assert anonymous.get("/file", params={"path": str(header.relative_to(ws.root))}).status_code == 200
        for page in ("/", "/history", "/health", "/api/dates"):
            assert key not in anonymous.get(page).text


def test_a_cookie_forged_with_the_key_or_a_guessed_one_is_refused(guarded: Workspace) -> None:
    create_app(guarded)
    key = (guarded.root / ".monitor_secret").read_text().strip()
    for signing_key in (key, "0" * 64, "guess"):
        forged = forge_cookie(signing_key, {"user": "operator", "sid": "made-up", "csrf": "c"})
        for client in _with_cookie(guarded, forged):
            assert client.get("/api/dates").status_code == 401
            response = client.post("/todo/JOBS_CLEANUP", data={"text": "#!/bin/sh\ntouch /tmp/pwned\n", "csrf": "c"})
            assert response.status_code == 401
            assert client.post("/action/launch_todo", data={"todo": "JOBS_CLEANUP", "csrf": "c"}).status_code == 401
    assert not (guarded.job_dir / "JOBS_CLEANUP").exists()


def test_logout_revokes_the_session_server_side(client: TestClient, guarded: Workspace) -> None:
    csrf = log_in(client, PASSWORD)
    saved = _cookie(client)
    assert client.get("/api/dates").status_code == 200
    assert client.post("/logout", data={"csrf": csrf}).status_code == 200
    for replay in _with_cookie(guarded, saved):
        assert replay.get("/api/dates").status_code == 401
        assert replay.post("/postit", data={"text": "x", "csrf": csrf}).status_code == 401


def test_rotate_secret_ends_every_session_on_every_server(guarded: Workspace,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from dfos.cli.main import main

    with TestClient(create_app(guarded), base_url=BASE) as first, \
            TestClient(create_app(guarded), base_url=BASE) as second:
        log_in(first, PASSWORD)
        log_in(second, PASSWORD)
        cookies = [_cookie(first), _cookie(second)]
        old_key = (guarded.root / ".monitor_secret").read_text().strip()
        assert main(["--root", str(guarded.root), "monitor", "rotate-secret"]) == 0
        assert "2 session(s) ended" in capsys.readouterr().out
        assert (guarded.root / ".monitor_secret").read_text().strip() != old_key
        assert os.stat(guarded.root / ".monitor_secret").st_mode & 0o077 == 0
        assert first.get("/api/dates").status_code == 401 and second.get("/api/dates").status_code == 401
    for cookie in cookies:  # and after a restart
        for restarted in _with_cookie(guarded, cookie):
            assert restarted.get("/api/dates").status_code == 401
    forged = forge_cookie(old_key, {"user": "operator", "sid": "x"})
    for restarted in _with_cookie(guarded, forged):
        assert restarted.get("/api/dates").status_code == 401


def test_the_session_table_keeps_no_session_id_and_is_private(client: TestClient, guarded: Workspace) -> None:
    log_in(client, PASSWORD)
    table = (guarded.root / ".monitor_sessions").read_text()
    assert os.stat(guarded.root / ".monitor_sessions").st_mode & 0o077 == 0
    from base64 import b64decode

    payload = b64decode(_cookie(client).split(".")[0] + "==").decode()
    import json

    sid = json.loads(payload)["sid"]
    assert sid not in table and "operator" in table


def test_the_password_is_kept_only_as_a_hash(client: TestClient) -> None:
    state = client.app.state.monitor  # type: ignore[attr-defined]
    assert state.workspace.settings.MONITOR_PASSWORD == "" and state.token == ""
    assert PASSWORD not in repr(state.__dict__)


def test_the_password_may_come_from_a_private_file(headers_night: Workspace) -> None:
    secret = headers_night.root / "config" / "monitor.pw"
    secret.write_text("from the file\n")
    secret.chmod(0o644)
    ws = _ws(headers_night.root, DFOS_MONITOR_PASSWORD_FILE="config/monitor.pw")
    with pytest.raises(ConfigError, match="readable by others"):
        create_app(ws)
    secret.chmod(0o600)
    with TestClient(create_app(ws), base_url=BASE) as client:
        assert client.post("/login", data={"password": "from the file\n"}).status_code == 401
        log_in(client, "from the file")
        assert client.get("/file", params={"path": "config/monitor.pw"}).status_code == 404
    with pytest.raises(ConfigError, match="both set"):
        create_app(_ws(headers_night.root, DFOS_MONITOR_PASSWORD_FILE="config/monitor.pw",
                       DFOS_MONITOR_PASSWORD="x"))
    with pytest.raises(ConfigError, match=r"monitor\.none"):
        create_app(_ws(headers_night.root, DFOS_MONITOR_PASSWORD_FILE="config/monitor.none"))


def test_logins_are_rate_limited(guarded: Workspace) -> None:
    now = [1000.0]
    with TestClient(create_app(guarded, clock=lambda: now[0]), base_url=BASE) as client:
        codes = [client.post("/login", data={"password": f"guess {n}"}).status_code for n in range(300)]
        assert set(codes) == {401, 429}
        assert codes.count(401) <= 6  # the rest were refused without looking at the password
        limited = client.post("/login", data={"password": PASSWORD})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        now[0] += 3600  # the lock-out has expired
        log_in(client, PASSWORD)


def test_failures_of_all_clients_together_are_limited() -> None:
    now = [0.0]
    limiter = LoginLimiter(lambda: now[0], free=5, per_minute=30)
    for n in range(30):
        assert limiter.wait(f"10.0.0.{n}") == 0
        limiter.failed(f"10.0.0.{n}")
    assert limiter.wait("10.0.1.1") > 0  # a new address waits too
    now[0] += 61
    assert limiter.wait("10.0.1.1") == 0
    for _ in range(8):
        limiter.failed("10.0.2.2")
    assert limiter.wait("10.0.2.2") >= 8  # 1, 2, 4, 8 s: twice as long each time


def test_edits_and_launches_are_audited_with_the_user(client: TestClient, guarded: Workspace) -> None:
    assert client.post("/login", data={"password": "wrong"}).status_code == 401
    csrf = log_in(client, PASSWORD)
    client.post("/todo/JOBS_INGEST", data={"text": "#!/bin/sh\necho hi\n", "csrf": csrf})
    client.post("/action/launch_todo", data={"todo": "JOBS_INGEST", "csrf": csrf, "confirm": "1"})
    client.post("/postit", data={"text": "note", "csrf": csrf})
    log = (guarded.mon_dir / "monitor_audit.log").read_text().splitlines()
    actions = [(line.split()[1], line.split()[3], line.split()[4]) for line in log]
    assert actions == [("user=-", "action=login_failed", "target=-"), ("user=operator", "action=login", "target=-"),
                       ("user=operator", "action=edit_todo", "target=JOBS_INGEST"),
                       ("user=operator", "action=launch_todo", "target=JOBS_INGEST"),
                       ("user=operator", "action=edit_postit", "target=DFO_POSTIT")]
    assert all(line[:4].isdigit() and " client=testclient " in line for line in log)


# --- problem 4: bounded form values ---------------------------------------------------------------------

def test_certify_refuses_a_bad_count(client: TestClient) -> None:
    csrf = log_in(client, PASSWORD)
    for count in ("abc", "99999999999", "-1", "1e9", "1" * 5000):
        response = client.post("/certify/2013-02-12", data={"count": count, "csrf": csrf})
        assert response.status_code == 400, count
        assert "count" in response.text and "Traceback" not in response.text
    assert client.post("/postit", data={"text": "x" * 20_001, "csrf": csrf}).status_code == 400
    assert client.post("/action/create_ab", data={"date": "2013-02-12" * 1000, "csrf": csrf}).status_code == 400
    assert client.get("/api/dates").status_code == 200  # still answering


def test_a_body_over_the_limit_is_refused(client: TestClient) -> None:
    csrf = log_in(client, PASSWORD)
    response = client.post("/todo/JOBS_NIGHT", data={"text": "x" * (3 * 1024 * 1024), "csrf": csrf})
    assert response.status_code == 413


# --- problem 7: odd names and corrupt files ---------------------------------------------------------------

def test_odd_ab_names_and_corrupt_ab_files_get_a_plain_answer(guarded: Workspace) -> None:
    (guarded.ab_dir / "UVES.2013-02-12T00:00:00.000_bad.ab").write_bytes(b"\xff\xfe garbage\nno AB here\n")
    with TestClient(create_app(guarded), base_url=BASE, raise_server_exceptions=False) as client:
        log_in(client, PASSWORD)
        for name, status in (("a" * 300 + ".ab", 400), ("x%0Ay.ab", 400), (".hidden.ab", 400), ("-x.ab", 400),
                             ("UVES.2013-02-12T00:00:00.000_bad.ab", 400), ("missing.ab", 404), ("dfos.toml", 404)):
            response = client.get(f"/ab/{name}")
            assert response.status_code == status, name
            assert response.headers["content-type"].startswith("text/plain") and "\n" not in response.text.strip()
        assert client.get("/abs/" + "9" * 300).status_code == 404
        assert client.get("/jobs/" + "9" * 300).status_code == 404
        assert client.get("/file", params={"path": "a" * 5000}).status_code == 404


# --- problem 9: headers everywhere ------------------------------------------------------------------------

def test_every_response_carries_the_security_headers(client: TestClient, guarded: Workspace,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [client.get("/login"), client.get("/api/dates"), client.get("/nowhere"),
               client.get("/static/monitor.css"), client.get("/", follow_redirects=False),
               client.get("/file", params={"path": ".monitor_secret"})]
    log_in(client, PASSWORD)
    answers += [client.get("/"), client.get("/api/dates"), client.get("/ab/nothing.ab")]
    from dfos.monitor import facts

    monkeypatch.setattr(facts, "date_rows", lambda ws: 1 / 0)
    with TestClient(client.app, base_url=BASE, raise_server_exceptions=False, cookies=client.cookies) as broken:
        failed = broken.get("/api/dates")
        assert failed.status_code == 500 and "ZeroDivision" not in failed.text
        answers.append(failed)
    for response in answers:
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["x-frame-options"] == "DENY", response.url
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], response.url
        assert response.headers["referrer-policy"] == "same-origin", response.url
        if "/static/" not in str(response.url):
            assert response.headers["cache-control"] == "no-store", response.url


def test_config_show_and_the_installation_panel_mask_secrets(headers_night: Workspace) -> None:
    from dfos.config.load import load_config

    rows = {k: v for k, v, _ in load_config(headers_night.root / "dfos.toml", env={
        "DFOS_MONITOR_PASSWORD": "hunter2hunter2", "DFOS_DB_URL": "postgresql://dfos:pw-in-url@db.example/dfos"}).rows()}
    assert rows["MONITOR_PASSWORD"] == "(set, hidden)"
    assert rows["DB_URL"] == "postgresql://dfos:***@db.example/dfos"
    assert "hunter2hunter2" not in str(rows) and "pw-in-url" not in str(rows)


def test_a_token_login_still_works_and_wrong_tokens_count(headers_night: Workspace) -> None:
    now = [0.0]
    with TestClient(create_app(headers_night, token="tok-123456", clock=lambda: now[0]), base_url=BASE) as client:
        assert client.get("/login?token=wrong").status_code == 401
        response = client.get("/login?token=tok-123456")
        assert response.status_code == 200 and 'id="logout"' in response.text
        assert csrf_of(response.text)


def test_the_database_password_shows_nowhere(headers_night: Workspace, postgres_base: str, tmp_path: Path) -> None:
    from dfos.monitor.export import export_site
    from postgres import database

    with database(postgres_base) as url:
        secret = "pg-Secret-4711"
        with_password = url.replace("postgresql://postgres@", f"postgresql://postgres:{secret}@")
        assert secret in with_password
        ws = _ws(headers_night.root, DFOS_DB_URL=with_password, DFOS_MONITOR_PASSWORD=PASSWORD)
        (ws.mon_dir / "monitor_jobs").mkdir(exist_ok=True)
        (ws.mon_dir / "monitor_jobs" / "x.log").write_text(f"connecting to {with_password}\n")
        with TestClient(create_app(ws), base_url=BASE) as client:
            log_in(client, PASSWORD)
            panel = client.get("/")
            assert 'id="database">database: postgresql://postgres:***@' in panel.text and secret not in panel.text
            shown = client.get("/file", params={"path": "monitor/monitor_jobs/x.log"})
            assert shown.status_code == 200 and "postgres:***@" in shown.text and secret not in shown.text
        export_site(ws, tmp_path / "site", wait=30)
        for path in (tmp_path / "site").rglob("*"):
            assert not path.is_file() or secret.encode() not in path.read_bytes(), path


def test_the_file_view_shows_ab_lists_of_every_key(tmp_path: Path) -> None:
    """AB lists are named by batch id: a date or a run holds '-' and '.', which the allow-list once refused."""
    init_workspace(tmp_path / "ws", {}, "UVES")
    ws = open_workspace(tmp_path / "ws", {})
    for key in ("2013-02-12", "094.D-0192(A)", "NGC253_followup"):
        path = ws.ab_list("CALIB", key)
        path.write_text("")
        assert shown_file(ws, str(path.relative_to(ws.root))) == path.resolve()
    (ws.mon_dir / "AB_list_x;rm").write_text("")
    with pytest.raises(OutsideWorkspace):
        shown_file(ws, str((ws.mon_dir / "AB_list_x;rm").relative_to(ws.root)))
    assert BatchId.parse(ws.ab_list("SCIENCE", "2013-02-12").name.removeprefix("AB_list_")).key.text == "2013-02-12"


def test_the_file_view_shows_the_products_of_rejected_abs(tmp_path: Path) -> None:
    """The AB page of a rejected AB links its product where move put it ($DFO_LOG_DIR/DATE/rejected): shown (its
    size); FITS elsewhere in the logs are not."""
    init_workspace(tmp_path / "ws", {}, "UVES")
    ws = open_workspace(tmp_path / "ws", {})
    for folder in ("rejected", "leftover", "other"):
        (ws.log_dir / "2013-02-12" / folder).mkdir(parents=True)
        (ws.log_dir / "2013-02-12" / folder / "r.UVES.2013-02-12T10:00:00.000_tpl_0000.fits").write_bytes(b"x")
    for folder in ("rejected", "leftover"):
        path = ws.log_dir / "2013-02-12" / folder / "r.UVES.2013-02-12T10:00:00.000_tpl_0000.fits"
        assert shown_file(ws, str(path.relative_to(ws.root))) == path.resolve()
    with pytest.raises(OutsideWorkspace):
        shown_file(ws, "logs/2013-02-12/other/r.UVES.2013-02-12T10:00:00.000_tpl_0000.fits")
