"""One mode of a date processed as its job block would: createAB, createJob, the raw frames the ABs need,
the AB cascade, the QC cascade and ``<mode>_QC`` (what autoDaily and phoenix do for each mode of a date).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from dfos import clock
from dfos.ab.model import Completeness
from dfos.errors import DfosError
from dfos.keys import BatchId, Mode, Stage, mode_flag
from dfos.workspace import Workspace

__all__ = ["run_mode"]


def run_mode(workspace: Workspace, day: date, mode: Mode, note: Callable[[str], None]) -> bool:
    """createAB, createJob -F, downloads, the cascade, QC and ``<mode>_QC`` for one mode of a date; False when
    there was nothing to process (said in the log).  SCIENCE runs after CALIB, so its ABs find the night's
    calibrations made (a SCIENCE cascade would otherwise wait for them)."""
    from dfos.steps.cascade import exec_cascade
    from dfos.steps.create_ab import create_abs
    from dfos.steps.create_job import create_job
    from dfos.steps.fetch import fetch_many

    key = day.isoformat()
    try:
        created = create_abs(workspace, day, mode)
    except DfosError as exc:
        note(f"{key}: {mode} createAB: {exc.message}")
        return False
    note(f"{key}: {mode} createAB: {len(created.abs)} ABs ({len(created.written)} new or changed)")
    if not any(ab.completeness is Completeness.COMPLETE for ab in created.abs) and mode is Mode.SCIENCE:
        note(f"{key}: {mode}: nothing to process")
        return False
    try:
        files = create_job(workspace, day, mode, auto=True)
    except DfosError as exc:
        note(f"{key}: {mode} createJob: {exc.message}")
        return False
    needed = sorted({Path(workspace.expand(r.ref)).name for ab in created.abs
                     if ab.name in files.abs for r in ab.rawfiles})
    fetch_many(workspace, day, needed)
    dag = BatchId.of(mode, day).render()
    cascade = exec_cascade(workspace, dag, workspace.job_dir / f"execAB_{dag}")
    note(f"{key}: {mode} cascade: " + ", ".join(f"{v} {k}" for k, v in cascade.counts.items() if v))
    exec_cascade(workspace, BatchId.of(mode, day, qc=True).render(), workspace.job_dir / f"execQC_{dag}")
    workspace.status_log.append(mode_flag(mode, Stage.QC), key, clock.now(workspace.settings))
    return True
