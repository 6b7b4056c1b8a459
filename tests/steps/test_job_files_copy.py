"""Issue 19, item 3: a copied workspace runs its own job files and touches only the copy.

The small UVES night is processed with real esorex, certified and moved (JOBS_INGEST has its line); the whole
workspace directory is copied elsewhere; the copy's JOBS_INGEST and JOBS_NIGHT run with bash from an unrelated
directory, with ``DFOS_ROOT`` set to the ORIGINAL (a trap an inherited environment sets).  Every file of the
original tree keeps its bytes (sha256 before and after); the copy changed (its ingest list, archive catalog)."""

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


def test_a_copied_workspace_runs_its_job_files_on_the_copy_only(uves_night: Workspace, tmp_path: Path) -> None:
    ws = process_night(uves_night)
    certify(ws, "CALIB", NIGHT, accept_green=True, user="qc")
    certify(ws, "CALIB", NIGHT, parse_decisions(f"{ORDERPOS} accept\n{FLAT} accept\n"), user="qc")
    move(ws, "CALIB", NIGHT)
    ingest_line = '"$DFOS" --root "$DFOS_ROOT" ingest -m CALIB -d 2013-02-12'
    assert ingest_line in (ws.job_dir / "JOBS_INGEST").read_text().splitlines()
    for name in ("JOBS_INGEST", "JOBS_NIGHT", "rawDown_CALIB_2013-02-12"):
        assert str(ws.root) not in (ws.job_dir / name).read_text(), name
    dispose_engines()  # the SQLite WAL checkpointed: the copy is a complete database
    copy_root = tmp_path / "elsewhere" / "copy"
    shutil.copytree(ws.root, copy_root, symlinks=True)
    before = _tree(ws.root)
    copied_before = _tree(copy_root)
    unrelated = tmp_path / "cwd"
    unrelated.mkdir()

    copy = open_workspace(copy_root, env={})
    done = _run(copy.job_dir / "JOBS_INGEST", unrelated, ws.root)
    assert done.returncode == 0, done.stderr
    with engine_for_url(copy.db_url).begin() as db:
        assert len(list(db.execute(select(archive_catalog.c.name)))) == 7  # the copy's own archive catalog
    night = _run(copy.job_dir / "JOBS_NIGHT", unrelated, ws.root)
    assert "exec-cascade for 2013-02-12 done." in night.stdout, night.stderr
    dispose_engines()

    assert _tree(ws.root) == before  # not one byte of the original changed
    changed = _tree(copy_root)
    assert changed != copied_before
    cleanup = str((copy.job_dir / "JOBS_CLEANUP").relative_to(copy_root))
    assert cleanup in changed and cleanup not in before  # the copy's ingest queued its cleanup in the copy
