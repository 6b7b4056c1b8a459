"""No hidden sharing (issue 19, item 3): a database, a directory or a job file of another workspace is found;
commands that change state refuse a shared database or directory with one line naming the other root; job
files naming another root are a warning that 'dfos sharing relocate' fixes (dfos.steps.sharing)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dfos.cli.main import main
from dfos.db import dispose_engines
from dfos.jobs.relocate import canonical_line, command_line, foreign_roots, relocate_text
from dfos.steps.sharing import REFUSE, WARN, database_owner, sharing_findings
from dfos.workspace import Workspace, init_workspace, open_workspace


def _pair(tmp_path: Path, db_url: str) -> tuple[Workspace, Workspace, dict[str, str]]:
    """Two workspaces configured with one database (PostgreSQL, or one SQLite file outside both roots)."""
    a, _ = init_workspace(tmp_path / "a", env={}, instrument="UVES")
    b, _ = init_workspace(tmp_path / "b", env={}, instrument="UVES")
    url = db_url or f"sqlite:///{tmp_path / 'shared.sqlite'}"
    for ws in (a, b):
        with (ws.root / "dfos.toml").open("a") as toml:
            toml.write(f'DB_URL = "{url}"\n')
    return open_workspace(a.root, env={}), open_workspace(b.root, env={}), {"DFOS_NOW": "2013-02-13T14:00:00"}


def _flag(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--root", str(ws.root), "flag", "fits_Requested", "-d", "2013-02-12"])
    return code, capsys.readouterr().err


def test_two_workspaces_on_one_database_the_second_is_refused(tmp_path: Path, db_url: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    a, b, _ = _pair(tmp_path, db_url)
    assert _flag(a, capsys)[0] == 0  # the first command that changes state claims the database
    owner = database_owner(a)
    assert owner is not None and owner.root == str(a.root)
    code, err = _flag(b, capsys)
    assert code == 4
    assert len(err.strip().splitlines()) == 1 and str(a.root) in err and "DB_URL" in err and "Traceback" not in err
    assert not b.status_log.path.exists() or "fits_Requested" not in b.status_log.path.read_text()
    (finding,) = [f for f in sharing_findings(b) if f.kind == "database"]
    assert finding.severity == REFUSE and "sharing claim" in finding.fix
    assert main(["--root", str(b.root), "sharing", "check"]) == 4
    # reading is allowed: the date table shows the refusal instead of refusing
    assert main(["--root", str(b.root), "status"]) == 0 and "REFUSED" in capsys.readouterr().err

    # A moved away (its dfos.toml gone from that root): B takes the database over at its next command
    (a.root / "dfos.toml").rename(a.root / "dfos.toml.moved")
    assert _flag(b, capsys)[0] == 0
    owner = database_owner(b)
    assert owner is not None and owner.root == str(b.root)
    # 'sharing claim' takes it over by hand; then A (back) is the refused one
    (a.root / "dfos.toml.moved").rename(a.root / "dfos.toml")
    assert _flag(a, capsys)[0] == 4
    assert main(["--root", str(a.root), "sharing", "claim"]) == 0
    assert _flag(a, capsys)[0] == 0 and _flag(b, capsys)[0] == 4


def test_a_copied_sqlite_database_is_claimed_by_the_copy(workspace: Workspace, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert _flag(workspace, capsys)[0] == 0
    other, _ = init_workspace(tmp_path / "other", env={}, instrument="UVES")  # names the workspace's own file
    with (other.root / "dfos.toml").open("a") as toml:
        toml.write(f'DB_URL = "sqlite:///{workspace.root / "dfos.sqlite"}"\n')
    code, err = _flag(open_workspace(other.root, env={}), capsys)
    assert code == 4 and str(workspace.root) in err
    dispose_engines()
    copy_root = tmp_path / "copy"
    shutil.copytree(workspace.root, copy_root)
    copy = open_workspace(copy_root, env={})
    assert _flag(copy, capsys)[0] == 0  # its own dfos.sqlite, inside its root: simply re-claimed
    owner, original = database_owner(copy), database_owner(workspace)
    assert owner is not None and original is not None
    assert owner.root == str(copy.root) and original.root == str(workspace.root)
    assert owner.workspace_id != original.workspace_id
    assert sharing_findings(copy) == [] and sharing_findings(workspace) == []


@pytest.mark.parametrize("key", ["DFO_MON_DIR", "DFO_JOB_DIR"])
def test_a_directory_inside_another_workspace_is_refused(workspace: Workspace, tmp_path: Path, key: str,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    other, _ = init_workspace(tmp_path / "other", env={}, instrument="UVES")
    monkeypatch.setenv(f"DFOS_{key}", str(other.root / "monitor"))
    code, err = _flag(workspace, capsys)
    assert code == 4 and key in err and str(other.root) in err
    assert "fits_Requested" not in (other.mon_dir / "DFO_STATUS").read_text() \
        if (other.mon_dir / "DFO_STATUS").exists() else True
    monkeypatch.setenv(f"DFOS_{key}", str(tmp_path / "elsewhere"))  # outside every workspace: fine
    assert _flag(workspace, capsys)[0] == 0


def test_a_config_dir_inside_another_workspace_is_a_warning(workspace: Workspace, tmp_path: Path) -> None:
    other, _ = init_workspace(tmp_path / "other", env={}, instrument="UVES")
    ws = open_workspace(workspace.root, env={"DFOS_DFO_CONFIG_DIR": str(other.root / "config")})
    (finding,) = sharing_findings(ws)
    assert finding.kind == "directory" and finding.severity == WARN and "DFO_CONFIG_DIR" in finding.message


OLD_INGEST = """#!/usr/bin/env bash
# dfos job file: run it to process what it lists ('dfos create-job' appends blocks).
set -euo pipefail
eval "$(/opt/dfos/bin/dfos --root /data/old/ws env)"
DFOS="$DFO_BIN_DIR/dfos"
/opt/dfos/bin/dfos --root /data/old/ws ingest -m CALIB -d 2013-02-12
"$DFOS" exec-cascade --dag-id CALIB_2013-02-12 --jobs /data/old/ws/jobs/execAB_CALIB_2013-02-12 --wait || echo "x"
"""


def test_the_relocated_form_of_an_old_job_file() -> None:
    assert foreign_roots(OLD_INGEST, "/data/new/ws") == ["/data/old/ws"]
    assert foreign_roots(OLD_INGEST, "/data/old/ws") == []
    new = relocate_text(OLD_INGEST, ["/data/old/ws"], "/opt/dfos/bin/dfos", "..", "/data/new/ws", "jobs")
    assert "/data/old" not in new and foreign_roots(new, "/data/new/ws") == []
    assert command_line("ingest", "-m", "CALIB", "-d", "2013-02-12") in new.splitlines()
    assert '--jobs "$DFO_JOB_DIR"/execAB_CALIB_2013-02-12 --wait' in new
    assert 'DFOS_ROOT="$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")"/.. && pwd)"' in new
    assert canonical_line("/opt/dfos/bin/dfos --root /data/old/ws cleanup -d 2013-02-12") == \
        '"$DFOS" --root "$DFOS_ROOT" cleanup -d 2013-02-12'
    assert relocate_text(new, [], "/opt/dfos/bin/dfos", "..", "/data/new/ws", "jobs") == new  # idempotent
    download = ("#!/usr/bin/env bash\n# raw frames\nset -euo pipefail\n"
                "/opt/dfos/bin/dfos --root '/data/old ws' fetch-raw -d 2013-02-12 --parallel 8 \\\n    UVES.a.fits\n")
    moved = relocate_text(download, ["/data/old ws"], "/opt/dfos/bin/dfos", "..", "/data/new", "jobs")
    assert "old ws" not in moved and "DFOS_ROOT=\"$(cd" in moved and "    UVES.a.fits" in moved
    assert "--root \"$DFOS_ROOT\" fetch-raw -d 2013-02-12 --parallel 8 \\\n" in moved


def test_job_files_naming_another_root_warn_and_relocate_fixes_them(workspace: Workspace, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    other, _ = init_workspace(tmp_path / "other", env={}, instrument="UVES")
    job = workspace.job_dir / "JOBS_INGEST"
    job.write_text(OLD_INGEST.replace("/data/old/ws", str(other.root)).replace("/opt/dfos/bin/dfos",
                                                                                 str(workspace.bin_dir / "dfos")))
    job.chmod(0o755)
    sub = workspace.job_dir / "dfos_ab.sub"
    sub.write_text(f"executable = /x/dfos\narguments = \"--root '{other.root}' process-ab -a $(ab)\"\n")
    assert [f.kind for f in sharing_findings(workspace)] == ["jobs", "jobs"]
    sub.unlink()
    (finding,) = sharing_findings(workspace)
    assert finding.kind == "jobs" and finding.severity == WARN and str(other.root) in finding.message
    assert "sharing relocate" in finding.fix
    code, err = _flag(workspace, capsys)  # a warning does not stop a command
    assert code == 0 and "Warning:" in err and "JOBS_INGEST" in err
    assert main(["--root", str(workspace.root), "sharing", "check"]) == 1

    sub.write_text(f"executable = /x/dfos\narguments = \"--root '{other.root}' process-ab -a $(ab)\"\n")
    assert main(["--root", str(workspace.root), "sharing", "relocate"]) == 0
    assert "2 job file(s) rewritten" in capsys.readouterr().out
    assert sub.read_text() == f"executable = /x/dfos\narguments = \"--root '{workspace.root}' process-ab -a $(ab)\"\n"
    text = job.read_text()
    assert str(other.root) not in text and os.access(job, os.X_OK)
    assert sharing_findings(workspace) == [] and main(["--root", str(workspace.root), "sharing", "relocate"]) == 0
    # the relocated file's ingest line now runs on this workspace (nothing moved: it refuses, naming this root)
    env = {**os.environ, "DFOS_ROOT": str(other.root)}
    text = text.replace(command_line("ingest", "-m", "CALIB", "-d", "2013-02-12"),
                        '"$DFOS" --root "$DFOS_ROOT" env | grep "^export DFOS_ROOT="')
    text = "\n".join(line for line in text.splitlines() if "exec-cascade" not in line) + "\n"
    job.write_text(text)
    done = subprocess.run(["bash", str(job)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"export DFOS_ROOT={workspace.root}"
