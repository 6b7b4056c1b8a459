"""Actions started from the monitor run as background jobs: a sequence of argument lists (never a
shell string), each a ``dfos`` command or a job file of the workspace, with one log the page follows.

The request only chooses an action by name, a date (checked as a DFO date) and, for the actions of a
mode, the mode (CALIB or SCIENCE); the commands are built here.  Logs are kept in
``$DFO_MON_DIR/monitor_jobs/<id>.log``.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dfos import clock
from dfos.keys import BatchId, Mode
from dfos.monitor.honest import job_problems
from dfos.workspace import Workspace

__all__ = ["ACTIONS", "DATE_ACTIONS", "MODE_ACTIONS", "Job", "JobRunner", "action_label", "action_steps",
           "rerun_names"]

#: Action name -> what the button says.
ACTIONS = {
    "create_ab": "createAB",
    "process": "createJob + cascade + QC",
    "move": "moveProducts",
    "finish": "finishNight",
    "remove": "remove from the monitor",
    "launch_todo": "launch the ToDo job file",
    "auto_daily": "autoDaily (forced refresh)",
}
#: Actions that concern one date (the form carries it).
DATE_ACTIONS: tuple[str, ...] = ("create_ab", "process", "move", "finish", "remove")
#: Actions of one processing mode (the form carries it too: CALIB or SCIENCE).
MODE_ACTIONS: tuple[str, ...] = ("create_ab", "process", "move")
# ToDo lists that cannot hurt (dfos.steps.todo): reset a mode of a date to run again, re-run chosen ABs (the
# form's "abs": AB names, checked by rerun_names), hard abort of the date's running cascade
ACTIONS.update({"reset": "reset (ABs, DONE tags, job files)", "rerun": "re-run ABs",
                "abort": "abort the cascade now"})
DATE_ACTIONS += ("reset", "rerun", "abort")
MODE_ACTIONS += ("reset", "rerun", "abort")


def rerun_names(workspace: Workspace, day: date, mode: Mode, text: str) -> tuple[str, ...]:
    """The AB names of a ``rerun`` form (separated by blanks or commas): each a safe name (check_name) and an AB of
    the date and mode; :class:`~dfos.errors.DfosError` otherwise.  None: its cancelled and blocked ABs."""
    from dfos.ab.lists import read_ab_list
    from dfos.errors import NotFound
    from dfos.jobs.model import check_name

    names = tuple(dict.fromkeys(check_name(n) for n in text.replace(",", " ").split()))
    known = {e.name for e in read_ab_list(workspace.ab_list(mode, day))}
    for name in names:
        if name not in known:
            raise NotFound(f"{name} is not an AB of {mode} {day.isoformat()}")
    return names


def action_label(action: str, day: date | None, mode: Mode = Mode.CALIB, todo: str | None = None) -> str:
    """What the job is called: ``createAB -m SCIENCE 2013-02-12``, ``finishNight 2013-02-12`` ..."""
    words = [ACTIONS[action]] + (["-m", mode.value] if action in MODE_ACTIONS else [])
    return " ".join(words + ([day.isoformat()] if day else [todo] if todo else []))


def _dfos(workspace: Workspace, *args: str) -> list[str]:
    return [sys.executable, "-m", "dfos.cli.main", "--root", str(workspace.root), *args]


def action_steps(workspace: Workspace, action: str, day: date | None, todo: str | None = None,
                 mode: Mode = Mode.CALIB, names: tuple[str, ...] = (), descendants: bool = False) -> list[list[str]]:
    """The commands of an action, in order; ``mode`` for createAB, process and move; ``names``: the ABs to re-run
    (``descendants``: with every AB behind them)."""
    if action == "create_ab" and day is not None:
        return [_dfos(workspace, "create-ab", "-m", mode.value, "-d", day.isoformat())]
    if action == "process" and day is not None:
        return _process(workspace, day, mode)
    if action == "move" and day is not None:
        return [_dfos(workspace, "move", "-m", mode.value, "-d", day.isoformat())]
    if action in ("finish", "remove") and day is not None:
        return [_dfos(workspace, action, "-d", day.isoformat())]
    if action == "rerun" and day is not None:
        return [_dfos(workspace, "requeue", "-m", mode.value, "-d", day.isoformat(),
                      *(word for name in names for word in ("-a", name)), *(["--descendants"] if descendants else []))]
    if action == "abort" and day is not None:
        return [_dfos(workspace, "stop-cascade", "--dag-id", BatchId.of(mode, day).render(), "--now")]
    if action == "reset" and day is not None:
        return [_dfos(workspace, "reset", "-m", mode.value, "-d", day.isoformat(), "--yes")]
    if action == "auto_daily":
        return [_dfos(workspace, "auto-daily")]
    if action == "launch_todo" and todo is not None:
        return [[str(workspace.job_dir / todo)]]
    raise ValueError(f"unknown action {action!r}")


def _process(workspace: Workspace, day: date, mode: Mode) -> list[list[str]]:
    """createJob, the AB cascade, the QC cascade, then ``end-job``: ``cal_QC`` (``sci_QC``) for work done, and the
    date's block marked executed in the job file (:mod:`dfos.steps.todo`)."""
    batch = BatchId.of(mode, day)
    qc = BatchId.of(mode, day, qc=True)
    return [_dfos(workspace, "create-job", "-m", mode.value, "-d", day.isoformat()),
            _dfos(workspace, "exec-cascade", "--dag-id", batch.render(),
                  "--jobs", str(workspace.job_dir / f"execAB_{batch.render()}")),
            _dfos(workspace, "exec-cascade", "--dag-id", qc.render(),
                  "--jobs", str(workspace.job_dir / f"execQC_{batch.render()}")),
            _dfos(workspace, "end-job", "-m", mode.value, "-d", day.isoformat())]


@dataclass
class Job:
    id: int
    action: str
    label: str
    log: Path
    started: float
    """time.monotonic() at the start."""
    state: str = "running"
    """running | done | failed"""
    returncodes: list[int] = field(default_factory=list)
    ended: float | None = None
    problems: list[str] = field(default_factory=list)
    """Why the job failed (:func:`dfos.monitor.honest.job_problems`): an exit code, failed ABs, an error line."""
    batch: str = ""
    """The cascade a process or rerun job runs (its failed ABs are named among the problems), '' none."""


class JobRunner:
    """Runs actions one step after the other in a background thread each; keeps their records."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.jobs: dict[int, Job] = {}
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.log_dir = workspace.mon_dir / "monitor_jobs"

    def start(self, action: str, label: str, steps: list[list[str]], batch: str = "") -> Job:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.lock:
            number = next(self.ids)
            stamp = clock.now(self.workspace.settings).strftime("%Y%m%dT%H%M%S")
            job = Job(number, action, label, self.log_dir / f"{stamp}_{os.getpid()}_{number}.log", time.monotonic(),
                      batch=batch)
            self.jobs[number] = job
        job.log.write_text(f"# {label}\n", encoding="utf-8")
        threading.Thread(target=self._run, args=(job, steps), daemon=True, name=f"monitor-job-{number}").start()
        return job

    def _run(self, job: Job, steps: list[list[str]]) -> None:
        ok = True
        for argv in steps:
            with job.log.open("a", encoding="utf-8") as log:
                log.write(f"$ {' '.join(argv[3:] if argv[:3] == [sys.executable, '-m', 'dfos.cli.main'] else argv)}\n")
                log.flush()
                try:
                    code = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          cwd=self.workspace.root, check=False).returncode
                except OSError as exc:
                    log.write(f"cannot start: {exc}\n")
                    code = 127
            job.returncodes.append(code)
            if code not in (0, 11):  # 11: the cascade ran, some ABs failed (the next steps still make sense)
                ok = False
                break
        problems = job_problems(job.returncodes, job.log.read_text(encoding="utf-8", errors="replace"))
        if problems and job.batch:  # which ABs failed, and why (dfos.monitor.rerun)
            from dfos.monitor.rerun import failure_lines

            problems += failure_lines(self.workspace, job.batch)
        with self.lock:
            job.problems = problems
            job.state = "done" if ok and not problems else "failed"
            job.ended = time.monotonic()

    def get(self, number: int) -> Job | None:
        with self.lock:
            return self.jobs.get(number)

    def recent(self, limit: int = 10) -> list[Job]:
        with self.lock:
            return sorted(self.jobs.values(), key=lambda j: -j.id)[:limit]
