"""The AB monitor (DFOS getStatusAB): every AB of a date in cascade order, with its state, timing,
slot and score, filtered and paginated so that 10,000 ABs stay fast.

One read of the AB list and three indexed queries (cascade state, newest run per AB, QC summary)
per page; no AB file is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select

from dfos.ab.lists import read_ab_list
from dfos.db import ab_qc, ab_runs, cascade_nodes, engine_for_url
from dfos.steps.create_ab import supersession_log
from dfos.workspace import Workspace

__all__ = ["STATES", "ABPage", "ABRow", "ab_page"]

#: The states the AB monitor shows (and filters by).
STATES = ("created", "queued", "running", "succeeded", "failed", "blocked", "incomplete")
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

    def to_json(self) -> dict[str, object]:
        return {"ab": self.name, "raw_type": self.raw_type, "recipe": self.recipe, "state": self.state,
                "attempts": self.attempts, "started": self.started, "wall_s": self.wall_s, "slot": self.slot,
                "score": self.score, "verdict": self.verdict, "message": self.message, "superseded": self.superseded}


@dataclass(frozen=True)
class ABPage:
    date: str
    mode: str
    rows: tuple[ABRow, ...]
    total: int
    """ABs of the date (before filtering)."""
    matching: int
    page: int
    pages: int
    counts: dict[str, int]
    """ABs per state (before filtering)."""
    raw_types: tuple[str, ...]


def _state(node: str | None, completeness: str, done: bool, run_status: str | None) -> str:
    if completeness == "INCOMPLETE":
        return "incomplete"
    if node in ("waiting", "submitted"):  # submitted: queued at the batch system
        return "queued"
    if node in ("running", "succeeded", "failed", "blocked"):
        return node
    if done or run_status == "SUCCESSFUL":
        return "succeeded"
    if run_status == "FAILED":
        return "failed"
    return "created"


def ab_page(workspace: Workspace, day: date, mode: str = "CALIB", state: str | None = None,
            raw_type: str | None = None, score: str | None = None, page: int = 1,
            size: int = PAGE_SIZE) -> ABPage:
    """One page of the AB monitor of a date."""
    key = day.isoformat()
    entries = read_ab_list(workspace.mon_dir / f"AB_list_{mode}_{key}")
    dag = f"{mode}_{key}"
    with engine_for_url(workspace.db_url).begin() as db:
        nodes = {r[0]: r for r in db.execute(
            select(cascade_nodes.c.ab, cascade_nodes.c.state, cascade_nodes.c.attempts, cascade_nodes.c.wall_s,
                   cascade_nodes.c.backend_id).where(cascade_nodes.c.dag_id == dag))}
        newest = (select(ab_runs.c.ab, func.max(ab_runs.c.id).label("id"))
                  .where(ab_runs.c.batch_id == dag).group_by(ab_runs.c.ab).subquery())
        runs = {r[0]: r for r in db.execute(
            select(ab_runs.c.ab, ab_runs.c.started, ab_runs.c.wall_s, ab_runs.c.status, ab_runs.c.message,
                   ab_runs.c.failure).join(newest, ab_runs.c.id == newest.c.id))}
        scores = {r[0]: r for r in db.execute(
            select(ab_qc.c.ab, ab_qc.c.n_red, ab_qc.c.n_scored, ab_qc.c.verdict).where(ab_qc.c.date == key))}
    # state and verdict of every AB (cheap: counts and filters need them); full rows only for the page
    light: list[tuple[Any, str, str]] = []
    counts = {s: 0 for s in STATES}
    for entry in entries:
        node, run, qc = nodes.get(entry.name), runs.get(entry.name), scores.get(entry.name)
        now = _state(node[1] if node else None, entry.completeness, entry.done, run[3] if run else None)
        counts[now] += 1
        light.append((entry, now, qc[3] if qc else ""))
    chosen = [item for item in light if (state is None or item[1] == state)
              and (raw_type is None or item[0].raw_type == raw_type) and (score is None or item[2] == score)]
    pages = max(1, -(-len(chosen) // size))
    page = min(max(1, page), pages)
    log = supersession_log(workspace, dag)
    replaced: dict[str, int] = {}
    for line in log.read_text(encoding="utf-8").splitlines() if log.is_file() else []:
        words = line.split()
        if len(words) > 1:
            replaced[words[1]] = replaced.get(words[1], 0) + 1
    shown = []
    for entry, now, verdict in chosen[(page - 1) * size : page * size]:
        node, run, qc = nodes.get(entry.name), runs.get(entry.name), scores.get(entry.name)
        message = f"{run[5]}: {run[4]}" if run is not None and run[3] == "FAILED" else ""
        wall = node[3] if node and node[3] is not None else (run[2] if run else None)
        shown.append(ABRow(entry.name, entry.raw_type, entry.recipe, now,
                           int(node[2]) if node else (1 if run else 0), run[1] if run else "", wall,
                           str(node[4] or "") if node else "", f"{qc[1]}/{qc[2]}" if qc else "", verdict, message,
                           replaced.get(entry.name, 0)))
    raw_types = tuple(sorted({entry.raw_type for entry in entries}))
    return ABPage(key, mode, tuple(shown), len(entries), len(chosen), page, pages, counts, raw_types)
