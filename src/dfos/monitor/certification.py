"""Certification you can follow (the certify page, the AB page, the history page): every decision and comment,
provisional ones (``certify -L``) included, with the person and the time; the failed ABs of a date with their
reason and log; each AB's QC1 values against their thresholds, with its QC plots.

Nothing is overwritten: ``certifications`` is append-only (the newest row of an AB is its standing decision,
the earlier ones its history) and ``comments`` keeps every comment (a provisional decision is a comment
``provisional <decision>: <text>``).  A decision's comment is written to both tables; it is shown once.

Everything here reads the workspace database and files: it runs in a worker thread (the page handlers) or in
the static export.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from dfos.ab.format import parse
from dfos.db import ab_qc, ab_runs, certifications, comments, engine_for_url, qc1_params
from dfos.errors import DfosError
from dfos.keys import BatchId
from dfos.naming import safe_name
from dfos.workspace import Workspace

__all__ = ["CertEvent", "FailedAB", "QCValue", "ab_certification_context", "certification_events", "certify_context",
           "failed_abs", "history_certification_context", "qc_plots", "qc_values"]

#: Events the history page lists at most (newest first).
HISTORY_LIMIT = 300
#: Events an AB page or a certify page lists at most.
PAGE_LIMIT = 2000
_PROVISIONAL = "provisional "


@dataclass(frozen=True)
class CertEvent:
    """One certification event: a decision (standing or earlier), a provisional decision or a comment."""

    ab: str
    at: str
    by: str
    kind: str
    """decision | provisional | comment"""
    decision: str
    """certified | rejected | pending ('' for a comment)"""
    comment: str
    date: str = ""
    """The AB's DFO date (from its QC summary; '' when unknown)."""
    current: bool = False
    """The AB's standing decision (its newest row of ``certifications``)."""

    @property
    def label(self) -> str:
        if self.kind == "decision":
            return self.decision + ("" if self.current else " (earlier)")
        if self.kind == "provisional":
            return f"provisional {self.decision}".rstrip()
        return "comment"


def _provisional(text: str) -> tuple[str, str] | None:
    """(decision, comment) of a provisional comment ``provisional certified: text``; None for another comment."""
    if not text.startswith(_PROVISIONAL):
        return None
    head, _, rest = text[len(_PROVISIONAL):].partition(":")
    return (head.strip(), rest.strip()) if head.strip() in ("certified", "rejected") else None


def _events(db: Connection, names: Sequence[str] | None, limit: int) -> list[CertEvent]:
    decided = select(certifications).order_by(certifications.c.id.desc()).limit(limit)
    noted = select(comments).where(comments.c.scope == "ab").order_by(comments.c.id.desc()).limit(limit)
    newest = select(certifications.c.ab, func.max(certifications.c.id).label("id")).group_by(certifications.c.ab)
    if names is not None:
        decided = decided.where(certifications.c.ab.in_(names))
        noted = noted.where(comments.c.subject.in_(names))
        newest = newest.where(certifications.c.ab.in_(names))
    current = {row.id for row in db.execute(newest)}
    events: list[tuple[str, int, CertEvent]] = []
    shown: set[tuple[str, str, str, str]] = set()
    for row in db.execute(decided):
        events.append((row.at, 1, CertEvent(row.ab, row.at, row.by, "decision", row.decision, row.comment,
                                            current=row.id in current)))
        shown.add((row.ab, row.at, row.by, row.comment))
    for row in db.execute(noted):
        if (row.subject, row.at, row.author, row.text) in shown:
            continue  # the comment of a decision shown above
        provisional = _provisional(row.text)
        kind, decision, text = ("provisional", *provisional) if provisional else ("comment", "", row.text)
        events.append((row.at, 0, CertEvent(row.subject, row.at, row.author, kind, decision, text)))
    events.sort(key=lambda e: (e[0], e[1]), reverse=True)
    return [event for _, _, event in events[:limit]]


def certification_events(workspace: Workspace, names: Iterable[str] | None = None,
                         limit: int = PAGE_LIMIT) -> list[CertEvent]:
    """The certification events of the ABs ``names`` (every AB: None), newest first, with their dates."""
    chosen = None if names is None else sorted(set(names))
    with engine_for_url(workspace.db_url).begin() as db:
        found = _events(db, chosen, limit)
        abs_ = sorted({e.ab for e in found})
        dates = {r.ab: r.date for r in db.execute(select(ab_qc.c.ab, ab_qc.c.date).where(ab_qc.c.ab.in_(abs_)))} \
            if abs_ else {}
    return [CertEvent(e.ab, e.at, e.by, e.kind, e.decision, e.comment, dates.get(e.ab, ""), e.current)
            for e in found]


# --- failed ABs -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FailedAB:
    """An AB of the batch whose newest run failed: why, and where its log is (relative to the root, '' none)."""

    ab: str
    started: str
    failure: str
    message: str
    log: str


def _rel(workspace: Workspace, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(workspace.root.resolve()))
    except ValueError:
        return ""


def _log_of(workspace: Workspace, name: str, recorded: str | None, key: str) -> str:
    """The AB's recipe log: the run's log, else the AB file's LOG_NAME beside it (in ``$DFO_AB_DIR``, or in
    ``$DFO_LOG_DIR/<KEY>`` once moved); '' when there is none."""
    candidates = [Path(recorded)] if recorded else []
    for folder in (workspace.ab_dir, workspace.log_dir / key):
        ab_file = folder / name
        if ab_file.is_file():
            try:
                log_name = safe_name(parse(ab_file.read_text(encoding="utf-8", errors="replace")).log_name)
            except DfosError:
                break
            candidates.append(folder / log_name)
            break
    return next((_rel(workspace, c) for c in candidates if c.is_file() and _rel(workspace, c)), "")


def failed_abs(workspace: Workspace, batch: BatchId) -> list[FailedAB]:
    """The ABs of ``batch`` whose newest run failed, in AB order."""
    dag = batch.render()
    newest = (select(ab_runs.c.ab, func.max(ab_runs.c.id).label("id"))
              .where(ab_runs.c.batch_id == dag).group_by(ab_runs.c.ab).subquery())
    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(ab_runs).join(newest, ab_runs.c.id == newest.c.id)
                          .where(ab_runs.c.status == "FAILED").order_by(ab_runs.c.ab)).mappings().all()
    return [FailedAB(r["ab"], r["started"] or "", r["failure"] or "", r["message"] or "",
                     _log_of(workspace, r["ab"], r["log"], batch.key.text)) for r in rows]


# --- QC1 values and plots ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class QCValue:
    """A QC1 parameter of an AB's product, with its threshold (``low``..``high``) and score."""

    product: str
    name: str
    text: str
    unit: str
    low: float | None
    high: float | None
    score: int | None
    """0 in (green), 1 out (red), None not scored (grey)"""

    @property
    def state(self) -> str:
        return "unscored" if self.score is None else "out" if self.score else "in"

    @property
    def threshold(self) -> str:
        if self.low is None and self.high is None:
            return ""
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "+inf" if self.high is None else f"{self.high:g}"
        return f"{low} .. {high}"


def qc_values(workspace: Workspace, names: Sequence[str]) -> dict[str, list[QCValue]]:
    """AB -> its QC1 values, scored ones first (red before green), then by product and name."""
    if not names:
        return {}
    found: dict[str, list[QCValue]] = {}
    with engine_for_url(workspace.db_url).begin() as db:
        for r in db.execute(select(qc1_params).where(qc1_params.c.ab.in_(list(names)))
                            .order_by(qc1_params.c.ab, qc1_params.c.product, qc1_params.c.name)):
            found.setdefault(r.ab, []).append(QCValue(r.product, r.name, r.text or "", r.unit or "", r.low, r.high,
                                                      r.score))
    order = {1: 0, 0: 1, None: 2}
    return {ab: sorted(values, key=lambda v: order.get(v.score, 2)) for ab, values in found.items()}


def qc_plots(workspace: Workspace, names: Sequence[str]) -> dict[str, list[str]]:
    """AB -> its QC plots that exist (paths relative to the workspace root, for the file view)."""
    if not names:
        return {}
    plots: dict[str, list[str]] = {}
    with engine_for_url(workspace.db_url).begin() as db:
        for r in db.execute(select(ab_qc.c.ab, ab_qc.c.plots).where(ab_qc.c.ab.in_(list(names)))):
            shown = [_rel(workspace, Path(p)) for p in (r.plots or "").splitlines() if p.strip()]
            plots[r.ab] = [p for p in shown if p and (workspace.root / p).is_file()]
    return plots


# --- what the pages get ---------------------------------------------------------------------------------

def _by_ab(events: Iterable[CertEvent]) -> dict[str, list[CertEvent]]:
    grouped: dict[str, list[CertEvent]] = {}
    for event in events:
        grouped.setdefault(event.ab, []).append(event)
    return grouped


def ab_certification_context(workspace: Workspace, name: str) -> dict[str, Any]:
    """The AB page: every decision and comment of the AB, newest first (the standing decision marked)."""
    return {"cert_events": certification_events(workspace, [name]), "cert_show_ab": False}


def certify_context(workspace: Workspace, batch: BatchId, names: Sequence[str]) -> dict[str, Any]:
    """The certify page: the batch's failed ABs, the QC1 values and plots of ``names`` (its successful ABs), and
    every decision and comment of all of them."""
    failed = failed_abs(workspace, batch)
    events = certification_events(workspace, [*names, *(f.ab for f in failed)])
    return {"failed": failed, "qc_values": qc_values(workspace, names), "qc_plots": qc_plots(workspace, names),
            "cert_events": events, "cert_by_ab": _by_ab(events), "cert_show_ab": True}


def history_certification_context(workspace: Workspace) -> dict[str, Any]:
    """The history page: the newest certification events of every date."""
    return {"cert_events": certification_events(workspace, None, HISTORY_LIMIT), "cert_show_ab": True,
            "cert_show_date": True}
