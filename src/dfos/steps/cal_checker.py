"""calChecker: which calibrations are due or missing, per calibration type and instrument setup.

The *calibration plan* comes from the association rules (:func:`dfos.steps.create_ab.rules_of`): every
``select file as ... from calibFiles where DO.CATG == "X" ... using ... within A, B, C days`` says that a
calibration of type X is needed, matched on the keys its ``inputFile.K == K`` comparisons name (the *setup*),
and valid for A days at the best quality level and C days at most.  Per type the strictest first window
(``due``) and the widest last window (``valid``) over all selects count; selects without a window (static
calibrations) need no check.

The *last date taken* comes from the calibration memory: certified masters (``$DFO_CAL_DIR/MCAL/<DATE>``)
and virtual products of ABs not yet certified (``$DFO_CAL_DIR/VCAL/<DATE>``: the raw calibrations were
taken that night), every date folder, not only the newest ``N_MCAL_LIST``.  Per type and setup the newest
date folder counts.

A type and setup is ``ok`` when its last date is at most ``due`` days before TODAY, ``due`` when at most
``valid`` days (createAB still finds it, at a lower quality level), ``missing`` when older or never
taken (a type with no entry at all is listed with setup ``-``).

``dfos cal-checker`` writes the result to ``$DFO_MON_DIR/CAL_CHECKER`` atomically (cron: every half hour)::

    # calChecker UVES 2013-02-13T14:00:00 TODAY=2013-02-12
    # CATG<TAB>SETUP<TAB>LAST<TAB>MEMORY<TAB>AGE_DAYS<TAB>DUE_DAYS<TAB>VALID_DAYS<TAB>STATUS
    MASTER_BIAS_BLUE<TAB>DET.CHIPS=1 DET.WIN1.BINX=1<TAB>2013-02-12<TAB>MCAL<TAB>0<TAB>1<TAB>30<TAB>ok

(``-`` for an empty field).  The monitor's calChecker panel reads this file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from dfos import clock
from dfos.dates import dfo_date, format_timestamp
from dfos.errors import DfosError
from dfos.fsutil import write_text_atomic
from dfos.oca.syntax import And, Compare, Condition, Key, Literal, Not, Or, RuleSet
from dfos.workspace import Workspace

__all__ = ["CAL_CHECKER", "STATUSES", "CalCheck", "CalCheckerReport", "Validity", "calibration_plan", "check",
           "read_cal_checker", "render", "run_cal_checker"]

#: The result file in ``$DFO_MON_DIR``.
CAL_CHECKER = "CAL_CHECKER"
#: The states, worst last.
STATUSES = ("ok", "due", "missing")
_COLUMNS = ("CATG", "SETUP", "LAST", "MEMORY", "AGE_DAYS", "DUE_DAYS", "VALID_DAYS", "STATUS")


@dataclass(frozen=True)
class Validity:
    """What the rules say of one calibration type."""

    catg: str
    due_days: float
    """The strictest first window: older than this, the best quality level is no longer met."""
    valid_days: float
    """The widest last window: older than this, createAB finds none."""
    setup_keys: tuple[str, ...]
    """The keys a calibration of this type is matched on (its setup)."""


@dataclass(frozen=True)
class CalCheck:
    catg: str
    setup: str
    last: str | None
    """The newest date folder holding one (None: never)."""
    memory: str
    """``MCAL`` or ``VCAL`` (where the newest is), '' for none."""
    age_days: int | None
    due_days: float
    valid_days: float
    status: str


@dataclass(frozen=True)
class CalCheckerReport:
    when: str
    today: str
    instrument: str
    checks: tuple[CalCheck, ...]

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in STATUSES}


def _items(condition: Condition) -> Iterator[Condition]:
    if isinstance(condition, And):
        for item in condition.items:
            yield from _items(item)
    else:
        yield condition


def _catg_of(condition: Condition) -> str | None:
    """The DO.CATG a condition requires with a top-level ``DO.CATG == "X"`` (None: no single one)."""
    for item in _items(condition):
        if isinstance(item, Compare) and item.op == "==":
            for key, value in ((item.left, item.right), (item.right, item.left)):
                if isinstance(key, Key) and not key.of_input and key.name == "DO.CATG" \
                        and isinstance(value, Literal) and isinstance(value.value, str):
                    return value.value
    return None


def _setup_keys(condition: Condition) -> list[str]:
    """The keys of its ``inputFile.K == K`` comparisons."""
    keys = []
    for item in _items(condition):
        if isinstance(item, (Or, Not)) or not isinstance(item, Compare) or item.op != "==":
            continue
        left, right = item.left, item.right
        if isinstance(left, Key) and isinstance(right, Key) and left.of_input != right.of_input \
                and left.name == right.name:
            keys.append(left.name)
    return keys


def calibration_plan(rules: RuleSet) -> dict[str, Validity]:
    """Calibration type -> its validity, from every select of the calibration memory with windows."""
    found: dict[str, Validity] = {}
    for action in rules.actions.values():
        for select in action.selects:
            catg = _catg_of(select.condition) if select.pool == "calibFiles" else None
            if catg is None or not select.windows:
                continue
            keys = _setup_keys(select.condition)
            old = found.get(catg)
            if old is None:
                found[catg] = Validity(catg, select.windows[0], select.windows[-1], tuple(keys))
                continue
            merged = tuple(dict.fromkeys([*old.setup_keys, *keys]))
            found[catg] = Validity(catg, min(old.due_days, select.windows[0]),
                                   max(old.valid_days, select.windows[-1]), merged)
    return dict(sorted(found.items()))


def _setup(header: Mapping[str, object], keys: Iterable[str]) -> str:
    return " ".join(f"{k}={str(header.get(k, '-')).replace(' ', '_')}" for k in keys) or "-"


def _newest(workspace: Workspace, plan: dict[str, Validity],
            today: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(type, setup) -> (newest date folder up to TODAY, MCAL or VCAL)."""
    from dfos.headers.io import read_header

    newest: dict[tuple[str, str], tuple[str, str]] = {}
    for kind in ("MCAL", "VCAL"):
        base = workspace.cal_dir / kind
        folders = sorted(p.name for p in base.iterdir() if p.is_dir() and len(p.name) == 10) if base.is_dir() else []
        for folder in folders:
            if folder > today:
                continue
            for path in sorted((base / folder).glob("*.hdr")):
                if not path.is_file():
                    continue
                try:
                    header = dict(read_header(path).cards)
                except (DfosError, OSError, ValueError):
                    continue
                catg = str(header.get("PRO.CATG") or header.get("DO.CATG") or "")
                if catg not in plan:
                    continue
                key = (catg, _setup(header, plan[catg].setup_keys))
                if key not in newest or newest[key][0] < folder:
                    newest[key] = (folder, kind)
    return newest


def _status(age: int | None, rule: Validity) -> str:
    if age is None or age > rule.valid_days:
        return "missing"
    return "ok" if age <= rule.due_days else "due"


def check(workspace: Workspace, rules: RuleSet | None = None, today: date | None = None) -> CalCheckerReport:
    """The calChecker of the workspace (see the module docstring); ``today`` defaults to TODAY's DFO date."""
    from dfos.steps.create_ab import rules_of

    now = clock.now(workspace.settings)
    day = today or dfo_date(now, workspace.settings.DFO_OFFSET)
    plan = calibration_plan(rules if rules is not None else rules_of(workspace))
    newest = _newest(workspace, plan, day.isoformat())
    checks = []
    for catg, rule in plan.items():
        setups = sorted((setup, found) for (c, setup), found in newest.items() if c == catg)
        if not setups:
            checks.append(CalCheck(catg, "-", None, "", None, rule.due_days, rule.valid_days, "missing"))
        for setup, (last, kind) in setups:
            age = (day - date.fromisoformat(last)).days
            checks.append(CalCheck(catg, setup, last, kind, age, rule.due_days, rule.valid_days, _status(age, rule)))
    order = {s: i for i, s in enumerate(reversed(STATUSES))}
    checks.sort(key=lambda c: (order[c.status], c.catg, c.setup))
    return CalCheckerReport(format_timestamp(now), day.isoformat(), workspace.settings.INSTRUMENT, tuple(checks))


def _number(value: float) -> str:
    return f"{value:g}"


def render(report: CalCheckerReport) -> str:
    lines = [f"# calChecker {report.instrument} {report.when} TODAY={report.today}", "# " + "\t".join(_COLUMNS)]
    for c in report.checks:
        lines.append("\t".join([c.catg, c.setup, c.last or "-", c.memory or "-",
                                "-" if c.age_days is None else str(c.age_days), _number(c.due_days),
                                _number(c.valid_days), c.status]))
    return "\n".join(lines) + "\n"


def run_cal_checker(workspace: Workspace) -> tuple[CalCheckerReport, Path]:
    """Check and write ``$DFO_MON_DIR/CAL_CHECKER`` (atomically)."""
    report = check(workspace)
    target = workspace.mon_dir / CAL_CHECKER
    write_text_atomic(target, render(report))
    return report, target


def _row(fields: list[str]) -> CalCheck | None:
    if len(fields) != len(_COLUMNS) or fields[7] not in STATUSES:
        return None
    try:
        age = None if fields[4] == "-" else int(fields[4])
        due, valid = float(fields[5]), float(fields[6])
    except ValueError:
        return None
    return CalCheck(fields[0], fields[1], None if fields[2] == "-" else fields[2],
                    "" if fields[3] == "-" else fields[3], age, due, valid, fields[7])


def read_cal_checker(workspace: Workspace, limit: int = 2_000_000) -> CalCheckerReport | None:
    """The last result (None: never run, or unreadable); malformed lines are skipped."""
    path = workspace.mon_dir / CAL_CHECKER
    try:
        with path.open("rb") as handle:
            text = handle.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = text.splitlines()
    head = lines[0].split() if lines and lines[0].startswith("# calChecker") else []
    if len(head) < 5:
        return None
    checks = tuple(row for line in lines[1:] if line and not line.startswith("#")
                   if (row := _row(line.split("\t"))) is not None)
    return CalCheckerReport(head[3], head[4].removeprefix("TODAY="), head[2], checks)


def age_seconds(report: CalCheckerReport, now: datetime) -> float | None:
    try:
        return (now - datetime.fromisoformat(report.when)).total_seconds()
    except ValueError:
        return None
