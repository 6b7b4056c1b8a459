"""The monitor's reads of the workspace database and of the logs its pages show: every SQL query and
every log parsed for a page is here, so that the views and page models only choose and lay out.

Everything here blocks (SQLite or PostgreSQL, files): it runs in a worker thread (the handlers of
:mod:`dfos.monitor.views` do, see :func:`~dfos.monitor.security.access.readable`), or in the static
export, never on the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from sqlalchemy import Connection, Row, RowMapping, func, select

from dfos.db import ab_qc, ab_runs, cascade_nodes, certifications, comments, engine_for_url
from dfos.errors import FormatError
from dfos.keys import BatchId
from dfos.workspace import Workspace

__all__ = ["ABRecords", "AnyRow", "BatchRecords", "CampaignTallies", "KeyTallies", "ab_records", "batch_records",
           "campaign_tallies", "key_tallies", "newest_run", "shown_text", "superseded_lines", "supersession_counts",
           "tail"]

#: A row of any columns (read by name).
AnyRow: TypeAlias = "Row[*tuple[Any, ...]]"
#: Runs and certification decisions the AB page lists at most (newest first).
AB_HISTORY = 10


# --- the database ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ABRecords:
    """What the database knows of one AB: its newest runs, its QC summary, its certification decisions."""

    runs: Sequence[RowMapping]
    qc: RowMapping | None
    decisions: Sequence[RowMapping]


def ab_records(workspace: Workspace, name: str) -> ABRecords:
    """The records of the AB ``name`` (the AB page)."""
    with engine_for_url(workspace.db_url).begin() as db:
        runs = db.execute(select(ab_runs).where(ab_runs.c.ab == name).order_by(ab_runs.c.id.desc())
                          .limit(AB_HISTORY)).mappings().all()
        qc = db.execute(select(ab_qc).where(ab_qc.c.ab == name)).mappings().first()
        decisions = db.execute(select(certifications).where(certifications.c.ab == name)
                               .order_by(certifications.c.id.desc()).limit(AB_HISTORY)).mappings().all()
    return ABRecords(runs, qc, decisions)


@dataclass(frozen=True)
class BatchRecords:
    """The rows of a batch's ABs, by AB name: three indexed queries for a whole AB monitor page."""

    nodes: dict[str, AnyRow]
    """Cascade state: ``state``, ``attempts``, ``wall_s``, ``backend_id``, ``reason`` (why it waits or is blocked)."""
    runs: dict[str, AnyRow]
    """The newest run: ``started``, ``wall_s``, ``status``, ``message``, ``failure``."""
    scores: dict[str, AnyRow]
    """The QC summary: ``n_red``, ``n_scored``, ``verdict``."""


def batch_records(workspace: Workspace, batch: BatchId) -> BatchRecords:
    """The cascade state, newest run and QC summary of every AB of ``batch``."""
    dag = batch.render()
    with engine_for_url(workspace.db_url).begin() as db:
        nodes = {r.ab: r for r in db.execute(
            select(cascade_nodes.c.ab, cascade_nodes.c.state, cascade_nodes.c.attempts, cascade_nodes.c.wall_s,
                   cascade_nodes.c.backend_id, cascade_nodes.c.reason).where(cascade_nodes.c.dag_id == dag))}
        newest = (select(ab_runs.c.ab, func.max(ab_runs.c.id).label("id"))
                  .where(ab_runs.c.batch_id == dag).group_by(ab_runs.c.ab).subquery())
        runs = {r.ab: r for r in db.execute(
            select(ab_runs.c.ab, ab_runs.c.started, ab_runs.c.wall_s, ab_runs.c.status, ab_runs.c.message,
                   ab_runs.c.failure, ab_runs.c.reused_from).join(newest, ab_runs.c.id == newest.c.id))}
        scores = {r.ab: r for r in db.execute(
            select(ab_qc.c.ab, ab_qc.c.n_red, ab_qc.c.n_scored, ab_qc.c.verdict)
            .where(ab_qc.c.date == batch.key.text))}
    return BatchRecords(nodes, runs, scores)


@dataclass(frozen=True)
class KeyTallies:
    """Per processing key (the history page): ABs whose newest run failed, certified ABs, comments."""

    failed: dict[str, int]
    certified: dict[str, int]
    comments: dict[str, list[str]]


def key_tallies(workspace: Workspace) -> KeyTallies:
    with engine_for_url(workspace.db_url).begin() as db:
        return KeyTallies(_failed(db), _certified(db), _comments(db))


def _failed(db: Connection) -> dict[str, int]:
    """ABs whose newest run failed, per key of their batch."""
    newest = select(ab_runs.c.ab, func.max(ab_runs.c.id).label("id")).group_by(ab_runs.c.ab).subquery()
    failed: dict[str, int] = {}
    for row in db.execute(select(ab_runs.c.batch_id).join(newest, ab_runs.c.id == newest.c.id)
                          .where(ab_runs.c.status == "FAILED")):
        try:
            key = BatchId.parse(row.batch_id).key.text
        except FormatError:  # not a batch of any key: no date's row shows it
            continue
        failed[key] = failed.get(key, 0) + 1
    return failed


def _certified(db: Connection) -> dict[str, int]:
    """ABs whose latest certification decision is 'certified', per date."""
    last = select(certifications.c.ab, func.max(certifications.c.id).label("id")) \
        .group_by(certifications.c.ab).subquery()
    certified: dict[str, int] = {}
    for row in db.execute(select(ab_qc.c.date).join(last, ab_qc.c.ab == last.c.ab)
                          .join(certifications, certifications.c.id == last.c.id)
                          .where(certifications.c.decision == "certified")):
        certified[row.date] = certified.get(row.date, 0) + 1
    return certified


def _comments(db: Connection) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    for row in db.execute(select(comments.c.subject, comments.c.text).where(comments.c.scope == "date")):
        notes.setdefault(row.subject, []).append(row.text)
    return notes


@dataclass(frozen=True)
class CampaignTallies:
    """Aggregates over every batch of the workspace (the phoenix campaign page), each a GROUP BY query: no
    row per AB reaches Python.  Keys are base batch ids (``SCIENCE_2013-02-12``, ``SCIENCE_090.C-0456A``)."""

    nodes: dict[str, dict[str, int]]
    """Cascade node states per cascade (``cascade_nodes``: waiting, submitted, running, succeeded ...)."""
    reused: dict[str, int]
    """ABs that succeeded by reusing the products of an earlier run of their content key."""
    verdicts: dict[str, dict[str, int]]
    """QC verdicts per batch (``ab_qc``: green, red, grey)."""
    decisions: dict[str, dict[str, int]]
    """Standing certification decisions of the batch's ABs with QC: ``certified``, ``rejected``, ``pending``
    (ABs with none: the batch's verdicts less these)."""
    provisional: dict[str, int]
    """ABs with a provisional decision (``certify -L`` comments) and no standing one."""
    first_start: str
    """The start of the first recipe run ('' before any)."""


def campaign_tallies(workspace: Workspace) -> CampaignTallies:
    """The campaign page's counts (:class:`CampaignTallies`): aggregate queries (indexed: revision 0007), and the
    certification rows added since the last request."""
    with engine_for_url(workspace.db_url).begin() as db:
        nodes: dict[str, dict[str, int]] = {}
        for dag, state, n in db.execute(select(cascade_nodes.c.dag_id, cascade_nodes.c.state, func.count())
                                        .group_by(cascade_nodes.c.dag_id, cascade_nodes.c.state)):
            nodes.setdefault(dag, {})[state] = n
        reused = {batch: n for batch, n in db.execute(  # only successful runs reuse
            select(ab_runs.c.batch_id, func.count(ab_runs.c.ab.distinct()))
            .where(ab_runs.c.reused_from.is_not(None)).group_by(ab_runs.c.batch_id))}
        verdicts: dict[str, dict[str, int]] = {}
        for batch, verdict, n in db.execute(select(ab_qc.c.batch_id, ab_qc.c.verdict, func.count())
                                            .group_by(ab_qc.c.batch_id, ab_qc.c.verdict)):
            verdicts.setdefault(batch, {})[verdict] = n
        decisions, provisional = _standing(db, workspace.db_url)
        first = db.execute(select(func.min(ab_runs.c.started))).scalar()
    return CampaignTallies(nodes, reused, verdicts, decisions, provisional, str(first or ""))


class _Standing:
    """The standing certification decision of every AB with QC, counted per batch, kept up to date by reading only
    the ``certifications`` rows added since the last look (the table is append-only: the newest row of an AB
    stands), so that a page does not group 100,000 decisions on every request.  One per database URL; a table
    whose last row read is no longer the same (another database at the same URL) is read again from the start."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.last_id = 0
        self.last_ab: str | None = None
        self.latest: dict[str, tuple[str | None, str]] = {}
        """AB -> (its batch from ``ab_qc``, None while it has no QC summary; its standing decision)."""
        self.unplaced: set[str] = set()
        """ABs decided before their QC summary was written (placed once it is)."""
        self.counts: dict[str, dict[str, int]] = {}

    def _place(self, ab: str, batch: str | None, decision: str) -> None:
        old = self.latest.get(ab)
        if old is not None and old[0] is not None:
            self.counts[old[0]][old[1]] -= 1
        self.latest[ab] = (batch, decision)
        if batch is None:
            self.unplaced.add(ab)
        else:
            self.unplaced.discard(ab)
            tally = self.counts.setdefault(batch, {})
            tally[decision] = tally.get(decision, 0) + 1

    def read(self, db: Connection) -> dict[str, dict[str, int]]:
        with self.lock:
            newest = db.execute(select(func.max(certifications.c.id))).scalar() or 0
            seen = db.execute(select(certifications.c.ab).where(certifications.c.id == self.last_id)).scalar()
            if self.last_id and (newest < self.last_id or seen != self.last_ab):  # not the table read before
                self._reset()
            rows = db.execute(select(certifications.c.id, certifications.c.ab, certifications.c.decision,
                                     ab_qc.c.batch_id)
                              .select_from(certifications.outerjoin(ab_qc, ab_qc.c.ab == certifications.c.ab))
                              .where(certifications.c.id > self.last_id, certifications.c.id <= newest)
                              .order_by(certifications.c.id))
            for row in rows:
                self._place(row.ab, row.batch_id, row.decision)
                self.last_ab = row.ab
            self.last_id = newest
            unplaced = sorted(self.unplaced)
            for chunk in range(0, len(unplaced), 500):
                for ab, batch in db.execute(select(ab_qc.c.ab, ab_qc.c.batch_id)
                                            .where(ab_qc.c.ab.in_(unplaced[chunk:chunk + 500]))):
                    self._place(ab, batch, self.latest[ab][1])
            return {batch: dict(tally) for batch, tally in self.counts.items()}


_STANDING: dict[str, _Standing] = {}
_STANDING_LOCK = threading.Lock()


def _standing(db: Connection, url: str) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Per batch: its ABs with QC by standing certification decision (:class:`_Standing`; ABs without one are
    the batch's ``ab_qc`` rows less these), and those with only a provisional one (a ``provisional ...``
    comment of ``certify -L`` and no decision)."""
    with _STANDING_LOCK:
        standing = _STANDING.setdefault(url, _Standing())
    decisions = standing.read(db)
    provisional: dict[str, int] = {}
    for batch, n in db.execute(
            select(ab_qc.c.batch_id, func.count(ab_qc.c.ab.distinct()))
            .join(comments, (comments.c.subject == ab_qc.c.ab) & (comments.c.scope == "ab"))
            .where(comments.c.text.like("provisional %"),
                   ~select(certifications.c.id).where(certifications.c.ab == ab_qc.c.ab).exists())
            .group_by(ab_qc.c.batch_id)):
        provisional[batch] = n
    return decisions, provisional


def newest_run(workspace: Workspace) -> AnyRow | None:
    """The newest run of any AB: ``ab``, ``ended``, ``status`` (None before the first)."""
    with engine_for_url(workspace.db_url).begin() as db:
        return db.execute(select(ab_runs.c.ab, ab_runs.c.ended, ab_runs.c.status)
                          .order_by(ab_runs.c.id.desc()).limit(1)).first()


# --- logs and text files --------------------------------------------------------------------------------

def shown_text(path: Path | None) -> str:
    """A text file as a page shows it ('' when there is none; undecodable bytes replaced)."""
    if path is None or not path.is_file():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")


def supersession_counts(log: Path) -> dict[str, int]:
    """Superseded runs per AB in a supersession log (lines ``<time> <AB> <reason ...>``)."""
    replaced: dict[str, int] = {}
    for line in shown_text(log).splitlines():
        words = line.split()
        if len(words) > 1:
            replaced[words[1]] = replaced.get(words[1], 0) + 1
    return replaced


def superseded_lines(log: Path, name: str) -> list[str]:
    """The lines of a supersession log about the AB ``name``."""
    return [line for line in shown_text(log).splitlines() if line.split()[1:2] == [name]]


def tail(path: Path, limit: int = 64_000) -> tuple[str, bool]:
    """The end of a text file (at most ``limit`` bytes) and whether it was cut."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size > limit:
            handle.seek(size - limit)
        data = handle.read(limit)
    text = data.decode("utf-8", errors="replace")
    if size > limit:
        text = text.split("\n", 1)[-1]
    return text, size > limit
