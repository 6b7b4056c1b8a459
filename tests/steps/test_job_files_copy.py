"""Issue 19, item 3: a copied workspace runs its own job files and touches only the copy.

The small UVES night is processed with real esorex and the whole workspace directory copied elsewhere: the
copy's JOBS_NIGHT runs its block again (a moved date's block would refuse to run, issue 20).  Then the night is
certified and moved (JOBS_INGEST has its line) and copied again: the copy's JOBS_INGEST runs.  Both run with bash
from an unrelated directory, with ``DFOS_ROOT`` set to the ORIGINAL (a trap an inherited environment sets).
Every file of the original tree keeps its bytes (sha256 before and after); the copies changed (their AB runs,
ingest list, archive catalog)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from dfos.db import archive_catalog, dispose_engines, engine_for_url
from dfos.steps.certify import certify, parse_decisions
from dfos.steps.move import move
from dfos.workspace import Workspace, open_workspace
from nights import FLAT, NIGHT, ORDERPOS, process_night

pytestmark = pytest.mark.esorex


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def _run(job: Path, cwd: Path, original: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DFOS_ROOT": str(original), "DFOS_NOW": "2013-02-13T16:00:00"}
    return subprocess.run(["bash", str(job)], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def _copy(ws: Workspace, target: Path) -> Workspace:
    dispose_engines()  # the SQLite WAL checkpointed: the copy is a complete database
    shutil.copytree(ws.root, target, symlinks=True)
    return open_workspace(target, env={})


def test_a_copied_workspace_runs_its_job_files_on_the_copy_only(uves_night: Workspace, tmp_path: Path) -> None:
    ws = process_night(uves_night)
    unrelated = tmp_path / "cwd"
    unrelated.mkdir()
    # JOBS_NIGHT of a copy taken while the night is processed (cal_QC): its block runs again, in the copy
    assert str(ws.root) not in (ws.job_dir / "JOBS_NIGHT").read_text()
    night_copy = _copy(ws, tmp_path / "elsewhere" / "night")
    before, copied_before = _tree(ws.root), _tree(night_copy.root)
    night = _run(night_copy.job_dir / "JOBS_NIGHT", unrelated, ws.root)
    assert "exec-cascade for 2013-02-12 done." in night.stdout, night.stderr
    dispose_engines()
    assert _tree(ws.root) == before  # not one byte of the original changed
    assert _tree(night_copy.root) != copied_before

    # JOBS_INGEST of a copy taken once the night is certified and moved
    certify(ws, "CALIB", NIGHT, accept_green=True, user="qc")
    certify(ws, "CALIB", NIGHT, parse_decisions(f"{ORDERPOS} accept\n{FLAT} accept\n"), user="qc")
    move(ws, "CALIB", NIGHT)
    ingest_line = '"$DFOS" --root "$DFOS_ROOT" ingest -m CALIB -d 2013-02-12'
    assert ingest_line in (ws.job_dir / "JOBS_INGEST").read_text().splitlines()
    for name in ("JOBS_INGEST", "JOBS_NIGHT", "rawDown_CALIB_2013-02-12"):
        assert str(ws.root) not in (ws.job_dir / name).read_text(), name
    copy = _copy(ws, tmp_path / "elsewhere" / "copy")
    before, copied_before = _tree(ws.root), _tree(copy.root)
    done = _run(copy.job_dir / "JOBS_INGEST", unrelated, ws.root)
    assert done.returncode == 0, done.stderr
    with engine_for_url(copy.db_url).begin() as db:
        assert len(list(db.execute(select(archive_catalog.c.name)))) == 7  # the copy's own archive catalog
    dispose_engines()

    assert _tree(ws.root) == before  # not one byte of the original changed
    changed = _tree(copy.root)
    assert changed != copied_before
    cleanup = str((copy.job_dir / "JOBS_CLEANUP").relative_to(copy.root))
    assert cleanup in changed and cleanup not in before  # the copy's ingest queued its cleanup in the copy
