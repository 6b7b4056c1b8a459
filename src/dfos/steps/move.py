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

import shlex
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits

from dfos import clock
from dfos.ab.format import render
from dfos.ab.model import AB, Product
from dfos.db import engine_for_url
from dfos.errors import StateError, UnsafeName
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.headers.io import write_hdr
from dfos.keys import KeyLike, Mode, ProcessingKey, Stage, mode_flag
from dfos.naming import confined, safe_name
from dfos.status.machine import flags_by_key
from dfos.steps.certified_names import Namer, product_dir, product_ref
from dfos.steps.certify import ACCEPT, REJECT, certification_rows, read_evidence
from dfos.steps.idp import apply_idp, idp_mode
from dfos.steps.safe_move import MovePlan, Planned, carry_out, read_plan, sha256, write_plan
from dfos.steps.score import latest_decisions
from dfos.steps.update_ab import update_users, updated_ab
from dfos.workspace import Workspace

__all__ = ["MoveResult", "append_job_line", "move", "plan_file"]


@dataclass(frozen=True)
class MoveResult:
    masters: tuple[str, ...]
    """Certified names now in the date's product directory ($DFO_CAL_DIR/<DATE>, SCIENCE: $DFO_SCI_DIR/<DATE>)."""
    rejected: tuple[str, ...]
    moved_files: int
    already_done: bool
    users: tuple[str, ...] = ()
    """ABs of other batches (still in $DFO_AB_DIR) that now name this date's masters instead of virtual products."""


def plan_file(workspace: Workspace, mode: Mode | str, key: str) -> Path:
    """The plan of a date's move: ``.move_<MODE>.json`` in the date's product directory (it is there while a
    move is unfinished)."""
    mode = Mode.parse(mode)
    return product_dir(workspace, mode, key) / f".move_{mode.value}.json"


def append_job_line(workspace: Workspace, name: str, line: str) -> None:
    """Add a command to a ToDo job file (JOBS_INGEST, JOBS_CLEANUP) once, under its lock."""
    from dfos.steps.create_job import job_header

    path = workspace.job_dir / name
    with exclusive_lock(path.with_name(f".{name}.lock")):
        text = path.read_text(encoding="utf-8") if path.is_file() else job_header(workspace)
        if line not in text.splitlines():
            write_text_atomic(path, text.rstrip("\n") + "\n" + line + "\n", mode=0o755)


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
            _science_ready(ab, product_dir_)


def _science_ready(ab: AB, products: Path) -> None:
    """An accepted SCIENCE AB made a FITS product and reads certified calibrations only."""
    if not any(products.glob(f"{ab.prod_root}_*.fits")):
        raise StateError(f"{products} holds no product of {ab.name} ({ab.prod_root}_*.fits), which is accepted: "
                         "process it again, or reject it")
    for cal in ab.mcalib:
        if cal.virtual:
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


def _decisions(workspace: Workspace, mode: Mode, day: KeyLike) -> tuple[list[str], list[AB], dict[str, str]]:
    """The names and ABs of the date to move (refused while one has no decision) and each one's decision."""
    evidence = read_evidence(workspace, mode, day)
    rows = certification_rows(workspace, mode, day, evidence)
    with engine_for_url(workspace.db_url).begin() as db:
        decided = {name: decision for name, (decision, _) in latest_decisions(db, [r.ab for r in rows]).items()}
    undecided = [r.ab for r in rows if decided.get(r.ab) not in (ACCEPT, REJECT)]
    if undecided:
        raise StateError(f"{len(undecided)} AB(s) of {ProcessingKey.of(day)} have no decision "
                         f"(e.g. {undecided[0]}): certify them first")
    names = [r.ab for r in rows]
    return names, [evidence.abs[name] for name in names], decided


def _replacing(workspace: Workspace, mode: Mode, plan: MovePlan, key: str) -> None:
    """SCIENCE: refuse to replace a product already in ``$DFO_SCI_DIR/<DATE>`` with other bytes (an earlier
    IDP of the date) unless ``UPDATE_YN``; with it, the move replaces it after a verified copy."""
    if mode is not Mode.SCIENCE or workspace.settings.UPDATE_YN:
        return
    earlier = [Path(e.target) for e in plan if Path(e.target).parent == product_dir(workspace, mode, key)
               and Path(e.target).is_file() and sha256(Path(e.target)) != e.sha256]
    if earlier:
        raise StateError(f"{earlier[0]} is an earlier product of {key} ({len(earlier)} would be replaced) and "
                         "UPDATE_YN is NO: set UPDATE_YN=YES to replace them, or remove them first")


def _the_plan(workspace: Workspace, mode: Mode, day: KeyLike, abs_: list[AB], decided: dict[str, str],
              path: Path) -> MovePlan:
    """An interrupted move's plan (checked), else a new one, written before anything moves; in IDP mode the
    science products get their IDP keywords first, so the plan holds the checksums of the final files."""
    plan = read_plan(path)
    if plan is not None:
        return _checked_plan(workspace, mode, path, plan, ProcessingKey.of(day).text)
    _expected(workspace, mode, abs_, decided)
    if mode is Mode.SCIENCE and idp_mode(workspace.settings):
        apply_idp(workspace, abs_, {name: decision == ACCEPT for name, decision in decided.items()})
    plan = _plan(workspace, mode, day, abs_, decided)
    _replacing(workspace, mode, plan, ProcessingKey.of(day).text)
    write_plan(path, plan)
    return plan


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


def move(workspace: Workspace, mode: Mode | str, day: KeyLike) -> MoveResult:
    """Run move for a date; see the module docstring."""
    mode = Mode.parse(mode)
    key = ProcessingKey.of(day).text
    updated_flag = mode_flag(mode, Stage.UPDATED)
    flags = flags_by_key(workspace.status_log.read()).get(key, [])
    path = plan_file(workspace, mode, key)
    if updated_flag in flags and not path.exists():
        return MoveResult((), (), 0, already_done=True)
    certif_flag = mode_flag(mode, Stage.CERTIF)
    if certif_flag not in flags:
        raise StateError(f"{mode} {key} is not certified yet ('{certif_flag}' is not in DFO_STATUS): "
                        f"run 'dfos certify -m {mode} -d {key}' first")
    names, abs_, decided = _decisions(workspace, mode, day)
    plan = _the_plan(workspace, mode, day, abs_, decided, path)
    moved_files = carry_out(plan)
    certified = _certified(workspace, mode, plan, key)
    moved = {Path(entry.source): Path(entry.target) for entry in plan}
    if mode is Mode.CALIB:
        _enter_memory(workspace, certified, abs_, key)
    problems = _update_abs(workspace, mode, abs_, decided, moved, certified, day)
    if problems:
        raise StateError(f"updateAB found {len(problems)} problem(s), e.g. {problems[0]}; run 'dfos move' again "
                        "after fixing them")
    users = update_users(workspace, {s: t for s, t in moved.items() if t in certified}) if mode is Mode.CALIB else []
    if updated_flag not in flags:
        workspace.status_log.append(updated_flag, key, clock.now(workspace.settings))
    dfos = shlex.quote(str(workspace.bin_dir / "dfos"))
    append_job_line(workspace, "JOBS_INGEST",
                    f"{dfos} --root {shlex.quote(str(workspace.root))} ingest -m {mode} -d {key}")
    path.unlink()
    return MoveResult(tuple(p.name for p in certified), tuple(name for name in names if decided.get(name) == REJECT),
                      moved_files, False, tuple(users))
