"""Database faults are one line with a documented exit code, never the driver's traceback: an unknown
DB_URL scheme (4), an unreachable PostgreSQL server (6), a garbage (5) or directory (3) dfos.sqlite,
a read-only database (3), a full disk (3); a URL's password is never shown."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert

from chains import write_chain
from dfos.cli.main import main
from dfos.db import ab_runs, database_fault, dispose_engines, engine_for_url
from dfos.db.faults import shown_url
from dfos.errors import ConfigError, ExternalToolError, FormatError, WorkspaceError
from dfos.workspace import Workspace


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    dispose_engines()
    yield
    dispose_engines()


def _cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *argv: str, url: str | None = None) -> tuple[int, str]:
    extra = ["--set", f"DB_URL={url}"] if url is not None else []
    code = main(["--root", str(ws.root), *extra, *argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return code, lines[0]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unknown_db_url_scheme_is_a_configuration_error(capsys: pytest.CaptureFixture[str],
                                                           workspace: Workspace) -> None:
    code, line = _cli(capsys, workspace, "cascade-stat", "--dag-id", "X", url="foo://user:secret@host/db")
    assert code == ConfigError.exit_code == 4 and "DB_URL" in line and "secret" not in line


def test_an_unreachable_postgresql_server_is_an_external_tool_error(capsys: pytest.CaptureFixture[str],
                                                                   workspace: Workspace) -> None:
    url = f"postgresql://dfos:hunter2@127.0.0.1:{_closed_port()}/dfos"
    code, line = _cli(capsys, workspace, "cascade-stat", "--dag-id", "X", url=url)
    assert code == ExternalToolError.exit_code == 6
    assert "127.0.0.1" in line and "hunter2" not in line and "***" in line


def test_a_garbage_database_file_is_a_format_error(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    (workspace.root / "dfos.sqlite").write_bytes(b"this is no database\n" * 400)
    code, line = _cli(capsys, workspace, "cascade-stat", "--dag-id", "X")
    assert code == FormatError.exit_code == 5 and "dfos.sqlite" in line and "not a SQLite database" in line


def test_a_directory_in_place_of_the_database_is_a_workspace_error(capsys: pytest.CaptureFixture[str],
                                                                   workspace: Workspace) -> None:
    (workspace.root / "dfos.sqlite").mkdir()
    code, line = _cli(capsys, workspace, "cascade-stat", "--dag-id", "X")
    assert code == WorkspaceError.exit_code == 3 and "dfos.sqlite" in line


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """The file cannot be opened for writing, for this process too (root: the immutable attribute)."""
    os.chmod(path, 0o444)
    immutable = os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    try:
        try:
            open(path, "r+b").close()
        except OSError:
            yield
        else:
            pytest.skip("cannot make a file read-only for this user on this file system")
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        os.chmod(path, 0o644)


def test_a_read_only_database_is_a_workspace_error(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    jobs = write_chain(workspace, 2, 0.0, recipe="noop")
    engine_for_url(workspace.db_url)  # the database exists, with its schema
    dispose_engines()
    with _read_only(workspace.root / "dfos.sqlite"):
        code, line = _cli(capsys, workspace, "exec-cascade", "--dag-id", "CALIB_2013-02-12", "--jobs", str(jobs))
    assert code == WorkspaceError.exit_code and "read-only" in line and "dfos.sqlite" in line


def _sqlite_full(engine: Any) -> None:
    """SQLite's own "database or disk is full" (SQLITE_FULL): no page may be added to the file."""

    @event.listens_for(engine, "connect")
    def _no_more_pages(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count={pages}")
        cursor.close()


def test_a_full_database_is_a_workspace_error(workspace: Workspace) -> None:
    engine = engine_for_url(workspace.db_url)
    engine.dispose()
    _sqlite_full(engine)
    with pytest.raises(WorkspaceError, match="is full"), engine.begin() as db:
        db.execute(insert(ab_runs), [{"ab": f"A{i}.ab" + "x" * 200, "batch_id": "b", "recipe": "r",
                                      "started": "s", "ended": "e", "status": "FAILED"} for i in range(2000)])


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KB file system (root only: a tmpfs mounted for the test)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tiny tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_under_the_database_is_one_line(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                                    tiny_disk: Path) -> None:
    url = f"sqlite:///{tiny_disk / 'dfos.sqlite'}"
    jobs = write_chain(workspace, 40, 0.0, recipe="noop")
    engine_for_url(url)
    dispose_engines()
    with contextlib.suppress(OSError), open(tiny_disk / "filler", "wb") as filler:
        while True:
            filler.write(b"\0" * 4096)
            filler.flush()
    code, line = _cli(capsys, workspace, "exec-cascade", "--dag-id", "CALIB_2013-02-12", "--jobs", str(jobs),
                      url=url)
    assert code == WorkspaceError.exit_code and "dfos.sqlite" in line


def test_bugs_are_not_translated(workspace: Workspace) -> None:
    from sqlalchemy.exc import IntegrityError

    engine = engine_for_url(workspace.db_url)
    with pytest.raises(IntegrityError), engine.begin() as db:  # a broken constraint is a bug, not a fault
        db.execute(insert(ab_runs).values(ab=None, batch_id="b", recipe="r", started="s", ended="e", status="S"))
    assert database_fault(ValueError("x"), workspace.db_url) is None


def test_a_urls_password_is_never_shown() -> None:
    assert shown_url("postgresql://dfos:s3cret@db.example:5432/ops") == "postgresql://dfos:***@db.example:5432/ops"
    assert shown_url("sqlite:////tmp/ws/dfos.sqlite") == "sqlite:////tmp/ws/dfos.sqlite"
