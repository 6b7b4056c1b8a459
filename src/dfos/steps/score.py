"""Scoring (DFOS scoreQC) and automatic certification.

The instrument's thresholds come from ``$DFO_CONFIG_DIR/thresholds_<INSTRUMENT>.toml``, else from
the file dfos ships (``dfos/qc/thresholds/<INSTRUMENT>.toml``).  Every QC1 parameter of the ABs is
scored (0 green, 1 red, NULL grey) with the limits that applied; each AB gets its summary in
``ab_qc`` (scored, red, verdict).  An AB whose verdict is green is certified automatically (a row
``certified`` by ``auto`` in ``certifications``); an automatic certification is withdrawn
(``pending`` by ``auto``) when a re-score turns the AB red or grey.  A person's decision is never
changed by scoring.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from dfos import clock
from dfos.dates import format_timestamp
from dfos.db import ab_qc, certifications, engine_for_url, qc1_params
from dfos.qc.scoring import Threshold, find_threshold, limits, load_thresholds, parse_thresholds, score, verdict
from dfos.workspace import Workspace

__all__ = ["AUTO", "ScoreResult", "latest_decisions", "score_abs", "score_date", "threshold_file", "thresholds"]

#: Who certifies when scoring does.
AUTO = "auto"


@dataclass(frozen=True)
class ScoreResult:
    abs: tuple[str, ...]
    verdicts: dict[str, str]
    """AB -> green | red | grey."""
    summaries: dict[str, str]
    """AB -> ``<red>/<scored>`` (DFOS's ``result: 0/75``)."""
    certified: tuple[str, ...]
    """ABs certified automatically by this scoring."""
    withdrawn: tuple[str, ...]
    """ABs whose automatic certification this scoring withdrew."""


def threshold_file(workspace: Workspace) -> Path:
    """The workspace's own threshold file (it may not exist: the shipped one applies)."""
    return workspace.path("DFO_CONFIG_DIR") / f"thresholds_{workspace.settings.INSTRUMENT}.toml"


def thresholds(workspace: Workspace) -> list[Threshold]:
    """The thresholds in force (read again whenever the file changes)."""
    own = threshold_file(workspace)
    try:
        stamp = own.stat()
        return _read_thresholds(str(own), stamp.st_mtime_ns, stamp.st_size)
    except FileNotFoundError:
        return _shipped_thresholds(workspace.settings.INSTRUMENT)


@functools.lru_cache(maxsize=8)
def _read_thresholds(path: str, _mtime_ns: int, _size: int) -> list[Threshold]:
    return load_thresholds(Path(path))


@functools.cache
def _shipped_thresholds(instrument: str) -> list[Threshold]:
    shipped = files("dfos.qc.thresholds").joinpath(f"{instrument}.toml")
    return parse_thresholds(shipped.read_text(encoding="utf-8"), str(shipped)) if shipped.is_file() else []


def latest_decisions(db: Connection, names: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
    """AB -> (decision, by) of its newest certification row."""
    newest = select(certifications.c.ab, func.max(certifications.c.id).label("id")).group_by(certifications.c.ab)
    if names is not None:
        newest = newest.where(certifications.c.ab.in_(list(names)))
    sub = newest.subquery()
    rows = db.execute(select(certifications.c.ab, certifications.c.decision, certifications.c.by)
                      .join(sub, certifications.c.id == sub.c.id))
    return {r.ab: (r.decision, r.by) for r in rows}


def _certified_history(db: Connection, name: str, pro_catg: str, setup: str, before: float, last: int) -> list[float]:
    """Values of certified products (newest decision ``certified``) before ``before`` (MJD), oldest first."""
    newest = (select(certifications.c.ab, func.max(certifications.c.id).label("id"))
              .group_by(certifications.c.ab).subquery())
    certified = (select(certifications.c.ab).join(newest, certifications.c.id == newest.c.id)
                 .where(certifications.c.decision == "certified"))
    rows = db.execute(
        select(qc1_params.c.value).where(
            qc1_params.c.name == name, qc1_params.c.pro_catg == pro_catg, qc1_params.c.setup == setup,
            qc1_params.c.mjd_obs < before, qc1_params.c.value.is_not(None), qc1_params.c.ab.in_(certified))
        .order_by(qc1_params.c.mjd_obs.desc()).limit(last))
    return [float(v) for v in reversed(rows.scalars().all())]


_SET_SCORE = (update(qc1_params).where(qc1_params.c.id == bindparam("p_id"))
              .values(score=bindparam("p_score"), low=bindparam("p_low"), high=bindparam("p_high"),
                      method=bindparam("p_method")))


def score_abs(workspace: Workspace, names: list[str], connection: Connection | None = None) -> ScoreResult:
    """Score the ABs' stored parameters, summarise each AB, certify green ones automatically (in the
    caller's transaction if given, else in one of its own)."""
    if connection is None:
        with engine_for_url(workspace.db_url).begin() as db:
            return score_abs(workspace, names, db)
    db = connection
    rules = thresholds(workspace)
    now = format_timestamp(clock.now(workspace.settings))
    verdicts: dict[str, str] = {}
    summaries: dict[str, str] = {}
    certified: list[str] = []
    withdrawn: list[str] = []
    params = db.execute(select(qc1_params).where(qc1_params.c.ab.in_(names))
                        .order_by(qc1_params.c.mjd_obs, qc1_params.c.id)).mappings().all()
    by_ab: dict[str, list[int | None]] = {name: [] for name in names}
    updates = []
    for row in params:
        rule = find_threshold(rules, row["name"], row["pro_catg"], row["setup"])
        bounds = None
        if rule is not None and row["value"] is not None:
            history = [] if rule.method == "fixed" else _certified_history(
                db, row["name"], row["pro_catg"], row["setup"], row["mjd_obs"], rule.last)
            bounds = limits(rule, history)
        result = score(row["value"], bounds)
        by_ab[row["ab"]].append(result)
        updates.append({"p_id": row["id"], "p_score": result, "p_low": bounds.low if bounds else None,
                        "p_high": bounds.high if bounds else None, "p_method": bounds.method if bounds else None})
    if updates:
        db.execute(_SET_SCORE, updates)
    decisions = latest_decisions(db, names)
    known = set(db.execute(select(ab_qc.c.ab).where(ab_qc.c.ab.in_(names))).scalars())
    for name in names:
        if name not in known:
            continue
        scored, red, outcome = verdict(by_ab[name])
        verdicts[name], summaries[name] = outcome, f"{red}/{scored}"
        db.execute(update(ab_qc).where(ab_qc.c.ab == name)
                   .values(n_scored=scored, n_red=red, verdict=outcome, updated=now))
        decision, by = decisions.get(name, ("", ""))
        if outcome == "green" and (not decision or (by == AUTO and decision != "certified")):
            db.execute(insert(certifications).values(ab=name, decision="certified", by=AUTO, at=now,
                                                     comment=f"all {scored} scores green"))
            certified.append(name)
        elif outcome != "green" and by == AUTO and decision == "certified":
            db.execute(insert(certifications).values(ab=name, decision="pending", by=AUTO, at=now,
                                                     comment=f"re-scored {outcome}: {red}/{scored} red"))
            withdrawn.append(name)
    return ScoreResult(tuple(n for n in names if n in verdicts), verdicts, summaries, tuple(certified),
                       tuple(withdrawn))


def score_date(workspace: Workspace, day: date) -> ScoreResult:
    """Re-score every AB of a date that has QC (``dfos score -d DATE``), in time order so statistical
    thresholds see the earlier ABs' decisions."""
    with engine_for_url(workspace.db_url).begin() as db:
        names = list(db.execute(select(ab_qc.c.ab).where(and_(ab_qc.c.date == day.isoformat()))
                                .order_by(ab_qc.c.ab)).scalars())
    return score_abs(workspace, names)
