"""move (DFOS moveProducts with renameProducts and updateAB): certified products to their final
place: a CALIB date's masters become the calibration memory of the next nights, a SCIENCE date's
products the certified science of the date.

1. plan (once; an interrupted move reuses its plan ``.move_<MODE>.json`` in the date's product
   directory): every FITS product of an accepted AB gets its certified name
   (:mod:`dfos.steps.certified_names`): CALIB ``<CODE>_<TYPE>_<YYMMDD><LETTER>_<SETUP>`` in
   ``$DFO_CAL_DIR/<DATE>``, SCIENCE ``<CODE>_<TYPE>_<YYMMDD>T<hhmmss>_<SETUP>[_<N>]`` in
   ``$DFO_SCI_DIR/<DATE>``; a rejected AB's products go to ``$DFO_LOG_DIR/<DATE>/rejected``; other
   product files (PAF), ABs, their logs (recipe, association, QC) and SOFs to ``$DFO_LOG_DIR/<DATE>``;
2. every file is copied, verified (size, SHA-256) and only then deleted (:mod:`dfos.steps.safe_move`);
3. CALIB only: the masters' headers enter the MCAL memory (``$DFO_CAL_DIR/MCAL/<DATE>/<name>.hdr``)
   and the VCAL entries they replace are removed (SCIENCE changes neither);
4. updateAB (:mod:`dfos.steps.update_ab`): the moved ABs name their products as certified and their
   virtual inputs of the date as the masters; every product and every MCALIB input is checked to
   exist.  CALIB: every other AB still in ``$DFO_AB_DIR`` that used one of the date's virtual
   products (the date's SCIENCE ABs) names the master instead;
5. ``<mode>_Updated`` is appended and the ingest call is added to ``JOBS_INGEST``.

IDP mode (the phoenix flavour, or ``IDP_MODE``): before the plan, every accepted SCIENCE product the instrument
makes IDPs of gets the SDP keywords (:mod:`dfos.steps.idp`).  A SCIENCE product that would replace one already
in ``$DFO_SCI_DIR/<DATE>`` with other bytes is refused unless ``UPDATE_YN``.

Running it again after it completed changes nothing.  Before anything moves, the evidence is checked
(:func:`dfos.steps.certify.read_evidence`: the AB list, the AB files, the database), every product a
decided AB names must exist under ``$DFS_PRODUCT`` (an accepted SCIENCE AB must have made one), an
accepted SCIENCE AB must read certified calibrations only (no virtual input left: move CALIB first)
and an interrupted move's plan must be a valid plan whose files lie in the date's directories;
otherwise it refuses, naming the file, and moves nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits

from dfos import clock
from dfos.ab.format import render
from dfos.ab.model import AB, Completeness, Product
from dfos.db import engine_for_url
from dfos.errors import StateError, UnsafeName
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.headers.io import write_hdr
from dfos.jobs.relocate import command_line
from dfos.keys import KeyLike, Mode, ProcessingKey, Stage, mode_flag
from dfos.naming import confined, safe_name
from dfos.status.machine import flags_by_key
from dfos.steps.certified_names import Namer, product_dir, product_ref
from dfos.steps.certify import ACCEPT, REJECT, Evidence, certification_rows, read_evidence
from dfos.steps.chain import rejections
from dfos.steps.idp import apply_idp, idp_mode
from dfos.steps.safe_move import MovePlan, Planned, carry_out, read_plan, read_text, sha256, write_plan
from dfos.steps.score import latest_decisions
from dfos.steps.update_ab import update_users, updated_ab
from dfos.workspace import Workspace

__all__ = ["MoveResult", "append_job_line", "move", "move_abs", "moved_abs", "plan_file", "planned_abs",
           "settle_run"]


@dataclass(frozen=True)
class MoveResult:
    masters: tuple[str, ...]
    """Certified names now in the date's product directory ($DFO_CAL_DIR/<DATE>, SCIENCE: $DFO_SCI_DIR/<DATE>)."""
    rejected: tuple[str, ...]
    moved_files: int
    already_done: bool
    users: tuple[str, ...] = ()
    """ABs of other batches (still in $DFO_AB_DIR) that now name this date's masters instead of virtual products."""
    abs: tuple[str, ...] = ()
    """The ABs this move moved (updateAB put them into $DFO_LOG_DIR/<DATE>)."""
    held: tuple[str, ...] = ()
    """ABs held back (:func:`move_abs`): their products would replace earlier ones and UPDATE_YN is NO."""


def plan_file(workspace: Workspace, mode: Mode | str, key: str) -> Path:
    """The plan of a date's move: ``.move_<MODE>.json`` in the date's product directory (it is there while a
    move is unfinished)."""
    mode = Mode.parse(mode)
    return product_dir(workspace, mode, key) / f".move_{mode.value}.json"


def append_job_line(workspace: Workspace, name: str, line: str) -> None:
    """Add a command to a ToDo job file (JOBS_INGEST, JOBS_CLEANUP) once, under its lock (a line there in the
    form of an older dfos, ``/x/bin/dfos --root /r ...``, counts as the same line, and so does the line commented
    out as done by :func:`mark_job_line_done`: a date's ingest that ran is not queued again)."""
    from dfos.jobs.relocate import canonical_line
    from dfos.steps.create_job import job_header

    path = workspace.job_dir / name
    with exclusive_lock(path.with_name(f".{name}.lock")):
        text = path.read_text(encoding="utf-8") if path.is_file() else job_header(workspace)
        present = {canonical_line(old.split(": ", 1)[1] if old.startswith("# ") and ": " in old else old)
                   for old in text.splitlines()}
        if line not in present:
            write_text_atomic(path, text.rstrip("\n") + "\n" + line + "\n", mode=0o755)


def mark_job_line_done(workspace: Workspace, name: str, line: str, note: str) -> None:
    """Comment out a command of a ToDo job file that has done its work (``# <note>: <line>``), under its lock: the
    monitor no longer counts it as pending, and launching the file again does not run it again."""
    from dfos.jobs.relocate import canonical_line

    path = workspace.job_dir / name
    with exclusive_lock(path.with_name(f".{name}.lock")):
        if not path.is_file():
            return
        text = path.read_text(encoding="utf-8")
        lines = [f"# {note}: {old}" if canonical_line(old) == line else old for old in text.splitlines()]
        if lines != text.splitlines():
            write_text_atomic(path, "\n".join(lines) + "\n", mode=0o755)


def _expected(workspace: Workspace, mode: Mode, abs_: list[AB], decided: dict[str, str]) -> None:
    """Refuse (naming the file) unless every product each AB names is in its product directory, under
    ``$DFS_PRODUCT``, and each accepted SCIENCE AB made a FITS product and reads no virtual input: moving
    nothing where products are expected is no move."""
    product_root = workspace.path("DFS_PRODUCT")
    for ab in abs_:
        product_dir_ = workspace.expand(ab.prod_path)
        try:
            confined(product_dir_, product_root)
        except UnsafeName:
            raise UnsafeName(f"{ab.name}: PROD_PATH {ab.prod_path} lies outside {product_root}: refused") from None
        for product in ab.products:
            path = product_dir_ / safe_name(product.name, f"a product name of {ab.name}")
            if not path.is_file():
                raise StateError(f"{path} is missing: {ab.name} names it as a product, and move only moves what "
                                 "processing made; process the AB again or fix its products")
        if mode is Mode.SCIENCE and decided.get(ab.name) == ACCEPT:
            _science_ready(workspace, ab, product_dir_)


def _science_ready(workspace: Workspace, ab: AB, products: Path) -> None:
    """An accepted SCIENCE AB made a FITS product and reads certified calibrations only."""
    if not any(products.glob(f"{ab.prod_root}_*.fits")):
        raise StateError(f"{products} holds no product of {ab.name} ({ab.prod_root}_*.fits), which is accepted: "
                         "process it again, or reject it")
    virtual = [cal for cal in ab.mcalib if cal.virtual]
    rejected = rejections(workspace, {cal.producer for cal in virtual if cal.producer})
    for cal in virtual:
        if cal.producer in rejected:  # moving the calibrations will never certify it: say what will
            raise StateError(f"{ab.name} reads {cal.tag} from {cal.producer}, which was rejected: reject "
                             f"{ab.name} too, or reset SCIENCE {ab.date} ('dfos reset -m SCIENCE -d {ab.date}') and "
                             f"create and run its ABs again (rejected {rejected[cal.producer]})")
    for cal in virtual[:1]:
        day = Path(cal.ref).parent.name
        raise StateError(f"{ab.name} reads {cal.tag} {Path(cal.sof_path).name}, a virtual product of "
                         f"{cal.producer} that is not certified yet: move the calibrations first "
                         f"('dfos move -m CALIB -d {day}')")


def _checked_plan(workspace: Workspace, mode: Mode, plan_file: Path, plan: MovePlan, key: str) -> MovePlan:
    """An interrupted move's plan, refused unless each file comes from the products or the AB directory
    and goes to the date's product (calibration or science) or log directory."""
    sources = (workspace.path("DFS_PRODUCT"), workspace.ab_dir)
    targets = (product_dir(workspace, mode, key), workspace.path("DFO_LOG_DIR") / key)
    for number, entry in enumerate(plan, start=1):
        for path, roots in ((entry.source, sources), (entry.target, targets)):
            try:
                confined(Path(path), *roots)
            except UnsafeName:
                raise UnsafeName(f"{plan_file}: entry {number}: {path} lies outside "
                                 f"{' and '.join(str(r) for r in roots)}: refused") from None
    return plan


def _plan(workspace: Workspace, mode: Mode, day: KeyLike, abs_: list[AB], decided: dict[str, str]) -> list[Planned]:
    log_dir = workspace.path("DFO_LOG_DIR") / ProcessingKey.of(day).text
    namer = Namer(workspace, mode, day)
    plan: list[Planned] = []

    def add(source: Path, target: Path) -> None:
        plan.append(Planned(str(source), str(target), sha256(source), source.stat().st_size))

    for ab in abs_:
        for path in sorted(workspace.expand(ab.prod_path).glob(f"{ab.prod_root}_*")):
            if decided.get(ab.name) == REJECT:
                add(path, log_dir / "rejected" / path.name)
            elif path.suffix != ".fits":
                add(path, log_dir / path.name)  # PAF files and the like: kept with the logs
            else:
                add(path, namer.target(ab, path, fits.getheader(path)))
        stem = ab.name.removesuffix(".ab")
        for extra in (workspace.ab_dir / ab.log_name, workspace.ab_dir / f"{stem}.alog",
                      workspace.ab_dir / f"{stem}.qclog"):
            if extra.is_file():
                add(extra, log_dir / extra.name)
    return plan


def _decisions(workspace: Workspace, mode: Mode, day: KeyLike, evidence: Evidence,
               only: list[str] | None = None) -> tuple[list[str], list[AB], dict[str, str]]:
    """The names and ABs to move (``only`` these, else every successful AB of the date; refused while one has
    no decision) and each one's decision."""
    rows = certification_rows(workspace, mode, day, evidence)
    names = [r.ab for r in rows] if only is None else only
    unknown = [name for name in names if name not in {r.ab for r in rows}]
    if unknown:
        raise StateError(f"{unknown[0]} is no successful {mode} AB of {ProcessingKey.of(day)}: nothing of it to move")
    with engine_for_url(workspace.db_url).begin() as db:
        decided = {name: decision for name, (decision, _) in latest_decisions(db, names).items()}
    undecided = [name for name in names if decided.get(name) not in (ACCEPT, REJECT)]
    if undecided:
        raise StateError(f"{len(undecided)} AB(s) of {ProcessingKey.of(day)} have no decision "
                         f"(e.g. {undecided[0]}): certify them first")
    return names, [evidence.abs[name] for name in names], decided


def moved_abs(workspace: Workspace, evidence: Evidence) -> set[str]:
    """The ABs of a date (or run) that are moved: updateAB has put their file into ``$DFO_LOG_DIR/<KEY>`` and
    taken it out of ``$DFO_AB_DIR`` (the last thing the move of an AB does, so a kill before it leaves the AB
    unmoved and its plan to be resumed)."""
    return {name for name, path in evidence.files.items() if path.parent != workspace.ab_dir}


def _replaced(workspace: Workspace, mode: Mode, plan: MovePlan, key: str) -> list[Path]:
    """SCIENCE without ``UPDATE_YN``: the products already in ``$DFO_SCI_DIR/<DATE>`` that the plan would replace
    with other bytes (an earlier IDP of the date); with ``UPDATE_YN`` none (the move replaces them after a
    verified copy)."""
    if mode is not Mode.SCIENCE or workspace.settings.UPDATE_YN:
        return []
    return [Path(e.target) for e in plan if Path(e.target).parent == product_dir(workspace, mode, key)
            and Path(e.target).is_file() and sha256(Path(e.target)) != e.sha256]


def _the_plan(workspace: Workspace, mode: Mode, day: KeyLike, abs_: list[AB], decided: dict[str, str],
              path: Path, hold: bool = False) -> MovePlan | None:
    """An interrupted move's plan (checked), else a new one, written before anything moves (with the names of
    its ABs beside it: :func:`planned_abs`); in IDP mode the science products get their IDP keywords first, so
    the plan holds the checksums of the final files.  A plan that would replace earlier products (:func:`_replaced`)
    is refused, or with ``hold`` not written (None: the ABs stay where they are)."""
    key = ProcessingKey.of(day).text
    plan = read_plan(path)
    if plan is not None:
        return _checked_plan(workspace, mode, path, plan, key)
    _expected(workspace, mode, abs_, decided)
    if mode is Mode.SCIENCE and idp_mode(workspace.settings):
        apply_idp(workspace, abs_, {name: decision == ACCEPT for name, decision in decided.items()})
    plan = _plan(workspace, mode, day, abs_, decided)
    earlier = _replaced(workspace, mode, plan, key)
    if earlier and hold:
        return None
    if earlier:
        raise StateError(f"{earlier[0]} is an earlier product of {key} ({len(earlier)} would be replaced) and "
                         "UPDATE_YN is NO: set UPDATE_YN=YES to replace them, or remove them first")
    write_text_atomic(_abs_file(path), "".join(f"{ab.name}\n" for ab in abs_))
    write_plan(path, plan)
    return plan


def _abs_file(plan: Path) -> Path:
    """Beside a move's plan, the ABs it moves, one a line (``.move_<MODE>.abs``)."""
    return plan.with_suffix(".abs")


def planned_abs(plan: Path) -> list[str] | None:
    """The ABs an interrupted move's plan moves (None: a plan without that record, which moves the whole date)."""
    names = _abs_file(plan)
    return read_text(names, "the ABs of a move plan").split() if names.is_file() else None


def _certified(workspace: Workspace, mode: Mode, plan: MovePlan, key: str) -> list[Path]:
    """The certified products of the plan: its targets in the date's product directory."""
    return [Path(e.target) for e in plan if Path(e.target).parent == product_dir(workspace, mode, key)]


def _enter_memory(workspace: Workspace, masters: list[Path], abs_: list[AB], key: str) -> None:
    """The masters' headers into the MCAL memory, the VCAL entries they replace out."""
    for target in masters:
        header = fits.getheader(target)
        if target.parent != workspace.cal_dir / key:  # (COMPLETE_MODE: $DFO_CAL_DIR/NEW/<DATE>) the memory says where
            header["HIERARCH ESO DFOS FILE"] = "$DFO_CAL_DIR/" + target.relative_to(workspace.cal_dir).as_posix()
        write_hdr(workspace.mcal_dir / key / f"{target.stem}.hdr", header)
    for ab in abs_:
        for vcal in sorted((workspace.vcal_dir / ab.date).glob(f"{ab.prod_root}_*.hdr")):
            vcal.unlink()


def _problems(workspace: Workspace, ab: AB, decided: dict[str, str]) -> list[str]:
    """What an accepted AB, updated, names but cannot be found: products, and inputs that do not resolve
    (a virtual input of a rejected AB is flagged for reassociation already)."""
    problems = [f"{ab.name}: product {p.name} is missing" for p in ab.products
                if not (workspace.expand(ab.prod_path) / p.name).is_file()]
    problems += [f"{ab.name}: input {c.sof_path} does not resolve" for c in ab.mcalib
                 if not workspace.expand(c.sof_path).is_file() and not workspace.expand(c.ref).is_file()
                 and not (c.virtual and decided.get(c.producer or "") == REJECT)]
    return problems


def _science_products(ab: AB, certified: list[Path], moved: dict[Path, Path]) -> list[Product]:
    """A SCIENCE AB's certified products (name, PRO.CATG), in plan order."""
    mine = {target for source, target in moved.items() if source.name.startswith(f"{ab.prod_root}_")}
    return [Product(path.name, str(fits.getheader(path).get("HIERARCH ESO PRO CATG", "")))
            for path in certified if path in mine]


def _update_abs(workspace: Workspace, mode: Mode, abs_: list[AB], decided: dict[str, str], moved: dict[Path, Path],
                certified: list[Path], day: KeyLike) -> list[str]:
    """updateAB: each AB (updated when accepted) and its SOF into the date's log directory, out of the AB
    directory; the problems found."""
    key = ProcessingKey.of(day).text
    log_dir = workspace.path("DFO_LOG_DIR") / key
    problems = []
    for ab in abs_:
        accepted = decided[ab.name] == ACCEPT
        products = _science_products(ab, certified, moved) if mode is Mode.SCIENCE else []
        updated = updated_ab(ab, mode, key, moved, products, workspace.expand, product_dir(workspace, mode, key),
                             product_ref(workspace, mode, key), workspace.cal_dir) \
            if accepted else ab
        write_text_atomic(log_dir / ab.name, render(updated))
        write_text_atomic(log_dir / f"{ab.name.removesuffix('.ab')}.sof",
                          "".join(f"{workspace.expand(p)} {tag}\n" for p, tag in updated.sof))
        (workspace.ab_dir / ab.name).unlink(missing_ok=True)  # its updated copy is in place
        if accepted:
            problems += _problems(workspace, updated, decided)
        if not (log_dir / ab.log_name).is_file():
            problems.append(f"{ab.name}: no log {ab.log_name}")
    return problems


def move(workspace: Workspace, mode: Mode | str, day: KeyLike, abs_: Sequence[str] | None = None) -> MoveResult:
    """Run move for a date (``abs_``: only these ABs, each on its own, see :func:`move_abs`); see the module
    docstring."""
    mode = Mode.parse(mode)
    if abs_ is not None:
        return move_abs(workspace, mode, day, abs_)
    key = ProcessingKey.of(day).text
    updated_flag = mode_flag(mode, Stage.UPDATED)
    flags = flags_by_key(workspace.status_log.read()).get(key, [])
    path = plan_file(workspace, mode, key)
    if updated_flag in flags and not path.exists():
        _ingest_line(workspace, mode, key)  # (a kill right after the flag lost it otherwise)
        return MoveResult((), (), 0, already_done=True)
    certif_flag = mode_flag(mode, Stage.CERTIF)
    if certif_flag not in flags:
        raise StateError(f"{mode} {key} is not certified yet ('{certif_flag}' is not in DFO_STATUS): "
                        f"run 'dfos certify -m {mode} -d {key}' first")
    parts = [_move_planned(workspace, mode, day, planned_abs(path), path)] if path.exists() else []
    parts.append(_move_planned(workspace, mode, day, None, path))  # (after an interrupted plan: what is left)
    _moved_flag(workspace, mode, key, flags)
    return _merged(parts, [])


def move_abs(workspace: Workspace, mode: Mode | str, day: KeyLike, names: Sequence[str]) -> MoveResult:
    """Move these ABs of a date or run (each successful and decided), target after target: each AB its own plan
    and updateAB, so a kill loses at most the plan in progress, which the next call finishes first.  ABs moved
    before are left as they are; an AB whose products would replace earlier ones with other bytes while
    ``UPDATE_YN`` is NO is held back (``held``: it stays, and so do the earlier products).  ``<mode>_Updated`` is
    appended once every AB of the list that can run (not INCOMPLETE) is moved."""
    mode = Mode.parse(mode)
    key = ProcessingKey.of(day).text
    path = plan_file(workspace, mode, key)
    parts = []
    if path.exists():  # an interrupted move first
        parts.append(_move_planned(workspace, mode, day, planned_abs(path), path))
    held = []
    for name in names:
        if name in moved_abs(workspace, read_evidence(workspace, mode, day)):
            continue
        part = _move_planned(workspace, mode, day, [name], path, hold=True)
        if part is None:
            held.append(name)
        parts.append(part)
    evidence = read_evidence(workspace, mode, day)
    moved = moved_abs(workspace, evidence)
    if all(e.name in moved for e in evidence.entries if e.completeness is not Completeness.INCOMPLETE):
        _moved_flag(workspace, mode, key, flags_by_key(workspace.status_log.read()).get(key, []))
    if any(part is not None for part in parts):
        _ingest_line(workspace, mode, key)
    return _merged(parts, held)


def settle_run(workspace: Workspace, mode: Mode | str, run: KeyLike) -> None:
    """For a run whose ingest accumulates (phoenix DEEP): ``<mode>_Updated`` once every AB of its list is moved,
    and its ``JOBS_INGEST`` line once any is: what a kill right after a target's move left unwritten."""
    mode = Mode.parse(mode)
    key = ProcessingKey.of(run).text
    evidence = read_evidence(workspace, mode, run)
    moved = moved_abs(workspace, evidence)
    if all(e.name in moved for e in evidence.entries if e.completeness is not Completeness.INCOMPLETE):
        _moved_flag(workspace, mode, key, flags_by_key(workspace.status_log.read()).get(key, []))
    elif moved:
        _ingest_line(workspace, mode, key)


def _merged(parts: list[MoveResult | None], held: list[str]) -> MoveResult:
    """One result of several plans carried out (None: held back)."""
    done = [part for part in parts if part is not None]
    return MoveResult(tuple(m for p in done for m in p.masters), tuple(r for p in done for r in p.rejected),
                      sum(p.moved_files for p in done), not done and not held, tuple(u for p in done for u in p.users),
                      tuple(a for p in done for a in p.abs), tuple(held))


def _moved_flag(workspace: Workspace, mode: Mode, key: str, flags: list[str]) -> None:
    """``<mode>_Updated`` (once) and the ingest call in ``JOBS_INGEST``."""
    if mode_flag(mode, Stage.UPDATED) not in flags:
        workspace.status_log.append(mode_flag(mode, Stage.UPDATED), key, clock.now(workspace.settings))
    _ingest_line(workspace, mode, key)


def _ingest_line(workspace: Workspace, mode: Mode, key: str) -> None:
    """The ingest call in ``JOBS_INGEST``, once (the same line is not added again: one line serves a run)."""
    append_job_line(workspace, "JOBS_INGEST", command_line("ingest", "-m", mode.value, "-d", key))


def _move_planned(workspace: Workspace, mode: Mode, day: KeyLike, names: list[str] | None, path: Path,
                  hold: bool = False) -> MoveResult | None:
    """Plan (or take up the interrupted plan), carry out and updateAB the ABs ``names`` (None: every AB of the
    date not moved yet); None when ``hold`` kept them back (:func:`_the_plan`)."""
    key = ProcessingKey.of(day).text
    evidence = read_evidence(workspace, mode, day)
    names, abs_, decided = _decisions(workspace, mode, day, evidence, names)
    if not path.exists():
        moved = moved_abs(workspace, evidence)
        abs_ = [ab for ab in abs_ if ab.name not in moved]
    plan = _the_plan(workspace, mode, day, abs_, decided, path, hold)
    if plan is None:
        return None
    moved_files = carry_out(plan)
    certified = _certified(workspace, mode, plan, key)
    moved_to = {Path(entry.source): Path(entry.target) for entry in plan}
    if mode is Mode.CALIB:
        _enter_memory(workspace, certified, abs_, key)
    problems = _update_abs(workspace, mode, abs_, decided, moved_to, certified, day)
    if problems:
        raise StateError(f"updateAB found {len(problems)} problem(s), e.g. {problems[0]}; run 'dfos move' again "
                        "after fixing them")
    users = update_users(workspace, {s: t for s, t in moved_to.items() if t in certified}) \
        if mode is Mode.CALIB else []
    path.unlink()
    _abs_file(path).unlink(missing_ok=True)
    return MoveResult(tuple(p.name for p in certified), tuple(ab.name for ab in abs_ if decided[ab.name] == REJECT),
                      moved_files, False, tuple(users), tuple(ab.name for ab in abs_))
