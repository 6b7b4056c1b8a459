"""Re-run, abort and reset from the monitor (issue 20): which of these buttons a page shows, the form fields they
post, and what their "are you sure?" pages name.

* The AB monitor of a date not yet certified (:func:`~dfos.status.todo.job_refusal` says nothing), whose cascade does
  not run, has a checkbox per failed, cancelled, blocked or succeeded AB and "re-run selected" (``dfos requeue -a
  ...``), "re-run selected with descendants" (``--descendants``); a failed AB has a one-click "re-run" too.
* While a mode's cascade has running ABs, the AB monitor and that mode's cell of the DATE table have "abort now"
  (``dfos stop-cascade --now``): the confirmation names the running ABs, which are killed and marked cancelled.
* A mode with ABs that was not moved (:func:`~dfos.status.todo.reset_refusal` says nothing) and does not run has
  "reset" in its DATE-table cell (``dfos reset``): the confirmation names the ABs, products and job files removed.

The decisions (:func:`rerun_allowed`, :func:`row_actions`) and effects (:func:`abort_effect`,
:func:`reset_effect`) are pure; the reads are :func:`running_abs`, :func:`batch_buttons`, :func:`date_buttons`
and :func:`describe`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from starlette.datastructures import FormData

from dfos.ab.lists import read_ab_list
from dfos.db import cascade_nodes, engine_for_url
from dfos.errors import UsageError
from dfos.keys import BatchId, Mode, Stage, mode_flag
from dfos.status import flags_by_key
from dfos.status.todo import job_refusal, reset_refusal
from dfos.workspace import Workspace

__all__ = [
    "RERUN_STATES",
    "RUNNING",
    "BatchButtons",
    "abort_effect",
    "batch_buttons",
    "date_buttons",
    "descendants_field",
    "describe",
    "rerun_allowed",
    "rerun_field",
    "reset_effect",
    "row_actions",
    "running_abs",
]

#: The AB states that may be chosen for a re-run.
RERUN_STATES = ("failed", "cancelled", "blocked", "succeeded")
#: The node states of a cascade whose recipes run (or wait at a batch system): "abort now" kills them.
RUNNING = ("running", "submitted")
#: At most this many ABs are named one by one on a confirmation page.
SHOWN = 30


def rerun_allowed(flags: Sequence[str], mode: Mode | str, key: str) -> bool:
    """Whether ABs of ``mode`` of the date may be re-run: it was not certified, moved, finished or removed."""
    return job_refusal(flags, mode, key) is None


@dataclass(frozen=True)
class BatchButtons:
    """The buttons of a batch's AB monitor."""

    rerun: bool
    """The date is not past processing and its cascade does not run (dfos requeue would be refused): checkboxes,
    "re-run selected", one-click "re-run" on failed ABs."""
    running: tuple[str, ...]
    """The ABs running now ("abort now" is shown when there are any)."""


def running_abs(workspace: Workspace, dag_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Per cascade of ``dag_ids`` that has any: its running (or batch-queued) ABs, in name order."""
    if not dag_ids:
        return {}
    found: dict[str, list[str]] = {}
    with engine_for_url(workspace.db_url).begin() as db:
        for dag, ab in db.execute(select(cascade_nodes.c.dag_id, cascade_nodes.c.ab).where(
                cascade_nodes.c.dag_id.in_(list(dag_ids)), cascade_nodes.c.state.in_(RUNNING))):
            found.setdefault(dag, []).append(ab)
    return {dag: tuple(sorted(abs_)) for dag, abs_ in found.items()}


def batch_buttons(workspace: Workspace, batch: BatchId) -> BatchButtons:
    """The AB monitor's buttons of ``batch`` (a mode of a DFO date; a phoenix run has none)."""
    if batch.key.day is None:
        return BatchButtons(False, ())
    flags = flags_by_key(workspace.status_log.read()).get(batch.key.text, [])
    running = running_abs(workspace, [batch.render()]).get(batch.render(), ())
    return BatchButtons(rerun_allowed(flags, batch.mode, batch.key.text) and not running, running)


def row_actions(flags: Sequence[str], mode: Mode | str, key: str, n_abs: int | None,
                running: tuple[str, ...]) -> dict[str, Any]:
    """The DATE table's extra buttons of one mode of a date: ``abort`` (the running ABs; empty: no button) and
    ``reset`` (a mode with ABs, not moved, not running)."""
    return {"abort": running, "reset": bool(n_abs) and not running and reset_refusal(flags, mode, key) is None}


def date_buttons(workspace: Workspace, rows: Sequence[Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per date row (:class:`~dfos.monitor.facts.DateRow`) and mode (``CALIB``, ``SCIENCE``): :func:`row_actions`."""
    flags = flags_by_key(workspace.status_log.read())
    batches = {(row.key, mode): BatchId.of(mode, row.view.date) for row in rows for mode in Mode}
    running = running_abs(workspace, [b.render() for b in batches.values()])
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        for mode, n_abs in ((Mode.CALIB, row.n_cal_abs), (Mode.SCIENCE, row.n_sci_abs)):
            found.setdefault(row.key, {})[mode.value] = row_actions(
                flags.get(row.key, []), mode, row.key, n_abs, running.get(batches[(row.key, mode)].render(), ()))
    return found


def running_mark(buttons: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The dates and modes whose cascade runs (part of the DATE table's fingerprint: "abort now" comes and goes)."""
    return " ".join(sorted(f"{key}:{mode}" for key, modes in buttons.items() for mode, b in modes.items()
                           if b["abort"]))


def failure_lines(workspace: Workspace, batch: str) -> list[str]:
    """A job's problems beyond its exit codes: each AB of ``batch`` whose newest run failed, and why (its failure,
    its message); '' when the batch is no date's.  A database fault is said, not raised."""
    from dfos.errors import DfosError
    from dfos.monitor.certification import failed_abs

    try:
        found = failed_abs(workspace, BatchId.parse(batch))
    except DfosError as exc:
        return [f"failed ABs not read: {exc.message}"]
    return [f"{f.ab} failed: {f.failure}: {f.message}"[:500] + (f" (log: {f.log})" if f.log else "") for f in found]


# --- the form fields ------------------------------------------------------------------------------------

def rerun_field(form: FormData, limit: int = 100_000) -> str:
    """The ABs of a rerun form: every ``abs`` field (a checkbox each, or one field of names), joined by blanks."""
    values = form.getlist("abs")
    if any(not isinstance(v, str) for v in values):
        raise UsageError("abs: text expected")
    text = " ".join(str(v) for v in values)
    if len(text) > limit:
        raise UsageError(f"abs: at most {limit} characters, not {len(text)}")
    if not text.strip():
        raise UsageError("choose the ABs to re-run (abs: none chosen)")
    return text


def descendants_field(form: FormData) -> bool:
    """The ``descendants`` field: '1' re-runs every AB behind the chosen ones, '' (or none) does not."""
    value = form.get("descendants", "")
    if value not in ("", "0", "1"):
        raise UsageError(f"descendants must be 1 or empty, not {str(value)[:20]!r}")
    return value == "1"


# --- the effects ----------------------------------------------------------------------------------------

def _named(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def abort_effect(batch: str, running: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """abort now: the running ABs killed and marked cancelled (the title and the lines)."""
    if running:
        lines = [f"kills the {len(running)} running AB(s) of {batch} and marks them cancelled (not failed): "
                 f"{_named(running)}"]
    else:
        lines = [f"no AB of {batch} runs now: nothing is killed"]
    lines += ["nothing new starts; the cancelled ABs (and the ABs waiting for them) run again with re-run "
              "(dfos requeue)"]
    return f"abort the cascade {batch} now", tuple(lines)


def reset_effect(batch: str, key: str, abs_: Sequence[str], job_files: Sequence[str],
                 blocks: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """reset: what ``dfos reset`` removes (the title and the lines)."""
    mode = batch.split("_", 1)[0]
    lines = [f"removes the {len(abs_)} AB(s) of {mode} {key} from $DFO_AB_DIR and its AB list (so their DONE tags): "
             f"{_named(abs_)}" if abs_ else f"removes no AB ({mode} {key} has none in its AB list)",
             "deletes their products still in $DFS_PRODUCT (products already moved are never touched)",
             f"forgets the run states of the cascades of {batch}"]
    if job_files:
        lines.append(f"removes {len(job_files)} job file(s): {', '.join(job_files)}")
    if blocks:
        lines.append(f"removes the ToDo block(s): {', '.join(blocks)}")
    lines.append(f"appends {mode_flag(Mode.parse(mode), Stage.RESET)} for {key} to DFO_STATUS and a line to "
                 "$DFO_MON_DIR/HISTORY: createAB is offered again")
    return f"reset {mode} {key}", tuple(lines)


def describe(workspace: Workspace, action: str, day: date, mode: Mode, job_files: Sequence[str],
             blocks: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """The title and lines of the confirmation of ``abort`` or ``reset`` of ``mode`` of ``day``."""
    batch = BatchId.of(mode, day)
    if action == "abort":
        return abort_effect(batch.render(), running_abs(workspace, [batch.render()]).get(batch.render(), ()))
    names = [entry.name for entry in read_ab_list(workspace.ab_list(batch.mode, batch.key))]
    mine = [name for name in job_files if batch.render() in name]
    return reset_effect(batch.render(), batch.key.text, names, mine,
                        [b for b in blocks if b.endswith(f"{mode.value} {batch.key.text}")])
