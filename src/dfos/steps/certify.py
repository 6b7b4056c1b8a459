"""certify (DFOS certifyProducts): a QC scientist accepts or rejects each processed AB's products.

Decisions go to the ``certifications`` table (newest row per AB stands; automatic ones by ``auto``
from scoring), comments to ``comments``.  When every successful AB of the date has a decision,
``cal_Certif`` is appended.  A rejected AB's virtual products leave the calibration memory (its
VCAL headers are removed: they never become masters) and the ABs that used them are flagged for
re-association in ``$DFO_MON_DIR/reassociate_<MODE>_<DATE>``.  ``-L`` (light) records provisional
comments for TODAY and sets no flag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import insert, select

from dfos import clock
from dfos.ab.format import parse
from dfos.dates import format_timestamp
from dfos.db import ab_qc, ab_runs, certifications, comments, engine_for_url
from dfos.errors import FormatError, NotFound, StateError, UsageError
from dfos.fsutil import write_text_atomic
from dfos.status.machine import flags_by_key
from dfos.steps.create_ab import read_ab_list
from dfos.steps.score import latest_decisions
from dfos.workspace import Workspace

__all__ = ["CertRow", "CertifyResult", "Decision", "certification_rows", "certify", "parse_decisions"]

ACCEPT, REJECT = "certified", "rejected"


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
    """cal_Certif was appended by this run."""


def parse_decisions(text: str, source: str = "<decisions>") -> list[Decision]:
    """A batch file: ``<AB> accept|reject [comment ...]`` per line; ``#`` starts a comment line."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split(None, 2)
        if not words or words[0].startswith("#"):
            continue
        if len(words) < 2 or words[1].lower() not in ("accept", "reject"):
            raise FormatError(f"{source}:{number}: expected '<AB> accept|reject [comment]'")
        found.append(Decision(words[0], ACCEPT if words[1].lower() == "accept" else REJECT,
                              words[2].strip() if len(words) > 2 else ""))
    return found


def _successful(workspace: Workspace, mode: str, day: date) -> list[tuple[str, str]]:
    """(AB, RAW_TYPE) of the date whose newest run succeeded, in cascade order."""
    entries = read_ab_list(workspace.mon_dir / f"AB_list_{mode}_{day.isoformat()}")
    with engine_for_url(workspace.db_url).begin() as db:
        status: dict[str, str] = {}
        for row in db.execute(select(ab_runs.c.ab, ab_runs.c.status).where(
                ab_runs.c.batch_id == f"{mode}_{day.isoformat()}").order_by(ab_runs.c.id)):
            status[row.ab] = row.status
    return [(e.name, e.raw_type) for e in entries if status.get(e.name) == "SUCCESSFUL"]


def certification_rows(workspace: Workspace, mode: str, day: date) -> list[CertRow]:
    """The successful ABs with their scores and standing decisions, red first, then grey, then green."""
    abs_ = _successful(workspace, mode, day)
    names = [name for name, _ in abs_]
    with engine_for_url(workspace.db_url).begin() as db:
        qc = {r.ab: r for r in db.execute(select(ab_qc).where(ab_qc.c.ab.in_(names)))}
        decisions = latest_decisions(db, names)
    order = {"red": 0, "grey": 1, "": 1, "green": 2}
    rows = [CertRow(name, raw_type, qc[name].verdict if name in qc else "",
                    f"{qc[name].n_red}/{qc[name].n_scored}" if name in qc else "",
                    decisions.get(name, ("", ""))[0], decisions.get(name, ("", ""))[1]) for name, raw_type in abs_]
    return sorted(rows, key=lambda r: order[r.verdict])


def _flags(workspace: Workspace, day: date) -> list[str]:
    return flags_by_key(workspace.status_log.read()).get(day.isoformat(), [])


def certify(workspace: Workspace, mode: str, day: date, decisions: Iterable[Decision] = (),
            accept_green: bool = False, light: bool = False, user: str = "operator") -> CertifyResult:
    """Record decisions (and with ``accept_green`` accept every green AB without one); see the module."""
    mode = mode.upper()
    key = day.isoformat()
    flags = _flags(workspace, day)
    prefix = "cal" if mode == "CALIB" else "sci"
    if f"{prefix}_QC" not in flags:
        raise StateError(f"{mode} {key} has no QC yet ('{prefix}_QC' is not in DFO_STATUS): "
                        "process the date and its QC first")
    if f"{prefix}_Updated" in flags:
        raise StateError(f"{mode} {key} is already moved ('{prefix}_Updated'): its certification is final")
    if light and day != clock.today(workspace.settings):
        raise UsageError(f"-L (light) certifies TODAY ({clock.today(workspace.settings)}) only, not {key}")
    rows = {r.ab: r for r in certification_rows(workspace, mode, day)}
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
    flagged = [] if light else _reject_virtuals(workspace, mode, day, [d.ab for d in wanted if d.decision == REJECT])
    undecided = tuple(name for name in rows if standing.get(name, ("", ""))[0] not in (ACCEPT, REJECT))
    appended = False
    if not light and not undecided and (not flags or flags[-1] != f"{prefix}_Certif"):
        workspace.status_log.append(f"{prefix}_Certif", key, clock.now(workspace.settings))
        appended = True
    return CertifyResult(tuple(wanted), undecided, tuple(flagged), appended)


def _reject_virtuals(workspace: Workspace, mode: str, day: date, rejected: list[str]) -> list[str]:
    """Remove the rejected ABs' VCAL headers; flag the ABs that used them; return those ABs."""
    if not rejected:
        return []
    key = day.isoformat()
    for name in rejected:
        ab = parse((workspace.ab_dir / name).read_text(encoding="utf-8"), name)
        for vcal in sorted((workspace.vcal_dir / ab.date).glob(f"{ab.prod_root}_*.hdr")):
            vcal.unlink()
    flagged: list[str] = []
    lines = []
    for path in sorted(workspace.ab_dir.glob("*.ab")):
        try:
            ab = parse(path.read_text(encoding="utf-8"), str(path))
        except FormatError:
            continue
        users = sorted({c.producer for c in ab.mcalib if c.virtual and c.producer in rejected})
        if users:
            flagged.append(ab.name)
            lines += [f"{ab.name} used a virtual product of {producer}, which was rejected" for producer in users]
    target = workspace.mon_dir / f"reassociate_{mode}_{key}"
    old = target.read_text(encoding="utf-8").splitlines() if target.is_file() else []
    write_text_atomic(target, "\n".join(dict.fromkeys([*old, *lines])) + ("\n" if lines or old else ""))
    return flagged
