"""autoDaily's live state: ``$DFO_MON_DIR/AUTO_DAILY/state``, rewritten atomically at every step of a run,
so that the dfoMonitor shows whether autoDaily is idle or running, its current step, since when, and its log.

The file is ``key=value`` lines::

    state=running
    started=2013-02-13T14:00:00
    updated=2013-02-13T14:00:05
    step=2013-02-12: header intake
    log=monitor/AUTO_DAILY/auto_daily_20130213T140000_4242.log
    pid=4242

``state`` is ``running``, ``idle`` (the run ended; ``step`` is its last message) or ``failed`` (it ended with
an error; ``step`` says which).  ``log`` is relative to the workspace root ('' before the run knows it
has work).  A ``running`` state whose process is gone is read as ``stopped`` (killed: the lock is free
again, the next run starts afresh).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dfos.fsutil import pid_alive, write_text_atomic
from dfos.workspace import Workspace

__all__ = ["STATE_FILE", "AutoState", "read_state", "write_state"]

STATE_FILE = "state"
_KEYS = ("state", "started", "updated", "step", "log", "pid")
#: The longest step message kept.
MAX_STEP = 500


@dataclass(frozen=True)
class AutoState:
    state: str
    """``idle``, ``running``, ``failed`` or ``stopped``; ``idle`` too when autoDaily never ran."""
    started: str = ""
    updated: str = ""
    step: str = ""
    log: str = ""
    pid: int | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


def _path(workspace: Workspace) -> Path:
    return workspace.mon_dir / "AUTO_DAILY" / STATE_FILE


def _relative(workspace: Workspace, log: Path | None) -> str:
    if log is None:
        return ""
    try:
        return str(log.resolve().relative_to(workspace.root.resolve()))
    except ValueError:
        return ""


def write_state(workspace: Workspace, state: str, started: str, updated: str, step: str,
                log: Path | None = None) -> None:
    """Rewrite the state file (atomically; not fsync'ed: it is rewritten at every step)."""
    clean = " ".join(step.split())[:MAX_STEP]
    values = {"state": state, "started": started, "updated": updated, "step": clean,
              "log": _relative(workspace, log), "pid": str(os.getpid())}
    path = _path(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "".join(f"{k}={values[k]}\n" for k in _KEYS), durable=False)


def read_state(workspace: Workspace) -> AutoState:
    """The last state written; ``idle`` without a file; ``stopped`` for a run whose process is gone."""
    try:
        text = _path(workspace).read_text(encoding="utf-8", errors="replace")[:10_000]
    except OSError:
        return AutoState("idle")
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    pid_text = values.get("pid", "")
    pid = int(pid_text) if pid_text.isdigit() and len(pid_text) < 10 else None
    state = values.get("state", "idle")
    if state not in ("idle", "running", "failed"):
        state = "idle"
    if state == "running" and (pid is None or not pid_alive(pid)):
        state = "stopped"
    log = values.get("log", "")
    return AutoState(state, values.get("started", ""), values.get("updated", ""), values.get("step", ""),
                     log if log and not log.startswith(("/", "..")) else "", pid)
