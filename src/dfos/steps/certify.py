"""certify (DFOS certifyProducts): a QC scientist accepts or rejects each processed AB's products.

Both modes alike (``-m CALIB``, ``-m SCIENCE``, after ``cal_QC``/``sci_QC``).  Decisions go to the
``certifications`` table (newest row per AB stands; automatic ones by ``auto`` from scoring), comments
to ``comments``.  When every successful AB of the date has a decision, ``cal_Certif`` (``sci_Certif``)
is appended.  A rejected AB's virtual products leave the calibration memory (its
VCAL headers are removed: they never become masters) and the ABs that used them are flagged for
re-association in ``$DFO_MON_DIR/reassociate_<MODE>_<DATE>``.  ``-L`` (light) records provisional
comments for TODAY and sets no flag.

Every closing step relies on the same evidence (:func:`read_evidence`): the AB list
``$DFO_MON_DIR/AB_list_<MODE>_<DATE>``, the AB files it names (in ``$DFO_AB_DIR``, or in
``$DFO_LOG_DIR/<DATE>`` once moved) and the runs in the workspace database.  When the list is
missing, is no file, cannot be read, or disagrees with the AB files or the database, the step
refuses (:class:`StateError` naming the file) before it writes anything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select

from dfos import clock
from dfos.ab.format import parse
from dfos.ab.lists import ABList, parse_ab_list
from dfos.ab.model import AB, ProcessStatus
from dfos.dates import format_timestamp
from dfos.db import ab_qc, ab_runs, certifications, comments, engine_for_url
from dfos.errors import FormatError, NotFound, StateError, UsageError
from dfos.fsutil import write_text_atomic
from dfos.keys import BatchId, KeyLike, Mode, ProcessingKey, Stage, mode_flag
from dfos.status.machine import flags_by_key
from dfos.steps.safe_move import read_text
from dfos.steps.score import latest_decisions
from dfos.workspace import Workspace

__all__ = ["ACCEPT", "MAX_COMMENT", "REJECT", "CertRow", "CertifyResult", "Decision", "Evidence",
           "certification_rows", "certify", "check_state", "parse_decisions", "read_ab_file", "read_decisions",
           "read_evidence"]

ACCEPT, REJECT = "certified", "rejected"
#: The longest comment a decision may carry (the monitor's form cuts there too).
MAX_COMMENT = 2000
#: The longest user name (the ``by`` column of ``certifications``).
MAX_USER = 64

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    ab: str
    decision: str
    """certified | rejected"""
    comment: str = ""


@dataclass(frozen=True)
class CertRow:
    ab: str
    raw_type: str
    verdict: str
    """green | red | grey | '' (no QC)"""
    summary: str
    decision: str
    """the standing decision ('' none)"""
    by: str


@dataclass(frozen=True)
class CertifyResult:
    recorded: tuple[Decision, ...]
    undecided: tuple[str, ...]
    flagged: tuple[str, ...]
    """ABs that used a rejected AB's virtual product (to be associated again)."""
    certified_flag: bool
    """cal_Certif (sci_Certif) was appended by this run."""


def parse_decisions(text: str, source: str = "<decisions>") -> list[Decision]:
    """A batch file: ``<AB> accept|reject [comment ...]`` per line; ``#`` starts a comment line.

    Certification is final, so a file that contradicts itself (the same AB accepted and rejected, or
    twice with other comments) is refused naming both lines; the same line twice counts once.
    """
    found: dict[str, tuple[int, Decision]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split(None, 2)
        if not words or words[0].startswith("#"):
            continue
        if len(words) < 2 or words[1].lower() not in ("accept", "reject"):
            raise FormatError(f"{source}:{number}: expected '<AB> accept|reject [comment]'")
        comment = words[2].strip() if len(words) > 2 else ""
        if len(comment) > MAX_COMMENT or "\0" in comment:
            raise FormatError(f"{source}:{number}: a comment is text of at most {MAX_COMMENT} characters")
        decision = Decision(words[0], ACCEPT if words[1].lower() == "accept" else REJECT, comment)
        first, earlier = found.setdefault(decision.ab, (number, decision))
        if earlier != decision:
            what = "accepts and rejects" if earlier.decision != decision.decision else "decides twice (other comments)"
            raise FormatError(f"{source}:{first} and {source}:{number} contradict each other: the file {what} "
                              f"{decision.ab}; keep one line per AB")
    return [decision for _, decision in found.values()]


def read_decisions(path: Path) -> list[Decision]:
    """The decisions of a batch file (unreadable or not UTF-8: refused naming it)."""
    return parse_decisions(read_text(path, "a decisions file"), str(path))


def read_ab_file(path: Path) -> AB:
    """An AB file a closing step relies on: refused naming the file when it is missing, unreadable, not
    UTF-8 or not an AB."""
    return parse(read_text(path, "an AB file"), str(path))


@dataclass(frozen=True)
class Evidence:
    """What the closing steps rely on, read and checked against each other (see :func:`read_evidence`)."""

    ab_list: Path
    entries: tuple[ABList, ...]
    runs: dict[str, str]
    """AB -> status of its newest run in the workspace database (the date's batch)."""
    files: dict[str, Path]
    """AB -> its file ($DFO_AB_DIR, or $DFO_LOG_DIR/<DATE> once moved)."""
    abs: dict[str, AB]

    def successful(self) -> list[tuple[str, str]]:
        """(AB, RAW_TYPE) whose newest run succeeded, in cascade order."""
        return [(e.name, e.raw_type) for e in self.entries if self.runs.get(e.name) == ProcessStatus.SUCCESSFUL]


def _list_entries(text: str, source: str) -> list[ABList]:
    """The AB list's entries (:func:`dfos.ab.lists.parse_ab_list`), each AB listed once."""
    entries: dict[str, tuple[int, ABList]] = {}
    for number, entry in parse_ab_list(text, source):
        first, _ = entries.setdefault(entry.name, (number, entry))
        if first != number:
            raise StateError(f"{source}:{first} and {source}:{number} both list {entry.name}: refused")
    return [entry for _, entry in entries.values()]


def _newest_runs(workspace: Workspace, batch: str) -> dict[str, str]:
    status: dict[str, str] = {}
    with engine_for_url(workspace.db_url).begin() as db:
        for row in db.execute(select(ab_runs.c.ab, ab_runs.c.status).where(ab_runs.c.batch_id == batch)
                              .order_by(ab_runs.c.id)):
            status[row.ab] = row.status
    return status


def read_evidence(workspace: Workspace, mode: Mode | str, day: KeyLike) -> Evidence:
    """The AB list of the date, its AB files and the database's runs, refused unless they agree.

    The list must be a readable UTF-8 file naming each AB once; every AB it names must have its
    file; an AB the list tags DONE or whose file says SUCCESSFUL must have a successful newest run in
    the database, and the other way round; every AB whose newest run succeeded must be listed.
    """
    batch = BatchId.of(mode, day)
    mode, key = batch.mode, batch.key.text
    path = workspace.ab_list(mode, key)
    entries = _list_entries(read_text(path, f"the AB list of {mode} {key}"), str(path))
    runs = _newest_runs(workspace, batch.render())
    listed = {e.name for e in entries}
    unlisted = sorted(name for name, status in runs.items()
                      if status == ProcessStatus.SUCCESSFUL and name not in listed)
    if unlisted:
        more = f" (and {len(unlisted) - 1} more)" if len(unlisted) > 1 else ""
        raise StateError(f"{path} does not list {unlisted[0]}{more}, which the workspace database ran successfully "
                         f"for {mode} {key}: the AB list disagrees with the database; restore the list")
    log_dir = workspace.path("DFO_LOG_DIR") / key
    files: dict[str, Path] = {}
    abs_: dict[str, AB] = {}
    for entry in entries:
        found = next((c for c in (workspace.ab_dir / entry.name, log_dir / entry.name)
                      if c.exists() or c.is_symlink()), None)
        if found is None:
            raise StateError(f"{path} lists {entry.name}, but its AB file is neither in {workspace.ab_dir} nor in "
                             f"{log_dir}: refused")
        ab = read_ab_file(found)
        succeeded = runs.get(entry.name) == ProcessStatus.SUCCESSFUL
        if (entry.done or ab.process_status is ProcessStatus.SUCCESSFUL) and not succeeded:
            claim = "tags it DONE" if entry.done else f"lists it and {found} says SUCCESSFUL"
            raise StateError(f"{path} {claim}, but the workspace database has no successful run of {entry.name} "
                             f"(newest: {runs.get(entry.name, 'no run')}): the evidence disagrees; refused")
        if succeeded and ab.process_status is not ProcessStatus.SUCCESSFUL:
            raise StateError(f"{found} says {ab.process_status.value}, but the newest run of {entry.name} in the "
                             "workspace database succeeded: its products may be stale; process it again")
        files[entry.name], abs_[entry.name] = found, ab
    return Evidence(path, tuple(entries), runs, files, abs_)


def certification_rows(workspace: Workspace, mode: Mode | str, day: KeyLike,
                       evidence: Evidence | None = None) -> list[CertRow]:
    """The successful ABs with their scores and standing decisions, red first, then grey, then green
    (refused, naming the file, when the evidence disagrees: :func:`read_evidence`)."""
    abs_ = (evidence or read_evidence(workspace, Mode.parse(mode), day)).successful()
    names = [name for name, _ in abs_]
    with engine_for_url(workspace.db_url).begin() as db:
        qc = {r.ab: r for r in db.execute(select(ab_qc).where(ab_qc.c.ab.in_(names)))}
        decisions = latest_decisions(db, names)
    order = {"red": 0, "grey": 1, "": 1, "green": 2}
    rows = [CertRow(name, raw_type, qc[name].verdict if name in qc else "",
                    f"{qc[name].n_red}/{qc[name].n_scored}" if name in qc else "",
                    decisions.get(name, ("", ""))[0], decisions.get(name, ("", ""))[1]) for name, raw_type in abs_]
    return sorted(rows, key=lambda r: order[r.verdict])


def _flags(workspace: Workspace, day: KeyLike) -> list[str]:
    return flags_by_key(workspace.status_log.read()).get(ProcessingKey.of(day).text, [])


def check_state(workspace: Workspace, mode: Mode | str, day: KeyLike, light: bool = False) -> list[str]:
    """Refuse unless MODE DATE may be certified now (QC done, not moved; ``light`` only TODAY); its flags."""
    mode = Mode.parse(mode)
    key = ProcessingKey.of(day).text
    flags = _flags(workspace, day)
    qc, updated = mode_flag(mode, Stage.QC), mode_flag(mode, Stage.UPDATED)
    if qc not in flags:
        raise StateError(f"{mode} {key} has no QC yet ('{qc}' is not in DFO_STATUS): "
                        "process the date and its QC first")
    if updated in flags:
        raise StateError(f"{mode} {key} is already moved ('{updated}'): its certification is final")
    if light and day != clock.today(workspace.settings):
        raise UsageError(f"-L (light) certifies TODAY ({clock.today(workspace.settings)}) only, not {key}")
    return flags


def certify(workspace: Workspace, mode: Mode | str, day: KeyLike, decisions: Iterable[Decision] = (),
            accept_green: bool = False, light: bool = False, user: str = "operator") -> CertifyResult:
    """Record decisions (and with ``accept_green`` accept every green AB without one); see the module.

    Everything is checked (state, evidence, the ABs named, the user) before anything is written;
    ``<cal|sci>_Certif`` is appended only when no successful AB of the date awaits a decision.
    """
    mode = Mode.parse(mode)
    key = ProcessingKey.of(day).text
    certif = mode_flag(mode, Stage.CERTIF)
    flags = check_state(workspace, mode, day, light)
    if not user or len(user) > MAX_USER or not user.isprintable():
        raise UsageError(f"a user name is 1 to {MAX_USER} printable characters")
    evidence = read_evidence(workspace, mode, day)
    rows = {r.ab: r for r in certification_rows(workspace, mode, day, evidence)}
    wanted = list(decisions)
    unknown = [d.ab for d in wanted if d.ab not in rows]
    if unknown:
        raise NotFound(f"{unknown[0]} is not a successful {mode} AB of {key} (see 'dfos certify -m {mode} -d {key}')")
    if accept_green:
        named = {d.ab for d in wanted}
        wanted += [Decision(r.ab, ACCEPT, "accepted: all scores green") for r in rows.values()
                   if r.verdict == "green" and r.ab not in named and (not r.decision or r.by == "auto")]
    now = format_timestamp(clock.now(workspace.settings))
    with engine_for_url(workspace.db_url).begin() as db:
        for d in wanted:
            if light:
                db.execute(insert(comments).values(scope="ab", subject=d.ab, author=user, at=now,
                                                   text=f"provisional {d.decision}: {d.comment}".rstrip(": ")))
                continue
            db.execute(insert(certifications).values(ab=d.ab, decision=d.decision, by=user, at=now,
                                                     comment=d.comment))
            if d.comment:
                db.execute(insert(comments).values(scope="ab", subject=d.ab, text=d.comment, author=user, at=now))
        standing = latest_decisions(db, list(rows))
    rejected = [evidence.abs[d.ab] for d in wanted if d.decision == REJECT]
    flagged = [] if light else _reject_virtuals(workspace, mode, day, rejected)
    undecided = tuple(name for name in rows if standing.get(name, ("", ""))[0] not in (ACCEPT, REJECT))
    appended = False
    if not light and not undecided and (not flags or flags[-1] != certif):
        workspace.status_log.append(certif, key, clock.now(workspace.settings))
        appended = True
    return CertifyResult(tuple(wanted), undecided, tuple(flagged), appended)


def _reject_virtuals(workspace: Workspace, mode: Mode, day: KeyLike, rejected: list[AB]) -> list[str]:
    """Remove the rejected ABs' VCAL headers; flag the ABs that used them; return those ABs."""
    if not rejected:
        return []
    for ab in rejected:
        for vcal in sorted((workspace.vcal_dir / ab.date).glob(f"{ab.prod_root}_*.hdr")):
            vcal.unlink()
    names = {ab.name for ab in rejected}
    flagged: list[str] = []
    lines = []
    for path in sorted(workspace.ab_dir.glob("*.ab")):
        try:
            ab = read_ab_file(path)
        except (FormatError, StateError) as exc:
            _log.warning("cannot tell whether %s used a rejected virtual product: %s", path.name, exc)
            continue
        users = sorted({c.producer for c in ab.mcalib if c.virtual and c.producer in names})
        if users:
            flagged.append(ab.name)
            lines += [f"{ab.name} used a virtual product of {producer}, which was rejected" for producer in users]
    target = workspace.mon_dir / f"reassociate_{BatchId.of(mode, day).render()}"
    old = target.read_text(encoding="utf-8", errors="replace").splitlines() if target.is_file() else []
    write_text_atomic(target, "\n".join(dict.fromkeys([*old, *lines])) + ("\n" if lines or old else ""))
    return flagged
