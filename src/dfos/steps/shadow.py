"""Shadow mode: a new installation processes every date its reference processes, and compares.

``dfos shadow --reference OLD``, run in the new workspace (by hand or from cron), takes each DFO date the
reference has processed (``cal_QC`` in its DFO_STATUS, a past date, on or after the transition date) and
the new workspace has not shadowed yet, processes it here as autoDaily would (header intake, createAB,
the cascade, QC: never certify, move or ingest), and compares the two installations for that date
(:func:`dfos.steps.compare.compare_workspaces`).  The reference is only read: its configuration, its
DFO_STATUS (shared locks, no lock files), its ABs, products and database (read-only).

What shadow mode keeps, under ``$DFO_MON_DIR/SHADOW`` (docs/migration.md):

``SHADOW.conf``
    ``reference = /path/of/OLD`` and ``transition = YYYY-MM-DD``: written by the first run.
``SHADOW_LOG``
    one line per compared date: ``<timestamp> <DATE> agree|differ <differences>``; the newest line of a
    date counts.
``compare_<DATE>.txt|.json|.html``
    the compare report of the date.
``TAKEOVER``
    ``<timestamp> <reference root>``: ``dfos cron install --apply`` moved the autoDaily line here
    (the operations phase); shadow mode is over.

The installation is *ready* when the newest ``SHADOW_READY_DATES`` compared dates (in date order) all
agree.  The phases of ESO's migration plan (baseline, verification, commissioning, operations) are
derived from these files by :func:`phases` for the monitor's migration page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from dfos import clock
from dfos.dates import format_timestamp, parse_date, parse_timestamp
from dfos.errors import DfosError, InvalidDate, StateError, UsageError
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.keys import Mode, Stage, mode_flag
from dfos.status.machine import flags_by_key
from dfos.workspace import CONFIG_FILE, Workspace, open_workspace

__all__ = [
    "Phase",
    "ShadowEntry",
    "ShadowResult",
    "ShadowState",
    "check_takeover",
    "phases",
    "read_state",
    "record_takeover",
    "reference_dates",
    "reference_root_of",
    "shadow",
    "shadow_dir",
]

CONF = "SHADOW.conf"
LOG = "SHADOW_LOG"
TAKEOVER = "TAKEOVER"
PROCESSED = "PROCESSED"


def shadow_dir(workspace: Workspace) -> Path:
    """``$DFO_MON_DIR/SHADOW``: everything shadow mode keeps."""
    return workspace.mon_dir / "SHADOW"


@dataclass(frozen=True)
class ShadowEntry:
    """One compared date: the newest ``SHADOW_LOG`` line of the date."""

    when: datetime
    key: str
    agree: bool
    differences: int


@dataclass(frozen=True)
class ShadowState:
    """Shadow mode as its files describe it (pure data; :func:`read_state` reads it)."""

    reference: str | None
    transition: str | None
    entries: tuple[ShadowEntry, ...]  # one per date, in date order
    ready_after: int
    took_over: str | None  # the TAKEOVER line: the autoDaily line moved here

    @property
    def streak(self) -> int:
        """Compared dates that agree, counted back from the newest one."""
        count = 0
        for entry in reversed(self.entries):
            if not entry.agree:
                break
            count += 1
        return count

    @property
    def ready(self) -> bool:
        """The newest ``ready_after`` compared dates all agree: the new installation may take over."""
        return self.streak >= self.ready_after


def parse_log(text: str) -> tuple[ShadowEntry, ...]:
    """The ``SHADOW_LOG`` lines, the newest per date, in date order; malformed lines are skipped."""
    newest: dict[str, ShadowEntry] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[2] not in ("agree", "differ") or not parts[3].isdigit():
            continue
        try:
            when, key = parse_timestamp(parts[0]), parse_date(parts[1]).isoformat()
        except (InvalidDate, ValueError):
            continue
        newest[key] = ShadowEntry(when, key, parts[2] == "agree", int(parts[3]))
    return tuple(newest[key] for key in sorted(newest))


def parse_conf(text: str) -> dict[str, str]:
    """``name = value`` lines (``#`` comments)."""
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[name.strip()] = value.strip()
    return values


def read_state(workspace: Workspace) -> ShadowState:
    """Shadow mode of this workspace (nothing recorded: no reference, no entries)."""
    folder = shadow_dir(workspace)
    conf = parse_conf(_text(folder / CONF))
    takeover = _text(folder / TAKEOVER).strip() or None
    return ShadowState(conf.get("reference"), conf.get("transition"), parse_log(_text(folder / LOG)),
                       workspace.settings.SHADOW_READY_DATES, takeover)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


# --- the phases of the migration plan -------------------------------------------------------------------

@dataclass(frozen=True)
class Phase:
    """One phase of ESO's migration plan, as the migration page shows it."""

    name: str
    state: str  # done | current | todo
    command: str
    detail: str


def phases(state: ShadowState, baseline: bool, reference: str = "OLD", here: str = "NEW") -> list[Phase]:
    """The four phases with their state.  ``baseline``: this workspace was set up from the reference
    (``dfos migrate setup``, then ``migrate -I``)."""
    ref = state.reference or reference
    compared = len(state.entries)
    verification_done = (compared > 0 and state.entries[-1].agree) or state.ready
    steps = [
        ("baseline", baseline,
         f"dfos migrate setup {ref} {here}; dfos migrate -I {ref} {here}",
         "the new workspace made from the old one; recent data copied (no FITS)"),
        ("verification", verification_done,
         f"dfos shadow --reference {ref} --since DATE",
         (f"transition date {state.transition}; " if state.transition else "choose a transition date; ")
         + f"{compared} date(s) compared"),
        ("commissioning", state.ready or state.took_over is not None,
         f"dfos shadow --reference {ref}",
         f"{state.streak} of {state.ready_after} consecutive dates agree"
         + (": ready to take over" if state.ready else "")),
        ("operations", state.took_over is not None,
         "dfos cron install --apply",
         f"autoDaily runs here since {state.took_over.split()[0]}" if state.took_over
         else "the autoDaily line moves here from the reference; then dfos cleanup -E"),
    ]
    result, current_given = [], False
    for name, done, command, detail in steps:
        if done:
            result.append(Phase(name, "done", command, detail))
        elif not current_given:
            result.append(Phase(name, "current", command, detail))
            current_given = True
        else:
            result.append(Phase(name, "todo", command, detail))
    return result


# --- the reference ------------------------------------------------------------------------------------

def open_reference(workspace: Workspace, root: Path) -> Workspace:
    """The reference workspace, opened to be read; refused when it is this workspace or shares its
    database."""
    root = root.expanduser()
    if not (root / CONFIG_FILE).is_file():
        raise UsageError(f"--reference {root} is not a dfos workspace (no {CONFIG_FILE})")
    reference = open_workspace(root.resolve(), env={})
    if reference.root == workspace.root:
        raise UsageError(f"--reference {root} is this workspace: shadow mode compares two installations")
    if reference.db_url == workspace.db_url:
        raise StateError(f"this workspace and the reference {reference.root} use the same database: shadow runs "
                         "would overwrite the reference's QC1 values and scores; give this workspace its own DB_URL")
    return reference


def reference_dates(reference: Workspace, today: date) -> list[str]:
    """The DFO dates the reference has processed (``cal_QC``), before ``today``."""
    done = mode_flag(Mode.CALIB, Stage.QC)
    keys = []
    for key, flags in flags_by_key(reference.status_log.read()).items():
        try:
            day = parse_date(key)
        except InvalidDate:
            continue  # a phoenix run or project: not a night autoDaily processes
        if done in flags and day < today:
            keys.append(day.isoformat())
    return sorted(keys)


def _remember(workspace: Workspace, reference: Workspace, since: date | None, candidates: list[str]) -> str:
    """Write ``SHADOW.conf`` on the first run; later runs must name the same reference.  The transition
    date: ``since``, else the newest date the reference processed (shadow mode starts from now on)."""
    folder = shadow_dir(workspace)
    conf = parse_conf(_text(folder / CONF))
    known = conf.get("reference")
    if known and Path(known) != reference.root:
        raise UsageError(f"this workspace shadows {known}, not {reference.root}; remove {folder / CONF} to shadow "
                         "another installation")
    transition = since.isoformat() if since else conf.get("transition") or (candidates[-1] if candidates else "")
    if not transition:
        raise StateError(f"the reference {reference.root} has processed no date yet (no cal_QC in its DFO_STATUS); "
                         "nothing to shadow")
    if conf != {"reference": str(reference.root), "transition": transition}:
        write_text_atomic(folder / CONF, "# dfos shadow mode (docs/migration.md)\n"
                                         f"reference = {reference.root}\ntransition = {transition}\n")
    return transition


@dataclass
class ShadowResult:
    """What one shadow run did: the dates it processed and compared, and how each compared."""

    transition: str
    compared: list[ShadowEntry]
    state: ShadowState

    @property
    def agree(self) -> bool:
        return all(entry.agree for entry in self.compared)


Say = Callable[[str], None]


def shadow(workspace: Workspace, reference_root: Path, since: date | None = None,
           dates: Sequence[date] = (), say: Say | None = None) -> ShadowResult:
    """One shadow run; see the module docstring.  ``dates`` compares these dates again (after a fix) even when
    compared before; without it, only the dates not compared yet."""
    say = say or (lambda _message: None)
    reference = open_reference(workspace, reference_root)
    state = read_state(workspace)
    if state.took_over:
        raise StateError(f"this installation took over from its reference ({state.took_over}): shadow mode is "
                         "over; autoDaily runs here")
    today = clock.today(workspace.settings)
    candidates = reference_dates(reference, today)
    folder = shadow_dir(workspace)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive_lock(folder / ".lock", wait=0.0):
            return _run(workspace, reference, since, dates, candidates, say)
    except BlockingIOError:
        raise StateError(f"another 'dfos shadow' runs in this workspace ({folder}); this one stops") from None


def _run(workspace: Workspace, reference: Workspace, since: date | None, dates: Sequence[date],
         candidates: list[str], say: Say) -> ShadowResult:
    transition = _remember(workspace, reference, since, candidates)
    done = {entry.key for entry in read_state(workspace).entries}
    wanted = {day.isoformat() for day in dates}
    unknown = sorted(wanted - set(candidates))
    if unknown:
        raise UsageError(f"the reference has not processed {', '.join(unknown)} (no cal_QC before today): "
                         "nothing to compare")
    todo = sorted(key for key in candidates if (key >= transition and key not in done) or key in wanted)
    if not todo:
        say(f"nothing to shadow: every date the reference processed since {transition} is compared")
    compared = [_shadow_date(workspace, reference, key, say) for key in todo]
    return ShadowResult(transition, compared, read_state(workspace))


def _shadow_date(workspace: Workspace, reference: Workspace, key: str, say: Say) -> ShadowEntry:
    """Process one date here as autoDaily does, compare it with the reference, and log the result."""
    from dfos.steps.auto_daily import auto_daily
    from dfos.steps.compare import compare_workspaces, render_html, render_text

    day = parse_date(key)
    if key not in _processed(workspace):
        aside = fresh_start(workspace, key)
        if aside:
            say(f"{key}: {aside} file(s) copied from the reference (dfos migrate) set aside in "
                f"{shadow_dir(workspace) / 'copied' / key}: the date is processed here afresh")
        say(f"{key}: processing as the reference did (autoDaily: no certification, no ingestion)")
        try:
            auto_daily(workspace, dates=[day], say=say)
        except DfosError as exc:
            raise StateError(f"{key}: shadow processing failed: {exc.message}") from exc
        _append(shadow_dir(workspace) / PROCESSED, f"{key}\n")
    report = compare_workspaces(reference, workspace, keys=[key], mode=Mode.CALIB)
    folder = shadow_dir(workspace)
    write_text_atomic(folder / f"compare_{key}.txt", render_text(report))
    write_text_atomic(folder / f"compare_{key}.json", json.dumps(report.to_dict(), indent=1) + "\n")
    write_text_atomic(folder / f"compare_{key}.html", render_html(report))
    from dfos.qc.compare import Kind

    # shadow mode never certifies: the reference's decisions are no difference (they are listed in the report)
    counted = [d for d in report.differences if d.kind is not Kind.CERTIFICATION]
    entry = ShadowEntry(clock.now(workspace.settings), key, not counted, len(counted))
    _append(folder / LOG, f"{format_timestamp(entry.when)} {key} {'agree' if entry.agree else 'differ'} "
                          f"{entry.differences}\n")
    say(f"{key}: " + ("agrees with the reference" if entry.agree
                      else f"differs from the reference: {entry.differences} difference(s), "
                           f"see {folder / f'compare_{key}.txt'}"))
    return entry


def _processed(workspace: Workspace) -> set[str]:
    """The dates shadow mode processed here itself (``PROCESSED``)."""
    return {line.strip() for line in _text(shadow_dir(workspace) / PROCESSED).splitlines() if line.strip()}


def fresh_start(workspace: Workspace, key: str) -> int:
    """A date this workspace holds from elsewhere (``dfos migrate`` copied the reference's AB lists, ABs, job
    files and QC1 rows) is processed afresh, as the 2013 plan asks ("delete all previously executed ABs for that
    date"): its AB lists, AB files with their logs and its execution files go to ``SHADOW/copied/<DATE>/``
    (nothing is lost), its database rows (copies of the reference's) are removed.  Returns the files set aside."""
    from sqlalchemy import delete

    from dfos.ab.lists import read_ab_list
    from dfos.db import ab_qc, ab_runs, engine_for_url, qc1_params
    from dfos.keys import BatchId

    aside = shadow_dir(workspace) / "copied" / key
    moved, batches, names = 0, [], set()
    for mode in (Mode.CALIB, Mode.SCIENCE):
        batch = BatchId.of(mode, key).render()
        listing = workspace.ab_list(mode, key)
        files = [workspace.job_dir / f"{kind}_{batch}" for kind in ("execAB", "execQC", "rawDown", "mcalDown")]
        if listing.is_file():
            batches.append(batch)
            for entry in read_ab_list(listing):
                names.add(entry.name)
                stem = entry.name.removesuffix(".ab")
                files += [p for p in workspace.ab_dir.glob(f"*{stem}*") if p.is_file()]
            files.append(listing)
        for path in files:
            if path.is_file():
                aside.mkdir(parents=True, exist_ok=True)
                path.replace(aside / path.name)
                moved += 1
    if batches:
        with engine_for_url(workspace.db_url).begin() as db:
            for table in (qc1_params, ab_qc, ab_runs):
                db.execute(delete(table).where(table.c.batch_id.in_(batches)))
    return moved


def _append(path: Path, line: str) -> None:
    """Append a line atomically under the file's lock (the log is rewritten whole, never half)."""
    with exclusive_lock(path.with_name(f".{path.name}.lock")):
        write_text_atomic(path, _text(path) + line)


def check_takeover(workspace: Workspace) -> str | None:
    """Before ``dfos cron install --apply``: the reference whose autoDaily line moves here (None: this workspace
    shadows nothing, or took over already); refused while shadow mode is not ready."""
    state = read_state(workspace)
    if state.reference is None or state.took_over:
        return None
    if not state.ready:
        raise StateError(f"this installation shadows {state.reference} and is not ready to take over: "
                         f"{state.streak} of {state.ready_after} consecutive compared dates agree "
                         "(dfos shadow --status); shadow more dates first")
    return state.reference


def record_takeover(workspace: Workspace) -> None:
    """The ``TAKEOVER`` line: autoDaily runs here now (the operations phase); shadow mode is over."""
    state = read_state(workspace)
    if state.reference is not None and not state.took_over:
        write_text_atomic(shadow_dir(workspace) / TAKEOVER,
                          f"{format_timestamp(clock.now(workspace.settings))} {state.reference}\n")


def reference_root_of(workspace: Workspace) -> Path | None:
    """The reference recorded in ``SHADOW.conf``."""
    found = read_state(workspace).reference
    return Path(found) if found else None

