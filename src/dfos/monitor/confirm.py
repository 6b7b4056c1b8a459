"""Confirmations (issue 20): a destructive action of the monitor runs only when the POST says ``confirm=1``.

Without it the server answers with an "are you sure?" page (HTML; JSON with status 409 for a client that
accepts ``application/json``) that says what the action will do, computed from the workspace: for finish
the raw frames it deletes in ``$DFO_RAW_DIR/<DATE>`` and the date's job files, for a ToDo list the blocks
and dates it runs.  The page's Confirm button posts the same form again with ``confirm=1`` and the
session's CSRF token; Cancel goes back to the dfoMonitor.  Not only JavaScript: a script's POST is asked too.

The effects are described by pure functions (:func:`finish_effect`, :func:`launch_effect`, ...) over facts
gathered by :func:`describe`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dfos.errors import DfosError
from dfos.jobs.model import parse_blocks
from dfos.jobs.todo import pending_lines
from dfos.keys import Mode, Stage, mode_flag
from dfos.monitor.jobs import ACTIONS
from dfos.monitor.web import page
from dfos.workspace import Workspace

__all__ = ["DESTRUCTIVE", "Effect", "ask", "confirmed", "describe", "finish_effect", "launch_effect"]

#: The actions that ask first (those of other names, when the monitor has them, too).
DESTRUCTIVE = ("finish", "remove", "launch_todo", "cleanup", "reset", "abort")
#: At most this many lines of a ToDo list are named on the page.
SHOWN_LINES = 20
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


@dataclass(frozen=True)
class Effect:
    """What an action will do: a title (``finish 2013-02-12``) and one line per effect."""

    title: str
    lines: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"title": self.title, "effects": list(self.lines)}


def confirmed(value: object) -> bool:
    return value == "1"


# --- the effects (pure) ---------------------------------------------------------------------------------

def finish_effect(day: str, raw_frames: int, raw_dir: str, job_files: list[str], blocks: list[str]) -> Effect:
    """finish DATE: what ``dfos finish`` deletes, moves and appends (docs/workflow.md)."""
    lines = [f"deletes {raw_frames} raw frame(s) in {raw_dir} (each only when the archive holds it)"
             if raw_frames else f"deletes no raw frame ({raw_dir} holds none)",
             "deletes the cascades' working directories of the date; leftover products move to "
             f"$DFO_LOG_DIR/{day}/leftover (never deleted)"]
    if job_files:
        lines.append(f"removes {len(job_files)} job file(s) of the date: {', '.join(job_files)}")
    if blocks:
        lines.append(f"removes the date's ToDo block(s): {', '.join(blocks)}")
    lines += ["trims DFO_STATUS to its newest lines and adds the date to $DFO_MON_DIR/HISTORY",
              f"appends 'finished' for {day} to DFO_STATUS: the date leaves the open dates"]
    return Effect(f"finish {day}", tuple(lines))


def remove_effect(day: str) -> Effect:
    return Effect(f"remove {day}", (f"appends 'removed' for {day} to DFO_STATUS: the date leaves the monitor "
                                    "(its files stay)",))


def launch_effect(todo: str, text: str) -> Effect:
    """launching a ToDo list: the pipeline blocks (mode, date) it runs, or its command lines and their dates (the
    lines the dfoMonitor counts as pending: :func:`dfos.jobs.todo.pending_lines`)."""
    try:
        blocks = [b for b in parse_blocks(text, todo) if not b.executed]  # a block that ran is skipped
    except DfosError:
        blocks = []
    commands = pending_lines(text)
    lines = [f"runs the block {b.mode} {b.date}: raw download, the AB cascade {b.batch.render()}, its QC, "
             f"then appends {mode_flag(Mode.parse(b.mode), Stage.QC)} for {b.date}" for b in blocks]
    if not blocks:
        lines += [f"runs: {line}" for line in commands[:SHOWN_LINES]]
        if len(commands) > SHOWN_LINES:
            lines.append(f"... and {len(commands) - SHOWN_LINES} more command line(s)")
    dates = sorted({found for line in commands for found in _DATE.findall(line)} | {b.date for b in blocks})
    lines.append(f"dates: {', '.join(dates)}" if dates else "names no date")
    if not commands:
        lines = ["runs nothing: the list holds no command"]
    return Effect(f"launch {todo}", tuple(lines))


def other_effect(action: str, day: str | None, label: str) -> Effect:
    """The actions of other parts (cleanup, reset, abort): what their names promise."""
    what = {"cleanup": f"replaces each ingested FITS file of $DFO_CAL_DIR/{day} and $DFO_SCI_DIR/{day} by its "
                       ".hdr header (when the archive holds a verified copy)",
            "reset": f"removes the ABs and DONE tags of {day} so that it can run again (with a log line)",
            "abort": "kills the running recipes and marks them cancelled"}.get(action, f"runs {label}")
    return Effect(f"{ACTIONS.get(action, action)}{' ' + day if day else ''}", (what,))


# --- the facts (reads) ----------------------------------------------------------------------------------

def _raw_frames(workspace: Workspace, key: str) -> int:
    folder = workspace.raw_dir / key
    if not folder.is_dir():
        return 0
    return sum(1 for path in folder.iterdir() if ".fits" in path.name and path.is_file())


def _job_files(workspace: Workspace, key: str) -> list[str]:
    """The date's job files, as finish and reset remove them."""
    from dfos.steps.todo import date_job_files

    return [path.name for path in date_job_files(workspace, key)]


def _blocks(workspace: Workspace, key: str) -> list[str]:
    found = []
    for name in ("JOBS_NIGHT", "JOBS_AUTO"):
        path = workspace.job_dir / name
        if not path.is_file():
            continue
        try:
            blocks = parse_blocks(path.read_text(encoding="utf-8", errors="replace"), name)
        except DfosError:
            continue
        found += [f"{name}: {b.mode} {b.date}" for b in blocks if b.date == key]
    return found


def describe(workspace: Workspace, action: str, day: date | None, todo: str | None, label: str,
             mode: Mode = Mode.CALIB) -> Effect:
    """What ``action`` will do to this workspace now."""
    key = day.isoformat() if day else None
    if action in ("abort", "reset") and day is not None and key:  # the monitor's buttons (dfos.monitor.rerun)
        from dfos.monitor import rerun

        return Effect(*rerun.describe(workspace, action, day, mode, _job_files(workspace, key),
                                      _blocks(workspace, key)))
    if action == "finish" and key:
        return finish_effect(key, _raw_frames(workspace, key), f"$DFO_RAW_DIR/{key}", _job_files(workspace, key),
                             _blocks(workspace, key))
    if action == "remove" and key:
        return remove_effect(key)
    if action == "launch_todo" and todo:
        path = workspace.job_dir / todo
        return launch_effect(todo, path.read_text(encoding="utf-8", errors="replace") if path.is_file() else "")
    return other_effect(action, key, label)


def ask(request: Request, workspace: Workspace, action: str, day: date | None, mode: Mode, todo: str,
        label: str, extra: dict[str, str] | None = None) -> Response:
    """The "are you sure?" answer: a page with Confirm (the same form, ``confirm=1``) and Cancel; JSON (409)
    for a client that asks for JSON.  ``extra``: more fields the action needs (a rerun's ``abs``, ``descendants``)."""
    effect = describe(workspace, action, day, todo or None, label, mode)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"confirm": "required", "action": action, **effect.to_json(),
                             "how": "post the same form again with confirm=1"}, status_code=409)
    fields = {"date": day.isoformat() if day else "", "mode": mode.value, "todo": todo, **(extra or {})}
    return page(request, "confirm.html", {"action": action, "effect": effect,
                                          "fields": {k: v for k, v in fields.items() if v}})
