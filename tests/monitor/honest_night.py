"""The night of the honest-state tests (issue 20): the small UVES night processed with real esorex, with one AB
that failed for real."""

from __future__ import annotations

import os
from pathlib import Path

from dfos.steps.cascade import exec_cascade
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.headers import extract_headers
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, init_workspace, open_workspace
from nights import DAG, NIGHT

NOW = "2013-02-13T14:00:00"
#: One of the two INCOMPLETE ABs (no line tables for the wavelength calibration).
INCOMPLETE = "UVES.2013-02-12T22:02:00.500_frm.ab"


def failed_night(root: Path, archive: Path) -> Workspace:
    """The small UVES night processed for real, its dark frame corrupted in ``$DFO_RAW_DIR``: the dark AB
    fails (recipe_error), the flat that needs its master is blocked, two ABs are INCOMPLETE."""
    ws, _ = init_workspace(root, env={}, instrument="UVES")
    for source in archive.rglob("*.fits"):
        target = ws.archive_dir / source.relative_to(archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
    ws = open_workspace(root, env={"DFOS_NOW": NOW})
    extract_headers(ws, NIGHT)
    append_flag(ws, "raw_Complete", NIGHT)
    create_abs(ws, NIGHT, "CALIB")
    create_job(ws, NIGHT, "CALIB")
    dark_frame = ws.raw_dir / NIGHT.isoformat() / "UVES.2013-02-12T19:41:08.500.fits"
    dark_frame.parent.mkdir(parents=True, exist_ok=True)
    dark_frame.write_bytes(b"SIMPLE  =                    T" + b" " * 50 + b"corrupted" * 300)
    result = exec_cascade(ws, DAG, ws.job_dir / f"execAB_{DAG}", slots=2)
    assert not result.ok and result.counts["failed"] == 1
    return ws
