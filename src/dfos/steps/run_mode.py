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


def run_mode(workspace: Workspace, day: date, mode: Mode, note: Callable[[str], None],
             reassociate: bool = True) -> bool:
    """createAB, createJob -F, downloads, the cascade, QC and ``<mode>_QC`` for one mode of a date; False when
    there was nothing to process (said in the log).  SCIENCE runs after CALIB, so its ABs find the night's
    calibrations made (a SCIENCE cascade would otherwise wait for them).

    A cascade a killed run left queued is resumed first.  ``reassociate`` (autoDaily: frames of the night may
    have come since) then associates the date again and queues what is new; without it (phoenix: an archived
    night's frames are all there, and were associated before the cascade was queued) the resumed cascade is
    the mode's whole cascade, and its QC follows, as in a run that was not killed."""
    from dfos.steps.cascade import exec_cascade
    from dfos.steps.create_ab import create_abs
    from dfos.steps.create_job import create_job
    from dfos.steps.fetch import fetch_many

    key = day.isoformat()
    from dfos.status.todo import job_refusal
    from dfos.steps.todo import flags_of

    refusal = job_refusal(flags_of(workspace, key), mode, key)  # never roll a certified or moved date back
    if refusal is not None:
        note(f"{key}: {mode}: {refusal}")
        return False
    resumed = _resume_queued(workspace, day, mode, note)
    if resumed and not reassociate:
        _qc(workspace, day, mode)
        return True
    try:
        created = create_abs(workspace, day, mode, repeat_flag=reassociate)
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
        if resumed:  # the resumed cascade did every AB there is: its QC and the flag are what is left
            _qc(workspace, day, mode)
            return True
        note(f"{key}: {mode} createJob: {exc.message}")
        return False
    needed = sorted({Path(workspace.expand(r.ref)).name for ab in created.abs
                     if ab.name in files.abs for r in ab.rawfiles})
    fetch_many(workspace, day, needed)
    dag = BatchId.of(mode, day).render()
    cascade = exec_cascade(workspace, dag, workspace.job_dir / f"execAB_{dag}")
    note(f"{key}: {mode} cascade: " + ", ".join(f"{v} {k}" for k, v in cascade.counts.items() if v))
    _qc(workspace, day, mode)
    return True


def _qc(workspace: Workspace, day: date, mode: Mode) -> None:
    """The mode's QC cascade (``execQC_<MODE>_<DATE>``), then ``<mode>_QC``."""
    from dfos.steps.cascade import exec_cascade

    dag = BatchId.of(mode, day).render()
    exec_cascade(workspace, BatchId.of(mode, day, qc=True).render(), workspace.job_dir / f"execQC_{dag}")
    workspace.status_log.append(mode_flag(mode, Stage.QC), day.isoformat(), clock.now(workspace.settings))


def _resume_queued(workspace: Workspace, day: date, mode: Mode, note: Callable[[str], None]) -> bool:
    """A cascade queued and not yet QC'd (its runner was killed: the mode's newest flag is ``<mode>_Queued``) is
    resumed first, so that its succeeded ABs are tagged DONE and never run again: queuing anew would make
    every AB the killed run finished wait again."""
    from dfos.keys import parse_mode_flag
    from dfos.status.machine import flags_by_key
    from dfos.steps.cascade import exec_cascade

    flags = [f for f in flags_by_key(workspace.status_log.read()).get(day.isoformat(), [])
             if (parse_mode_flag(f) or (None, None))[0] is mode]
    dag = BatchId.of(mode, day).render()
    jobs = workspace.job_dir / f"execAB_{dag}"
    if flags and flags[-1] == mode_flag(mode, Stage.QUEUED) and jobs.is_file():
        counts = exec_cascade(workspace, dag, jobs).counts
        note(f"{day.isoformat()}: {mode}: resumed the queued cascade: "
             + ", ".join(f"{v} {k}" for k, v in counts.items() if v))
        return True
    return False
