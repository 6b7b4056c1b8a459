"""phoenix DEEP mode, ``-M``: a run's deep products certified and moved target after target.

``dfos phoenix -r RUN -M`` certifies (``PHOENIX_CERTIFY``, :func:`dfos.steps.phoenix.auto_decisions`) and moves
every processed deep AB of the run that is not moved yet, each on its own (:func:`dfos.steps.move.move_abs`), into
``$DFO_SCI_DIR/<RUN_ID>``, then ingests what is new there (a run's ingest accumulates: one ``JOBS_INGEST`` line
serves the run).  ``--last`` takes only the AB processed last (the newest successful run among the run's ABs).
Products moved before are never touched; a target whose product would replace an earlier one with other bytes
is held back unless ``UPDATE_YN``.  Targets not processed yet, and those that wait for a person, are reported
and block no other.  ``sci_Updated`` is appended for the run once every target of it (every AB of its list
that can run) is moved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from dfos.ab.model import Completeness, ProcessStatus
from dfos.db import ab_runs, engine_for_url
from dfos.keys import BatchId, KeyLike, Mode, ProcessingKey
from dfos.steps.certify import Evidence
from dfos.workspace import Workspace

__all__ = ["DeepMove", "deep_move", "last_processed"]


@dataclass
class DeepMove:
    """What one ``phoenix -r RUN -M`` did."""

    run: str
    moved: list[str] = field(default_factory=list)
    """ABs moved by this call."""
    products: list[str] = field(default_factory=list)
    ingested: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    """ABs that wait for a person's decision (red scores, or ``PHOENIX_CERTIFY = "green"``)."""
    held: list[str] = field(default_factory=list)
    """ABs whose products would replace earlier ones with other bytes (UPDATE_YN is NO): they stay."""
    unprocessed: list[str] = field(default_factory=list)
    """ABs of the run not processed (successfully) yet."""

    @property
    def outcome(self) -> str:
        """One line for JOBS_PHOENIX."""
        said = [f"{len(self.moved)} target(s) moved ({len(self.products)} product(s)), {len(self.ingested)} ingested"]
        said += [f"{len(names)} {what}" for names, what in ((self.waiting, "wait(s) for certification"),
                                                            (self.held, "held back (UPDATE_YN)"),
                                                            (self.unprocessed, "not processed yet")) if names]
        return "; ".join(said)


def last_processed(workspace: Workspace, run: KeyLike, evidence: Evidence) -> str | None:
    """The AB of the run processed last: the one with the newest run among those whose newest run succeeded."""
    batch = BatchId.of(Mode.SCIENCE, run).render()
    with engine_for_url(workspace.db_url).begin() as db:
        newest = db.execute(select(ab_runs.c.ab, func.max(ab_runs.c.id).label("last"))
                            .where(ab_runs.c.batch_id == batch).group_by(ab_runs.c.ab)).all()
    ok = [(row.last, row.ab) for row in newest if evidence.runs.get(row.ab) == ProcessStatus.SUCCESSFUL]
    return max(ok)[1] if ok else None


def deep_move(workspace: Workspace, run: KeyLike, last: bool = False,
              note: Callable[[str], None] = lambda _: None) -> DeepMove:
    """``phoenix -r RUN -M [--last]``; see the module docstring."""
    from dfos.steps.certify import read_evidence
    from dfos.steps.move import moved_abs, settle_run
    from dfos.steps.phoenix import _phoenix_only, queue_run

    _phoenix_only(workspace)
    key = ProcessingKey.of(run)
    result = DeepMove(key.text)
    evidence = read_evidence(workspace, Mode.SCIENCE, key)
    moved = moved_abs(workspace, evidence)
    processed = [name for name, _ in evidence.successful()]
    result.unprocessed = [e.name for e in evidence.entries if e.name not in processed and e.name not in moved
                          and e.completeness is not Completeness.INCOMPLETE]
    pending = [name for name in processed if name not in moved]
    if last:
        newest = last_processed(workspace, key, evidence)
        pending = [name for name in pending if name == newest]
        if newest is not None and newest in moved:
            note(f"{key}: {newest}, processed last, is moved already")
    if pending:
        _certify_and_move(workspace, key, pending, result, note)
    else:
        note(f"{key}: nothing to move: {len(moved)} target(s) moved already ({workspace.sci_dir / key.text})")
    if moved or result.moved:  # what a kill right after a target's move left unwritten: sci_Updated, JOBS_INGEST
        settle_run(workspace, Mode.SCIENCE, key)
    if (moved or result.moved) and (workspace.sci_dir / key.text).is_dir():
        _ingest(workspace, key, result, note)
    if result.unprocessed:
        note(f"{key}: {len(result.unprocessed)} target(s) not processed yet: {', '.join(result.unprocessed)}: "
             f"run 'dfos phoenix -r {key} -P'")
    queue_run(workspace, key.text, "-M --last" if last else "-M", result.outcome)
    return result


def _certify_and_move(workspace: Workspace, key: ProcessingKey, pending: list[str], result: DeepMove,
                      note: Callable[[str], None]) -> None:
    """Certify the pending ABs by the policy, move those decided (each on its own) and say what stayed."""
    from dfos.steps.certify import certification_rows, certify
    from dfos.steps.move import move_abs
    from dfos.steps.phoenix import auto_decisions

    rows = [row for row in certification_rows(workspace, Mode.SCIENCE, key) if row.ab in pending]
    decisions, result.waiting = auto_decisions(rows, workspace.settings.PHOENIX_CERTIFY)
    if decisions:
        certify(workspace, Mode.SCIENCE, key, decisions, user="phoenix")
    if result.waiting:
        note(f"{key}: {len(result.waiting)} deep AB(s) wait for a person: 'dfos certify -m SCIENCE -d {key}', "
             f"then 'dfos phoenix -r {key} -M' again")
    ready = [name for name in pending if name not in result.waiting]
    if not ready:
        return
    moved = move_abs(workspace, Mode.SCIENCE, key, ready)
    result.moved, result.products, result.held = list(moved.abs), list(moved.masters), list(moved.held)
    note(f"{key}: {len(moved.abs)} target(s) moved: {len(moved.masters)} deep product(s) in "
         f"{workspace.sci_dir / key.text}")
    for name in moved.held:
        note(f"{key}: {name} not moved: its product would replace an earlier one of the run, and UPDATE_YN is NO: "
             "the earlier one stays (set UPDATE_YN=YES to replace it)")


def _ingest(workspace: Workspace, key: ProcessingKey, result: DeepMove, note: Callable[[str], None]) -> None:
    from dfos.steps.ingest import ingest

    ingested = ingest(workspace, Mode.SCIENCE, key)
    result.ingested = list(ingested.ingested)
    if ingested.ingested:
        note(f"{key}: {len(ingested.ingested)} deep product(s) ingested ({ingested.listing.name})")
