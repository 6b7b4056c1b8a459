"""The AB monitor (DFOS getStatusAB): every AB of a batch (a mode's ABs of a date, or a phoenix run's) in cascade order,
with its state, timing, slot, score and rejected inputs, filtered and paginated so that 10,000 ABs stay
fast.

One read of the AB list and three indexed queries (cascade state, newest run per AB, QC summary:
:func:`~dfos.monitor.queries.batch_records`) per page.  Rejected inputs
(:func:`~dfos.steps.rejected_inputs.rejected_inputs`) cost one more query, and only while some AB
stands rejected the AB files of the page's rows (parsed again only when they change).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dfos.ab.lists import read_ab_list
from dfos.ab.provenance import RejectedInput
from dfos.keys import BatchId, KeyLike, Mode
from dfos.monitor.queries import BatchRecords, batch_records, supersession_counts
from dfos.steps.create_ab import supersession_log
from dfos.steps.rejected_inputs import rejected_inputs
from dfos.workspace import Workspace

__all__ = ["STATES", "ABPage", "ABRow", "ab_page", "address"]

#: The states the AB monitor shows (and filters by).
# cancelled: dfos stop-cascade --now (not failed, runs again with dfos requeue)
STATES = ("created", "queued", "running", "succeeded", "failed", "blocked", "incomplete", "cancelled")
PAGE_SIZE = 200


@dataclass(frozen=True)
class ABRow:
    name: str
    raw_type: str
    recipe: str
    state: str
    attempts: int
    started: str
    wall_s: float | None
    slot: str
    """The backend id (the recipe's pid for the local executor)."""
    score: str
    """``<red>/<scored>`` or ''."""
    verdict: str
    """green | red | grey | '' (no QC yet)."""
    message: str
    superseded: int = 0
    """Earlier runs of this AB superseded by a better calibration."""
    rejected: tuple[RejectedInput, ...] = ()
    """Inputs made by an AB that now stands rejected (directly or upstream)."""

    def to_json(self) -> dict[str, object]:
        return {"ab": self.name, "raw_type": self.raw_type, "recipe": self.recipe, "state": self.state,
                "attempts": self.attempts, "started": self.started, "wall_s": self.wall_s, "slot": self.slot,
                "score": self.score, "verdict": self.verdict, "message": self.message, "superseded": self.superseded,
                "rejected_inputs": [item.to_json() for item in self.rejected]}


@dataclass(frozen=True)
class ABPage:
    date: str
    """The processing key (a DFO date)."""
    mode: Mode
    rows: tuple[ABRow, ...]
    total: int
    """ABs of the date (before filtering)."""
    matching: int
    page: int
    pages: int
    counts: dict[str, int]
    """ABs per state (before filtering)."""
    raw_types: tuple[str, ...]
    size: int = 200
    """Rows per page."""

    @property
    def first_row(self) -> int:
        """The number of the page's first row among the matching ones (0: none)."""
        return (self.page - 1) * self.size + 1 if self.rows else 0

    @property
    def last_row(self) -> int:
        return self.first_row + len(self.rows) - 1 if self.rows else 0

    @property
    def batch(self) -> BatchId:
        return BatchId.of(self.mode, self.date)

    @property
    def address(self) -> str:
        """The page's place in URLs and export file names (:func:`address`)."""
        return address(self.batch)


def address(batch: BatchId) -> str:
    """Where the monitor shows a batch: its DFO date for CALIB (``/abs/2013-02-12``, as always), its batch
    id for the other modes (``/abs/SCIENCE_2013-02-12``)."""
    return batch.key.text if batch.mode is Mode.CALIB else batch.render()


def _state(node: str | None, completeness: str, done: bool, run_status: str | None) -> str:
    if completeness == "INCOMPLETE":
        return "incomplete"
    if node in ("waiting", "submitted"):  # submitted: queued at the batch system
        return "queued"
    if node in ("running", "succeeded", "failed", "blocked", "cancelled"):
        return node
    if done or run_status == "SUCCESSFUL":
        return "succeeded"
    if run_status == "FAILED":
        return "failed"
    return "created"


def ab_page(workspace: Workspace, day: KeyLike, mode: Mode | str = Mode.CALIB, state: str | None = None,
            raw_type: str | None = None, score: str | None = None, page: int = 1,
            size: int = PAGE_SIZE) -> ABPage:
    """One page of the AB monitor of a date (or other processing key)."""
    batch = BatchId.of(mode, day)
    entries = read_ab_list(workspace.ab_list(batch.mode, batch.key))
    records = batch_records(workspace, batch)
    # state and verdict of every AB (cheap: counts and filters need them); full rows only for the page
    light: list[tuple[Any, str, str]] = []
    counts = {s: 0 for s in STATES}
    for entry in entries:
        now = _entry_state(records, entry)
        counts[now] += 1
        qc = records.scores.get(entry.name)
        light.append((entry, now, qc.verdict if qc else ""))
    chosen = [item for item in light if (state is None or item[1] == state)
              and (raw_type is None or item[0].raw_type == raw_type) and (score is None or item[2] == score)]
    pages = max(1, -(-len(chosen) // size))
    page = min(max(1, page), pages)
    replaced = supersession_counts(supersession_log(workspace, batch.render()))
    on_page = chosen[(page - 1) * size : page * size]
    rejected = rejected_inputs(workspace, batch.mode, batch.key, [entry.name for entry, _, _ in on_page])
    shown = tuple(_row(records, entry, now, verdict, replaced.get(entry.name, 0), rejected.get(entry.name, ()))
                  for entry, now, verdict in on_page)
    raw_types = tuple(sorted({entry.raw_type for entry in entries}))
    return ABPage(batch.key.text, batch.mode, shown, len(entries), len(chosen), page, pages, counts, raw_types, size)


def _entry_state(records: BatchRecords, entry: Any) -> str:
    node, run = records.nodes.get(entry.name), records.runs.get(entry.name)
    return _state(node.state if node else None, entry.completeness, entry.done, run.status if run else None)


def _row(records: BatchRecords, entry: Any, now: str, verdict: str, superseded: int,
         rejected: tuple[RejectedInput, ...]) -> ABRow:
    """The full row of one AB on the page."""
    node, run, qc = records.nodes.get(entry.name), records.runs.get(entry.name), records.scores.get(entry.name)
    message = f"{run.failure}: {run.message}" if run is not None and run.status == "FAILED" else ""
    if run is not None and run.status == "SUCCESSFUL" and run.reused_from:
        message = str(run.message)  # reused from <AB> (content key ...): no recipe ran
    if node is not None and node.reason and now in ("queued", "blocked"):
        message = str(node.reason)  # waiting for calibrations of another cascade, or why it will not run
    wall = node.wall_s if node and node.wall_s is not None else (run.wall_s if run else None)
    return ABRow(entry.name, entry.raw_type, entry.recipe, now,
                 int(node.attempts) if node else (1 if run else 0), run.started if run else "", wall,
                 str(node.backend_id or "") if node else "", f"{qc.n_red}/{qc.n_scored}" if qc else "", verdict,
                 message, superseded, rejected)
