"""The small synthetic UVES night of the tests: its date, cascade and ABs, and the night processed with real
esorex, for the tests of the steps after processing."""

from __future__ import annotations

from datetime import date

from dfos.steps.cascade import exec_cascade
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.headers import extract_headers
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, open_workspace

NIGHT = date(2013, 2, 12)
DAG = "CALIB_2013-02-12"
# the night's runnable calibration ABs (the small synthetic UVES night of the tests)
BIAS = "UVES.2013-02-12T18:05:00.500_tpl.ab"
RED_BIAS = "UVES.2013-02-12T18:20:00.500_tpl.ab"
DARK = "UVES.2013-02-12T18:40:00.500_tpl.ab"
ORDERPOS = "UVES.2013-02-12T21:50:00.500_frm.ab"
FLAT = "UVES.2013-02-12T21:52:00.500_tpl.ab"


def process_night(uves_night: Workspace, env: dict[str, str] | None = None) -> Workspace:
    """Headers, ABs, job files, the cascade (QC inside each AB), and ``cal_QC``, as the job file does."""
    return run_night(open_workspace(uves_night.root, env={"DFOS_NOW": "2013-02-13T14:00:00", **(env or {})}))


def run_night(ws: Workspace) -> Workspace:
    """:func:`process_night` in a workspace opened already (another executor, other settings)."""
    extract_headers(ws, NIGHT)
    create_abs(ws, NIGHT, "CALIB")
    create_job(ws, NIGHT, "CALIB")
    assert exec_cascade(ws, DAG, ws.job_dir / f"execAB_{DAG}", slots=2).ok
    append_flag(ws, "cal_QC", NIGHT)
    return ws
