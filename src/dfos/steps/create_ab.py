"""createAB: a date's headers to Association Blocks, virtual calibrations, AB list and ``cal_AB``.

Files written (all atomically):

* ``$DFO_AB_DIR/<AB>`` and ``$DFO_AB_DIR/<AB stem>.alog`` (why each input was chosen); each AB holds its
  CONTENT_KEY (:mod:`dfos.ab.content`, computed parents first by :mod:`dfos.steps.content_keys`);
* ``$DFO_CAL_DIR/VCAL/<DATE>/<product stem>.hdr`` for each product of a COMPLETE CALIB AB (SCIENCE
  products never enter the calibration memory);
* ``$DFO_MON_DIR/AB_list_<MODE>_<DATE>``, ``$DFO_MON_DIR/LAST_AB``;
* ``$DFO_MON_DIR/assoc_<MODE>_<DATE>.log``: orphans, unreadable headers, a summary;
* ``$DFO_MON_DIR/.esorex_recipes``: the recipes esorex lists (a cache; an AB whose recipe is missing is INCOMPLETE);
* ``cal_AB`` (CALIB) or ``sci_AB`` (SCIENCE) in DFO_STATUS.

Names from data are never paths: a frame whose ARCFILE is not a safe file name
(:func:`dfos.naming.safe_name`), and an AB whose name, RAW_TYPE or product names are not, is
refused (``REFUSED`` in the association log, a warning on the command line); every file written
is checked to stay in its directory (:func:`dfos.naming.confined`).  A frame whose MJD-OBS or
EXPTIME is absurd (see :data:`BOUNDS`) is refused the same way, rather than dated absurdly.

Certified masters of an open raw2raw window's dates, and those a release hides, are not associated (read once
per run: :func:`dfos.steps.release.memory_policy`); the association log of an AB that would have chosen
among them names them (docs/releases.md).

Incremental: an AB tagged DONE in the AB list is never touched; an existing AB
whose association is unchanged keeps its file (and status); a FAILED one is
re-created; a changed one is rewritten as CREATED.  That policy is decided by a pure function
(:func:`dfos.ab.update.plan_update`); this step associates, then carries out its plan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from dfos import clock
from dfos.ab.format import check, render
from dfos.ab.lists import ab_list_lock, read_ab_list, write_ab_list
from dfos.ab.model import AB, Completeness
from dfos.ab.store import read_ab_file
from dfos.ab.update import Supersession, UpdatePlan, calib_inputs, freeze, plan_update, reassociated
from dfos.association.classify import Classifier
from dfos.association.engine import AssociationResult, Planned, associate
from dfos.association.explain import explain_lines
from dfos.association.frames import Frame
from dfos.association.organise import Group
from dfos.dates import format_timestamp
from dfos.errors import DfosError, FormatError, NotFound, StateError, UnsafeName, UsageError
from dfos.fsutil import exclusive_lock, write_if_changed, write_text_atomic
from dfos.headers.io import read_header
from dfos.instruments.inventory import cached_esorex_recipes
from dfos.keys import BatchId, KeyKind, KeyLike, Mode, ProcessingKey, Stage, mode_flag
from dfos.naming import confined, safe_name
from dfos.oca.io import load_rules
from dfos.oca.syntax import RuleSet
from dfos.status.machine import flags_by_key
from dfos.steps.calib_memory import BOUNDS, Skipped, absurd, skip_notes, write_vcals
from dfos.steps.calib_memory import memory as calib_memory
from dfos.steps.chain import rejections
from dfos.steps.content_keys import with_content_keys
from dfos.workspace import Workspace

__all__ = [
    "BOUNDS",
    "CreateResult",
    "create_abs",
    "explain_text",
    "rules_of",
    "supersession_log",
]

_log = logging.getLogger(__name__)

#: The recipes esorex lists, kept in $DFO_MON_DIR until esorex or a pipeline changes: an AB whose
#: recipe is not installed is INCOMPLETE, saying so.
RECIPE_CACHE = ".esorex_recipes"

@dataclass(frozen=True)
class CreateResult:
    """What one createAB run did."""

    date: date
    mode: Mode
    abs: tuple[AB, ...]
    """Every AB of the date and mode, in cascade order (DONE ones included as they are on disk)."""
    written: tuple[str, ...]
    """ABs created or rewritten by this run."""
    unchanged: tuple[str, ...]
    kept_done: tuple[str, ...]
    removed: tuple[str, ...]
    """Stale ABs of this date and mode that no group makes any more."""
    orphans: tuple[tuple[str, str], ...]
    problems: tuple[tuple[str, str], ...]
    """Headers that could not be read."""
    superseded: tuple[str, ...] = ()
    """DONE ABs made again because a better calibration arrived (and the ABs depending on them)."""
    refused: tuple[tuple[str, str], ...] = ()
    """Frames and ABs refused because a name from data is not a safe file name: (name, reason)."""
    key: str = ""
    """The processing key (the date, or a run ID in DEEP mode)."""
    skipped: tuple[str, ...] = ()
    """Certified masters (``<DATE>/<name>``) not offered: a raw2raw window's or hidden by a release."""


def rules_of(workspace: Workspace) -> RuleSet:
    """The rule set configured by ``OCA_RULES`` (relative paths from the workspace root), else the instrument's."""
    paths = workspace.oca_rules() or workspace.instrument.rules_files()
    package = Path(__file__).resolve().parents[1]

    def label(path: Path) -> str:  # stable names in ABs' explanations, wherever dfos is installed
        for base, prefix in ((workspace.root, ""), (package, "dfos/")):
            try:
                return prefix + str(path.resolve().relative_to(base.resolve()))
            except ValueError:
                continue
        return str(path)

    return load_rules(paths, label)


def _bad_header(header: Mapping[str, object], instrument: str, accepted: Collection[str] = ()) -> str | None:
    """Why a raw header cannot take part in association (None: it can); ``accepted`` are the INSTRUME
    values (upper case) of the workspace's instrument besides its name (NACO: ``NAOS+CONICA``)."""
    mjd = header.get("MJD-OBS")
    if isinstance(mjd, bool) or not isinstance(mjd, (int, float)):
        return f"MJD-OBS is {'missing' if mjd is None else repr(mjd)}, not a number: the frame cannot be dated"
    found = header.get("INSTRUME")
    if isinstance(found, str) and found.strip().upper() not in {instrument, *accepted}:
        return f"INSTRUME is {found!r}, this workspace is for {instrument}"
    nexp = header.get("TPL.NEXP")
    if nexp is not None and (isinstance(nexp, bool) or not isinstance(nexp, (int, float))):
        return f"TPL.NEXP is {nexp!r}, not a number"
    return absurd(header)


def _frames(workspace: Workspace, day: date, refused: list[tuple[str, str]],
            only: Collection[str] | None = None) -> tuple[list[Frame], list[tuple[str, str]]]:
    """The date's frames from their headers (``only``: of those header files), and the problems met."""
    folder = workspace.hdr_dir / day.isoformat()
    if not folder.is_dir():
        raise StateError(f"no headers for {day} in {folder}; extract them first with 'dfos headers -d {day}'")

    frames, problems = [], []
    paths = sorted(folder.glob("*.hdr")) if only is None else [folder / name for name in sorted(only)]
    for path in paths:
        try:
            cards = dict(read_header(path).cards)
        except FormatError as exc:
            problems.append((path.name, exc.message))
            continue
        why = _bad_header(cards, workspace.settings.INSTRUMENT, workspace.instrument.instrume_values)
        if why:
            problems.append((path.name, why))
            continue
        try:
            name = safe_name(str(cards.get("ARCFILE") or path.stem + ".fits"), f"ARCFILE of {path.name}")
        except UnsafeName as exc:
            refused.append((path.name, exc.message))
            continue
        frames.append(Frame(name=name, header=cards, path=str(path)))
    return frames, problems


def create_abs(workspace: Workspace, day: date, mode: Mode | str, ahead: int = 0,
                repeat_flag: bool = True) -> CreateResult:
    """Run createAB for a date and mode; see the module docstring.  ``ahead``: the calibration memory holds the
    masters and virtual products of that many days after the date too (phoenix COMPLETE_MODE).

    One run per date and mode at a time: a second one waits for the first to finish.  Each run appends
    ``<mode>_AB``; with ``repeat_flag`` False not when it is the date's newest flag already (phoenix started
    again after a kill between createAB and createJob: the flag would say nothing new).
    """
    mode = Mode.parse(mode)
    with exclusive_lock(ab_list_lock(workspace.ab_list(mode, day))):
        refused: list[tuple[str, str]] = []
        frames, problems = _frames(workspace, day, refused)
        return _create(workspace, _Source(ProcessingKey.of(day), day, frames, problems, refused, ahead=ahead), mode,
                       repeat_flag)


def create_run_abs(workspace: Workspace, run: KeyLike) -> CreateResult:
    """DEEP mode (``phoenix -r RUN_ID -C``): the run's SCIENCE ABs, one per target and setup, combining the target's
    science frames of every night of the run whose headers are in ``$DFO_HDR_DIR`` (frames whose OBS.PROG.ID is
    the run) into one AB (:func:`dfos.association.deep.deep_groups`); the batch is ``SCIENCE_<RUN>``.  Their
    calibrations come from the calibration memory as of the run's last night (its nights' certified masters)."""
    from functools import partial

    from dfos.association.deep import deep_groups

    key = ProcessingKey.of(run)
    if key.kind is not KeyKind.RUN:
        raise UsageError(f"{key.text} is not a run ID like 090.C-0456(A)")
    with exclusive_lock(ab_list_lock(workspace.ab_list(Mode.SCIENCE, key))):
        refused: list[tuple[str, str]] = []
        frames, problems, days = _run_frames(workspace, key, refused)
        if not frames:
            raise StateError(f"no science frame of run {key.text} in {workspace.hdr_dir}: take in its nights' headers "
                             f"first ('dfos headers -d DATE', or 'dfos phoenix -d DATE' for each night)")
        regroup = partial(deep_groups, setup_keys=workspace.instrument.setup_keys)
        return _create(workspace, _Source(key, max(days), frames, problems, refused, regroup), Mode.SCIENCE)


@dataclass(frozen=True)
class _Source:
    """What createAB associates: the frames of a processing key, and the day whose calibration memory serves."""

    key: ProcessingKey
    memory_day: date
    frames: list[Frame]
    problems: list[tuple[str, str]]
    refused: list[tuple[str, str]]
    regroup: Callable[[Sequence[Group]], Sequence[Group]] | None = None
    ahead: int = 0
    """Days after ``memory_day`` whose calibrations are offered too."""


def _run_frames(workspace: Workspace, run: ProcessingKey,
                refused: list[tuple[str, str]]) -> tuple[list[Frame], list[tuple[str, str]], list[date]]:
    """The science frames of a run among every date's headers, the problems met, and the dates they lie on (only
    the run's headers are read: :func:`dfos.steps.run_index.runs_of_date`)."""
    from dfos.steps.run_index import run_of, runs_of_date

    frames: list[Frame] = []
    problems: list[tuple[str, str]] = []
    days: list[date] = []
    for day in workspace.date_dirs("DFO_HDR_DIR"):
        names = runs_of_date(workspace, day).get(run.text)
        if not names:
            continue
        found, trouble = _frames(workspace, day, refused, only=names)
        problems += trouble
        mine = [f for f in found if str(f.header.get("DPR.CATG", "")).upper() == "SCIENCE"
                and run_of(f.header.get("OBS.PROG.ID")) == run.text]
        if mine:
            frames += mine
            days.append(day)
    return frames, problems, days


def _create(workspace: Workspace, source: _Source, mode: Mode, repeat_flag: bool = True) -> CreateResult:
    key = source.key.text
    day = source.memory_day
    batch = BatchId.of(mode, source.key).render()
    rules = rules_of(workspace)
    classifier = Classifier(rules.classify)
    refused = source.refused
    frames, problems = source.frames, source.problems
    list_path = workspace.ab_list(mode, source.key)
    done_entries = [entry for entry in read_ab_list(list_path) if entry.done]
    existing = _existing(workspace, batch)
    certified = mode_flag(mode, Stage.CERTIF) in flags_by_key(workspace.status_log.read()).get(key, [])
    frozen = freeze({entry.name for entry in done_entries}, existing, certified)
    settings = workspace.settings
    producers = {c.producer for ab in existing.values() for c in ab.mcalib if c.virtual and c.producer}
    rejected = rejections(workspace, {*existing, *producers})  # offered to no one
    from dfos.steps.release import memory_policy  # (SQLAlchemy: not at import)

    skipped: list[Skipped] = []  # certified masters a raw2raw window or a release's hide keeps out
    memory = calib_memory(workspace, day, batch, classifier, frozen.abs, problems, rejected,
                          memory_policy(workspace), skipped, source.ahead)
    recipes = cached_esorex_recipes(settings.ESOREX, workspace.mon_dir / RECIPE_CACHE)
    result = associate([f for f in frames if f.name not in frozen.frames], rules, memory,
                       instrument=settings.INSTRUMENT, date=key, mode=mode.value, drs_type=settings.DRS_TYPE,
                       classifier=classifier, recipes=recipes, withheld=rejected, regroup=source.regroup)
    result = _refuse_unsafe(result, refused)
    made = with_content_keys(workspace, [p.ab for p in result.abs])  # parents first: keys chain
    fresh = reassociated(made, existing, rejected)
    plan = plan_update(made, existing, done_entries, frozen.reopened, rejected=fresh,
                       remade=_remade(workspace, [existing[name] for name in frozen.reopened if name in existing]))
    notes = _keep_notes(workspace, batch, fresh)
    for name, lines in skip_notes(result.abs, skipped).items():
        notes[name] = (*notes.get(name, ()), *lines)
    written, unchanged = _apply(workspace, plan, {p.ab.name: p for p in result.abs}, notes)
    if mode is Mode.CALIB:  # science products are never calibrations: they stay out of the calibration memory
        write_vcals(workspace, key, batch, result, plan.keep)
    write_ab_list(list_path, plan.ab_list)
    if written:
        write_text_atomic(workspace.mon_dir / "LAST_AB", written[-1] + "\n")
    _write_log(workspace, key, mode, result, problems, refused)
    append = workspace.status_log.append if repeat_flag else workspace.status_log.append_unless_newest
    append(mode_flag(mode, Stage.AB), key, clock.now(workspace.settings))
    return CreateResult(
        date=day,
        mode=mode,
        abs=plan.abs,
        written=tuple(written),
        unchanged=tuple(unchanged),
        kept_done=plan.keep,
        removed=plan.remove,
        orphans=tuple((o.frame.name, o.reason) for o in result.orphans),
        problems=tuple(problems),
        superseded=plan.superseded,
        refused=tuple(refused),
        key=key,
        skipped=tuple(s.name for s in skipped),
    )


def _apply(workspace: Workspace, plan: UpdatePlan, planned: Mapping[str, Planned],
           notes: Mapping[str, tuple[str, ...]]) -> tuple[list[str], list[str]]:
    """Carry out a plan's supersessions, writes and removals; (ABs written, ABs whose file already said it).
    ``notes`` add lines to ABs' association logs (re-associations after a rejection)."""
    ab_dir = workspace.ab_dir
    ab_dir.mkdir(parents=True, exist_ok=True)
    for supersession in plan.supersede:
        _supersede(workspace, supersession)
    written: list[str] = []
    unchanged: list[str] = []
    for ab in plan.write:
        path = confined(ab_dir / ab.name, ab_dir)
        (written if write_if_changed(path, render(ab)) else unchanged).append(ab.name)
        alog = confined(ab_dir / (ab.name.removesuffix(".ab") + ".alog"), ab_dir)
        lines = [*explain_lines(planned[ab.name]), *(f"  {line}" for line in notes.get(ab.name, ()))]
        write_if_changed(alog, "\n".join(lines) + "\n")
    for name in plan.remove:
        (ab_dir / name).unlink(missing_ok=True)
        (ab_dir / (name.removesuffix(".ab") + ".alog")).unlink(missing_ok=True)
    return written, unchanged


def _remade(workspace: Workspace, abs_: list[AB]) -> set[str]:
    """The ABs a virtual input of which is newer than their own products: the AB that makes it (in another
    batch: a SCIENCE AB's flat, made by a CALIB AB) ran again after them, so they were made with what it made
    before (Make's rule, on the files themselves)."""
    from dfos.steps.process_ab import product_roots

    stale = set()
    for ab in abs_:
        try:
            product_dir = confined(workspace.expand(ab.prod_path), *product_roots(workspace))
            own = [(product_dir / p.name).stat().st_mtime_ns for p in ab.products]
            inputs = [workspace.expand(c.sof_path).stat().st_mtime_ns for c in ab.mcalib if c.virtual]
        except (OSError, UnsafeName):
            continue  # a file is gone (moved, never made): nothing to compare; other checks speak for it
        if own and inputs and max(inputs) > min(own):
            stale.add(ab.name)
    return stale


def reassociation_log(workspace: Workspace, batch: str) -> Path:
    """``$DFO_MON_DIR/reassociated_<MODE>_<DATE>``: ``<AB> <line>``, one line per input an AB was re-associated
    for after its calibration was rejected (the history ``dfos explain`` shows)."""
    return workspace.mon_dir / f"reassociated_{batch}"


def _keep_notes(workspace: Workspace, batch: str, fresh: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Every re-association note of the batch so far plus ``fresh`` ones (kept in :func:`reassociation_log`)."""
    log = reassociation_log(workspace, batch)
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.is_file() else []
    known = dict.fromkeys(lines)
    known.update(dict.fromkeys(f"{ab} {line}" for ab, notes in fresh.items() for line in notes))
    if len(known) != len(lines):
        write_text_atomic(log, "\n".join(known) + "\n")
    found: dict[str, tuple[str, ...]] = {}
    for entry in known:
        ab, _, line = entry.partition(" ")
        found[ab] = (*found.get(ab, ()), line)
    return found


def _unsafe(ab: AB) -> str | None:
    """Why an AB cannot be written (a name or path from data the AB file would hold is not safe: its name,
    RAW_TYPE, products, an input made by a refused AB; see :func:`dfos.ab.format.check`), None when it can."""
    try:
        check(ab)
    except FormatError as exc:
        return exc.message
    return None


def _refuse_unsafe(result: AssociationResult, refused: list[tuple[str, str]]) -> AssociationResult:
    """The association without the ABs (and their virtual products) whose names are unsafe; each is listed
    in ``refused``."""
    bad = {}
    for planned in result.abs:
        why = _unsafe(planned.ab)
        if why:
            bad[planned.ab.name] = why
    if not bad:
        return result
    refused += [(name[:100], why) for name, why in bad.items()]
    return replace(result, abs=tuple(p for p in result.abs if p.ab.name not in bad),
                   vcals=tuple(c for c in result.vcals if c.producer not in bad))


def supersession_log(workspace: Workspace, batch: str) -> Path:
    """``$DFO_MON_DIR/supersessions_<MODE>_<DATE>``: one line per superseded AB run."""
    return workspace.mon_dir / f"supersessions_{batch}"


def _supersede(workspace: Workspace, supersession: Supersession) -> None:
    """Move the old run's products and log aside (verified, never deleted) and log the supersession."""
    from dfos.steps.process_ab import product_roots
    from dfos.steps.reuse import mark_superseded
    from dfos.steps.safe_move import Planned as Move
    from dfos.steps.safe_move import carry_out, sha256

    old, new, reason = supersession.old, supersession.new, supersession.reason
    key = old.date
    stem = old.name.removesuffix(".ab")
    log = supersession_log(workspace, old.batch_id)
    previous = log.read_text(encoding="utf-8").splitlines() if log.is_file() else []
    number = sum(1 for line in previous if line.split()[1:2] == [old.name]) + 1
    aside = workspace.path("DFO_LOG_DIR") / key / "superseded" / f"{stem}.{number}"
    product_dir = confined(workspace.expand(old.prod_path), *product_roots(workspace))
    files = sorted(product_dir.glob(f"{old.prod_root}_*")) if product_dir.is_dir() else []
    files += [p for p in (workspace.ab_dir / old.log_name, workspace.ab_dir / old.name) if p.is_file()]
    aside.mkdir(parents=True, exist_ok=True)
    write_text_atomic(aside / f"{old.name}.superseded", render(old))  # the AB as it ran
    carry_out([Move(str(f), str(aside / f.name), sha256(f), f.stat().st_size) for f in files
               if f.name != old.name])
    was = ", ".join(sorted(f"{t}={Path(f).name}" for t, f in calib_inputs(old) - calib_inputs(new))) or "-"
    now = ", ".join(sorted(f"{t}={Path(f).name}" for t, f in calib_inputs(new) - calib_inputs(old))) or "-"
    stamp = format_timestamp(clock.now(workspace.settings))
    mark_superseded(workspace, old.name, stamp)  # its products are never reused again
    line = f"{stamp} {old.name} run {number} superseded ({reason}): was {was}; now {now}; kept in {aside}"
    write_text_atomic(log, "\n".join([*previous, line]) + "\n")


def _existing(workspace: Workspace, batch: str) -> dict[str, AB]:
    found = {}
    for path in sorted(workspace.ab_dir.glob("*.ab")):
        try:
            ab = read_ab_file(path)
        except DfosError as exc:  # not an AB (a directory, an unreadable file): not ours to touch, but said
            _log.warning("%s; createAB leaves it alone (an AB of this date is written anew)", exc.message)
            continue
        if ab.batch_id == batch:  # (read_ab_file refuses an AB with an unsafe name: it is never touched)
            found[ab.name] = ab
    return found


def _write_log(workspace: Workspace, key: str, mode: Mode, result: AssociationResult,
               problems: list[tuple[str, str]], refused: list[tuple[str, str]]) -> None:
    complete = sum(1 for p in result.abs if p.ab.completeness is Completeness.COMPLETE)
    lines = [f"# association log of {mode} {key}",
             f"ABs: {len(result.abs)} ({complete} COMPLETE, {len(result.abs) - complete} INCOMPLETE); "
             f"virtual products: {len(result.vcals)}; groups left for the other mode: {len(result.other_mode)}"]
    lines += [f"INCOMPLETE {p.ab.name}: {reason}" for p in result.abs for reason in p.ab.missing]
    lines += [f"ORPHAN {o.frame.name}: {o.reason}" for o in result.orphans]
    lines += [f"UNREADABLE {name}: {reason}" for name, reason in problems]
    lines += [f"REFUSED {name}: {reason}" for name, reason in refused]
    write_text_atomic(workspace.mon_dir / f"assoc_{BatchId.of(mode, key)}.log", "\n".join(lines) + "\n")


def explain_text(workspace: Workspace, ab_name: str) -> str:
    """The association log of an AB (``dfos explain``)."""
    name = Path(ab_name).name
    try:
        safe_name(name, "AB name")
    except UnsafeName as exc:
        raise NotFound(f"no such AB: {exc.message}") from None
    alog = workspace.ab_dir / (name.removesuffix(".ab") + ".alog")
    if not alog.is_file():
        raise NotFound(f"no association log for {name} in {workspace.ab_dir}; run 'dfos create-ab' for its date")
    return alog.read_text(encoding="utf-8", errors="replace")

