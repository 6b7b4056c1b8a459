"""move (DFOS moveProducts with renameProducts and updateAB): certified products to their final
place, where they become the calibration memory of the next nights.

1. plan (once; an interrupted move reuses its plan ``$DFO_CAL_DIR/<DATE>/.move_<MODE>.json``):
   every product of a certified AB gets its certified name (``<CODE>_<TYPE>_<YYMMDD><LETTER>_<SETUP>``,
   see :class:`dfos.naming.CalibName`) in ``$DFO_CAL_DIR/<DATE>``; a rejected AB's products go to
   ``$DFO_LOG_DIR/<DATE>/rejected``; ABs, their logs (recipe, association, QC) and SOFs go to
   ``$DFO_LOG_DIR/<DATE>``;
2. every file is copied, verified (size, SHA-256) and only then deleted (:mod:`dfos.steps.safe_move`);
3. the masters' headers enter the MCAL memory (``$DFO_CAL_DIR/MCAL/<DATE>/<name>.hdr``) and the VCAL
   entries they replace are removed;
4. updateAB: the moved ABs name their products as certified and their virtual inputs of the same
   date as the masters; every product and every MCALIB input is checked to exist;
5. ``cal_Updated`` is appended and the ingest call is added to ``JOBS_INGEST``.

Running it again after it completed changes nothing.  Before anything moves, the evidence is checked
(:func:`dfos.steps.certify.read_evidence`: the AB list, the AB files, the database), every product a
decided AB names must exist under ``$DFS_PRODUCT`` and an interrupted move's plan must be a valid plan
whose files lie in the date's directories; otherwise it refuses, naming the file, and moves nothing.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from astropy.io import fits

from dfos import clock
from dfos.ab.format import render
from dfos.ab.model import AB, CalibInput, Product
from dfos.db import engine_for_url
from dfos.errors import StateError, UnsafeName
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.headers.io import write_hdr
from dfos.keys import Mode, Stage, mode_flag
from dfos.naming import CalibName, confined, safe_name
from dfos.status.machine import flags_by_key
from dfos.steps.certify import ACCEPT, REJECT, certification_rows, read_evidence
from dfos.steps.safe_move import MovePlan, Planned, carry_out, read_plan, sha256, write_plan
from dfos.steps.score import latest_decisions
from dfos.workspace import Workspace

__all__ = ["MoveResult", "append_job_line", "move"]


@dataclass(frozen=True)
class MoveResult:
    masters: tuple[str, ...]
    """Certified names now in $DFO_CAL_DIR/<DATE>."""
    rejected: tuple[str, ...]
    moved_files: int
    already_done: bool


def append_job_line(workspace: Workspace, name: str, line: str) -> None:
    """Add a command to a ToDo job file (JOBS_INGEST, JOBS_CLEANUP) once, under its lock."""
    from dfos.steps.create_job import job_header

    path = workspace.job_dir / name
    with exclusive_lock(path.with_name(f".{name}.lock")):
        text = path.read_text(encoding="utf-8") if path.is_file() else job_header(workspace)
        if line not in text.splitlines():
            write_text_atomic(path, text.rstrip("\n") + "\n" + line + "\n", mode=0o755)


def _expected(workspace: Workspace, abs_: list[AB]) -> None:
    """Refuse (naming the file) unless every product each AB names is in its product directory, under
    ``$DFS_PRODUCT``: moving nothing where products are expected is no move."""
    product_root = workspace.path("DFS_PRODUCT")
    for ab in abs_:
        product_dir = workspace.expand(ab.prod_path)
        try:
            confined(product_dir, product_root)
        except UnsafeName:
            raise UnsafeName(f"{ab.name}: PROD_PATH {ab.prod_path} lies outside {product_root}: refused") from None
        for product in ab.products:
            path = product_dir / safe_name(product.name, f"a product name of {ab.name}")
            if not path.is_file():
                raise StateError(f"{path} is missing: {ab.name} names it as a product, and move only moves what "
                                 "processing made; process the AB again or fix its products")


def _checked_plan(workspace: Workspace, plan_file: Path, plan: MovePlan, key: str) -> MovePlan:
    """An interrupted move's plan, refused unless each file comes from the products or the AB directory
    and goes to the date's calibration or log directory."""
    sources = (workspace.path("DFS_PRODUCT"), workspace.ab_dir)
    targets = (workspace.cal_dir / key, workspace.path("DFO_LOG_DIR") / key)
    for number, entry in enumerate(plan, start=1):
        for path, roots in ((entry.source, sources), (entry.target, targets)):
            try:
                confined(Path(path), *roots)
            except UnsafeName:
                raise UnsafeName(f"{plan_file}: entry {number}: {path} lies outside "
                                 f"{' and '.join(str(r) for r in roots)}: refused") from None
    return plan


def _plan(workspace: Workspace, mode: Mode, day: date, abs_: list[AB], decided: dict[str, str]) -> list[Planned]:
    key = day.isoformat()
    plugin = workspace.instrument
    code = plugin.mcal_code or plugin.file_prefix[:2].upper()
    cal_dir = workspace.cal_dir / key
    log_dir = workspace.path("DFO_LOG_DIR") / key
    letters: dict[tuple[str, str], int] = {}
    plan: list[Planned] = []

    def add(source: Path, target: Path) -> None:
        plan.append(Planned(str(source), str(target), sha256(source), source.stat().st_size))

    for ab in abs_:
        product_dir = workspace.expand(ab.prod_path)
        for path in sorted(product_dir.glob(f"{ab.prod_root}_*")):
            if decided.get(ab.name) == REJECT:
                add(path, log_dir / "rejected" / path.name)
                continue
            if path.suffix != ".fits":
                add(path, log_dir / path.name)  # PAF files and the like: kept with the logs
                continue
            header = fits.getheader(path)
            catg = str(header.get("HIERARCH ESO PRO CATG", "PRODUCT"))
            kind, setup = plugin.calib_kind(catg), plugin.calib_setup(catg, header)
            index = letters.get((kind, setup), 0)
            letters[(kind, setup)] = index + 1
            if index >= 26:
                raise StateError(f"more than 26 {kind} products of setup {setup} on {key}: no letter left")
            name = CalibName(code, kind, day, chr(ord("A") + index), setup)
            add(path, cal_dir / name.render(workspace.settings.MCAL_NAME_PATTERN))
        stem = ab.name.removesuffix(".ab")
        for extra in (workspace.ab_dir / ab.log_name, workspace.ab_dir / f"{stem}.alog",
                      workspace.ab_dir / f"{stem}.qclog"):
            if extra.is_file():
                add(extra, log_dir / extra.name)
    return plan


def _update_ab(workspace: Workspace, ab: AB, renamed: dict[str, str], day: date) -> AB:
    """updateAB: products under their certified names, same-date virtual inputs as the masters."""
    key = day.isoformat()
    cal_ref = f"$DFO_CAL_DIR/{key}"
    by_source = {str(Path(source)): target for source, target in renamed.items()}
    products = []
    for product in ab.products:
        source = str(workspace.expand(ab.prod_path) / product.name)
        products.append(Product(Path(by_source[source]).name, product.catg) if source in by_source else product)
    inputs = []
    for cal in ab.mcalib:
        target = by_source.get(str(workspace.expand(cal.sof_path)))
        if cal.virtual and target is not None and Path(target).parent == workspace.cal_dir / key:
            name = Path(target).name
            inputs.append(CalibInput(f"$DFO_CAL_DIR/MCAL/{key}/{name.removesuffix('.fits')}.hdr", cal.tag,
                                     f"{cal_ref}/{name}", virtual=False, producer=None, level=cal.level))
        else:
            inputs.append(cal)
    moved_products = any(p.name != q.name for p, q in zip(products, ab.products, strict=True))
    return replace(ab, products=tuple(products), mcalib=tuple(inputs),
                   prod_path=cal_ref if moved_products else ab.prod_path)


def _decisions(workspace: Workspace, mode: Mode, day: date) -> tuple[list[str], list[AB], dict[str, str]]:
    """The names and ABs of the date to move (refused while one has no decision) and each one's decision."""
    evidence = read_evidence(workspace, mode, day)
    rows = certification_rows(workspace, mode, day, evidence)
    with engine_for_url(workspace.db_url).begin() as db:
        decided = {name: decision for name, (decision, _) in latest_decisions(db, [r.ab for r in rows]).items()}
    undecided = [r.ab for r in rows if decided.get(r.ab) not in (ACCEPT, REJECT)]
    if undecided:
        raise StateError(f"{len(undecided)} AB(s) of {day.isoformat()} have no decision (e.g. {undecided[0]}): "
                         "certify them first")
    names = [r.ab for r in rows]
    return names, [evidence.abs[name] for name in names], decided


def _the_plan(workspace: Workspace, mode: Mode, day: date, abs_: list[AB], decided: dict[str, str],
              plan_file: Path) -> MovePlan:
    """An interrupted move's plan (checked), else a new one, written before anything moves."""
    plan = read_plan(plan_file)
    if plan is not None:
        return _checked_plan(workspace, plan_file, plan, day.isoformat())
    _expected(workspace, abs_)
    plan = _plan(workspace, mode, day, abs_, decided)
    write_plan(plan_file, plan)
    return plan


def _enter_memory(workspace: Workspace, plan: MovePlan, abs_: list[AB], key: str) -> list[str]:
    """The masters' headers into the MCAL memory, the VCAL entries they replace out; the masters' names."""
    masters = []
    for entry in plan:
        target = Path(entry.target)
        if target.parent == workspace.cal_dir / key:
            masters.append(target.name)
            write_hdr(workspace.mcal_dir / key / f"{target.stem}.hdr", fits.getheader(target))
    for ab in abs_:
        for vcal in sorted((workspace.vcal_dir / ab.date).glob(f"{ab.prod_root}_*.hdr")):
            vcal.unlink()
    return masters


def _problems(workspace: Workspace, ab: AB, decided: dict[str, str]) -> list[str]:
    """What an accepted AB, updated, names but cannot be found: products, and inputs that do not resolve
    (a virtual input of a rejected AB is flagged for reassociation already)."""
    problems = [f"{ab.name}: product {p.name} is missing" for p in ab.products
                if not (workspace.expand(ab.prod_path) / p.name).is_file()]
    problems += [f"{ab.name}: input {c.sof_path} does not resolve" for c in ab.mcalib
                 if not workspace.expand(c.sof_path).is_file() and not workspace.expand(c.ref).is_file()
                 and not (c.virtual and decided.get(c.producer or "") == REJECT)]
    return problems


def _update_abs(workspace: Workspace, abs_: list[AB], decided: dict[str, str], renamed: dict[str, str],
                day: date) -> list[str]:
    """updateAB: each AB (updated when accepted) and its SOF into the date's log directory, out of the AB
    directory; the problems found."""
    log_dir = workspace.path("DFO_LOG_DIR") / day.isoformat()
    problems = []
    for ab in abs_:
        accepted = decided[ab.name] == ACCEPT
        updated = _update_ab(workspace, ab, renamed, day) if accepted else ab
        write_text_atomic(log_dir / ab.name, render(updated))
        write_text_atomic(log_dir / f"{ab.name.removesuffix('.ab')}.sof",
                          "".join(f"{workspace.expand(p)} {tag}\n" for p, tag in updated.sof))
        (workspace.ab_dir / ab.name).unlink(missing_ok=True)  # its updated copy is in place
        if accepted:
            problems += _problems(workspace, updated, decided)
        if not (log_dir / ab.log_name).is_file():
            problems.append(f"{ab.name}: no log {ab.log_name}")
    return problems


def move(workspace: Workspace, mode: Mode | str, day: date) -> MoveResult:
    """Run move for a date; see the module docstring."""
    mode = Mode.parse(mode)
    key = day.isoformat()
    updated_flag = mode_flag(mode, Stage.UPDATED)
    flags = flags_by_key(workspace.status_log.read()).get(key, [])
    plan_file = workspace.cal_dir / key / f".move_{mode.value}.json"
    if updated_flag in flags and not plan_file.exists():
        return MoveResult((), (), 0, already_done=True)
    certif_flag = mode_flag(mode, Stage.CERTIF)
    if certif_flag not in flags:
        raise StateError(f"{mode} {key} is not certified yet ('{certif_flag}' is not in DFO_STATUS): "
                        f"run 'dfos certify -m {mode} -d {key}' first")
    names, abs_, decided = _decisions(workspace, mode, day)
    plan = _the_plan(workspace, mode, day, abs_, decided, plan_file)
    moved = carry_out(plan)
    masters = _enter_memory(workspace, plan, abs_, key)
    problems = _update_abs(workspace, abs_, decided, {entry.source: entry.target for entry in plan}, day)
    if problems:
        raise StateError(f"updateAB found {len(problems)} problem(s), e.g. {problems[0]}; run 'dfos move' again "
                        "after fixing them")
    if updated_flag not in flags:
        workspace.status_log.append(updated_flag, key, clock.now(workspace.settings))
    dfos = shlex.quote(str(workspace.bin_dir / "dfos"))
    append_job_line(workspace, "JOBS_INGEST",
                    f"{dfos} --root {shlex.quote(str(workspace.root))} ingest -m {mode} -d {key}")
    plan_file.unlink()
    return MoveResult(tuple(masters), tuple(name for name in names if decided.get(name) == REJECT), moved, False)
