"""Named monitor accounts (MONITOR_USERS): the accounts file, ``dfos monitor user``, and logging in by name
over HTTP; the shared password and the token keep working and log in as ``operator``."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from monitor_helpers import csrf_of
from starlette.testclient import TestClient

from dfos.errors import ConfigError, NotFound, UsageError
from dfos.monitor.app import create_app
from dfos.monitor.security.accounts import (
    Account,
    accounts_path,
    add_account,
    parse_accounts,
    read_accounts,
    remove_account,
)
from dfos.monitor.security.audit import AUDIT_LOG
from dfos.monitor.security.sessions import SESSIONS_FILE
from dfos.workspace import Workspace, open_workspace

TOKEN = "accounts-token"


def _dfos(root: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dfos.cli.main", "--root", str(root), *args], input=stdin,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})


def test_an_account_is_a_salted_hash_in_a_file_only_its_owner_reads(workspace: Workspace) -> None:
    path = accounts_path(workspace)
    assert path == workspace.root / ".monitor_users"
    assert add_account(path, "alice", "wonderland") and add_account(path, "bob", "builder")
    assert not add_account(path, "alice", "looking-glass")  # a new password, not a second alice
    text = path.read_text()
    assert "wonderland" not in text and "looking-glass" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    accounts = read_accounts(path)
    assert sorted(accounts) == ["alice", "bob"]
    assert accounts["alice"].matches("looking-glass") and not accounts["alice"].matches("wonderland")
    assert parse_accounts(text) == accounts  # the documented format reads back
    remove_account(path, "bob")
    assert sorted(read_accounts(path)) == ["alice"]
    with pytest.raises(NotFound, match="no monitor account 'bob'"):
        remove_account(path, "bob")
    path.chmod(0o640)
    with pytest.raises(ConfigError, match="readable by others"):
        read_accounts(path)


@pytest.mark.parametrize("name", ["operator", "auto", "token", "", "1abc", "a b", "x" * 65, "al/ice"])
def test_reserved_and_malformed_names_are_refused(name: str) -> None:
    with pytest.raises(UsageError):
        Account.of(name, "pw")


@pytest.mark.parametrize("line", ["alice", "alice scrypt$16384$8$1$zz$00", "alice md5$1$2$3$00$00",
                                  "alice scrypt$3$8$1$0011223344556677$" + "00" * 32])
def test_a_malformed_accounts_line_is_refused_naming_it(line: str) -> None:
    with pytest.raises(ConfigError, match="users:2"):
        parse_accounts(f"# accounts\n{line}\n", "users")


def test_the_user_command_adds_lists_and_removes_accounts(workspace: Workspace) -> None:
    added = _dfos(workspace.root, "monitor", "user", "add", "carol", stdin="secret-1\n")
    assert added.returncode == 0 and "added carol" in added.stdout, added.stderr
    assert _dfos(workspace.root, "monitor", "user", "list").stdout == "carol\n"
    assert read_accounts(accounts_path(workspace))["carol"].matches("secret-1")
    empty = _dfos(workspace.root, "monitor", "user", "add", "dave", stdin="")
    assert empty.returncode != 0 and "no password given" in empty.stderr and "Traceback" not in empty.stderr
    reserved = _dfos(workspace.root, "monitor", "user", "add", "operator", stdin="x\n")
    assert reserved.returncode != 0 and "reserved" in reserved.stderr
    removed = _dfos(workspace.root, "monitor", "user", "remove", "carol")
    assert removed.returncode == 0 and _dfos(workspace.root, "monitor", "user", "list").stdout == ""
    assert "action=user_add target=carol" in (workspace.mon_dir / AUDIT_LOG).read_text()


def _session_users(ws: Workspace) -> list[str]:
    import json

    return sorted(v["user"] for v in json.loads((ws.root / SESSIONS_FILE).read_text()).values())


def test_a_named_login_carries_the_name_and_the_shared_password_is_operator(workspace: Workspace) -> None:
    ws = open_workspace(workspace.root, env={"DFOS_MONITOR_PASSWORD": "shared-pw"})
    add_account(accounts_path(ws), "alice", "wonderland")
    with TestClient(create_app(ws), base_url="http://127.0.0.1") as client:
        wrong = client.post("/login", data={"user": "alice", "password": "shared-pw"})
        assert wrong.status_code == 401  # the shared password is no password of alice
        assert client.post("/login", data={"user": "mallory", "password": "wonderland"}).status_code == 401
        page = client.post("/login", data={"user": "alice", "password": "wonderland"})
        assert page.status_code == 200 and '<span class="who" id="who" title="logged in as">alice</span>' in page.text
        client.post("/logout", data={"csrf": csrf_of(page.text)})
        shared = client.post("/login", data={"user": "", "password": "shared-pw"})
        assert shared.status_code == 200 and 'id="who" title="logged in as">operator<' in shared.text
    assert _session_users(ws) == ["operator"]
    audit = (ws.mon_dir / AUDIT_LOG).read_text()
    assert "user=alice client=testclient action=login" in audit and "user=operator client=testclient action=login" \
        in audit and "user=token" not in audit


def test_the_token_logs_in_as_operator_and_named_accounts_work_beside_it(workspace: Workspace) -> None:
    add_account(accounts_path(workspace), "bob", "builder")
    with TestClient(create_app(workspace, token=TOKEN), base_url="http://127.0.0.1") as client:
        assert 'title="logged in as">operator<' in client.get(f"/login?token={TOKEN}").text
    with TestClient(create_app(workspace, token=TOKEN), base_url="http://127.0.0.1") as client:
        assert 'title="logged in as">bob<' in client.post("/login", data={"user": "bob", "password": "builder"}).text
    assert "user=token" not in (workspace.mon_dir / AUDIT_LOG).read_text()


def test_removing_an_account_ends_its_sessions(workspace: Workspace) -> None:
    add_account(accounts_path(workspace), "erin", "pw-erin")
    with TestClient(create_app(workspace, token=TOKEN), base_url="http://127.0.0.1") as client:
        client.post("/login", data={"user": "erin", "password": "pw-erin"})
        assert client.get("/api/dates").status_code == 200
        assert _dfos(workspace.root, "monitor", "user", "remove", "erin").returncode == 0
        assert client.get("/api/dates").status_code == 401


def test_the_file_view_never_shows_the_accounts_file(workspace: Workspace) -> None:
    ws = open_workspace(workspace.root, env={"DFOS_MONITOR_USERS": "jobs/users"})
    add_account(accounts_path(ws), "frank", "pw-frank")
    assert (ws.job_dir / "users").is_file()  # the job directory's files are shown, but not this one
    with TestClient(create_app(ws, token=TOKEN), base_url="http://127.0.0.1") as client:
        client.post("/login", data={"user": "frank", "password": "pw-frank"})
        assert client.get("/file?path=jobs/users").status_code == 404
        assert client.get("/file?path=.monitor_users").status_code == 404
