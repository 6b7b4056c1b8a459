"""ToDo lists that cannot hurt: the guards and clean-ups around a date's job files.

* :func:`check_job` (``dfos check-job``, the first line of every job block; also ``create-job`` and the
  ``exec-cascade`` of a date's cascade): a job for a date whose mode is certified, moved, harvested or whose
  date is finished is refused before anything runs (:func:`dfos.status.todo.job_refusal`).
* :func:`end_job` (``dfos end-job``, the last line of every job block): ``<mode>_QC`` only for work done (the
  cascade's ABs are all in ``$DFO_AB_DIR`` and at least one of them ran), then the block is marked executed in
  ``JOBS_NIGHT`` / ``JOBS_AUTO`` (:mod:`dfos.jobs.todo`): launching the file again skips it.
* :func:`remove_date_jobs` (``finish``, ``reset``, ``create-job -r``): a date's execAB, execQC, rawDown,
  mcalDown, subcascade and DAGMan files and its blocks in JOBS_NIGHT / JOBS_AUTO (other dates' blocks stay;
  atomic rewrite under the job file's lock).
* :func:`reset_date` (``dfos reset``): a mode of a date back to before createAB.
* :func:`recreate_job` (``dfos create-job -r``).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from dfos import clock
from dfos.ab.lists import ab_list_lock, read_ab_list
from dfos.ab.store import read_ab
from dfos.dates import format_timestamp
from dfos.errors import FormatError, NotFound, StateError, UnsafeName
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.jobs.model import parse_exec
from dfos.jobs.todo import Span, drop_blocks, executed_marker, mark_executed
from dfos.keys import BatchId, KeyLike, Mode, ProcessingKey, Stage, mode_flag
from dfos.naming import confined
from dfos.status.machine import flags_by_key
from dfos.status.todo import job_refusal, reset_refusal
from dfos.workspace import Workspace

if TYPE_CHECKING:
    from dfos.steps.create_job import JobFiles

__all__ = ["AUTO_FILES", "EndJob", "ResetResult", "check_dag", "check_job", "end_job", "flags_of", "mark_block",
           "recreate_job", "remove_date_jobs", "reset_date", "who"]

#: The job files createJob writes blocks into.
AUTO_FILES = ("JOBS_NIGHT", "JOBS_AUTO")
_PREFIXES = ("execAB_", "execQC_", "rawDown_", "mcalDown_")


def who() -> str:
    """The person running a command: DFOS_USER, else the login name."""
    try:
        return os.environ.get("DFOS_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "-"


def flags_of(workspace: Workspace, key: str) -> list[str]:
    """Every DFO_STATUS flag of ``key``, oldest first."""
    return flags_by_key(workspace.status_log.read()).get(key, [])


def check_job(workspace: Workspace, mode: Mode | str, day: KeyLike) -> None:
    """Refuse (:class:`StateError`, one line) a job of ``mode`` for ``day`` whose date moved past processing."""
    key = ProcessingKey.of(day).text
    refusal = job_refusal(flags_of(workspace, key), mode, key)
    if refusal is not None:
        raise StateError(refusal)


def check_dag(workspace: Workspace, dag_id: str) -> None:
    """:func:`check_job` for the cascade of a date (``CALIB_2013-02-12``, ``QC_...``, ``..._sub``); other cascades
    (phoenix groups) are not judged here."""
    from dfos.errors import DfosError

    try:
        batch = BatchId.parse(dag_id)
    except DfosError:
        return
    check_job(workspace, batch.mode, batch.key)


@dataclass(frozen=True)
class EndJob:
    flag: str
    ran: int
    failed: int
    marked: tuple[str, ...]
    """The job files whose block of the date was marked executed."""


def _cascade_work(workspace: Workspace, batch: BatchId) -> tuple[int, int]:
    """(ABs of the cascade that ran, of which failed); StateError when an AB of its execution file is gone or
    none ran."""
    from dfos.cascade.run import cascade_state

    dag = batch.render()
    jobs = workspace.job_dir / f"execAB_{dag}"
    try:
        listed = [line.ab for line in parse_exec(jobs.read_text(encoding="utf-8"), source=str(jobs)).lines]
    except FileNotFoundError:
        raise StateError(f"no {jobs.name}: nothing was processed for {batch.mode} {batch.key}, so "
                         f"{mode_flag(batch.mode, Stage.QC)} is not written") from None
    missing = [name for name in listed if not (workspace.ab_dir / name).is_file()]
    if missing:
        raise StateError(f"{len(missing)} of the {len(listed)} ABs of {jobs.name} are not in {workspace.ab_dir} "
                         f"(e.g. {missing[0]}): the cascade did not run them, so {mode_flag(batch.mode, Stage.QC)} "
                         "is not written")
    try:
        rows = {str(r["ab"]): r for r in cascade_state(workspace, dag)}
    except NotFound:
        rows = {}
    ran = [rows[n] for n in listed if n in rows and rows[n]["state"] in ("succeeded", "failed")]
    if not ran:
        raise StateError(f"no AB of {dag} ran: {mode_flag(batch.mode, Stage.QC)} is not written")
    return len(ran), sum(1 for r in ran if r["state"] == "failed")


def end_job(workspace: Workspace, mode: Mode | str, day: KeyLike, by: str | None = None) -> EndJob:
    """The last line of a job block: ``<mode>_QC`` for work done, then the block is marked executed."""
    batch = BatchId.of(mode, day)
    check_job(workspace, batch.mode, batch.key)
    ran, failed = _cascade_work(workspace, batch)
    flag = mode_flag(batch.mode, Stage.QC)
    workspace.status_log.append(flag, batch.key.text, clock.now(workspace.settings))
    marked = mark_block(workspace, batch.mode, batch.key, 11 if failed else 0, by)
    return EndJob(flag, ran, failed, marked)


def mark_block(workspace: Workspace, mode: Mode | str, day: KeyLike, exit_code: int,
               by: str | None = None) -> tuple[str, ...]:
    """Mark the block of ``mode`` and ``day`` executed in JOBS_NIGHT and JOBS_AUTO; the files changed."""
    batch = BatchId.of(mode, day)
    marker = executed_marker(format_timestamp(clock.now(workspace.settings)), by or who(), exit_code)
    changed = []
    for name in AUTO_FILES:
        path = workspace.job_dir / name
        if not path.is_file():
            continue
        with exclusive_lock(path.with_name(f".{name}.lock")):
            text, count = mark_executed(path.read_text(encoding="utf-8"), batch.mode.value, batch.key.text, marker)
            if count:
                write_text_atomic(path, text, mode=0o755)
                changed.append(name)
    return tuple(changed)


def _date_files(workspace: Workspace, batches: list[BatchId]) -> list[Path]:
    if not workspace.job_dir.is_dir():
        return []
    bases = [f"{prefix}{batch.render()}" for batch in batches for prefix in _PREFIXES]
    return sorted(p for p in workspace.job_dir.iterdir() if p.is_file() and any(
        p.name == base or p.name.startswith((f"{base}_sub", f"{base}.")) for base in bases))


def remove_date_jobs(workspace: Workspace, day: KeyLike, modes: tuple[Mode, ...] = tuple(Mode),
                     note: Callable[[str], None] = lambda _: None) -> list[str]:
    """Remove the job files of ``day`` (its ``modes``) and its blocks in JOBS_NIGHT / JOBS_AUTO; what was removed,
    each also said to ``note``."""
    key = ProcessingKey.of(day).text
    removed = []
    for path in _date_files(workspace, [BatchId.of(mode, key) for mode in modes]):
        path.unlink(missing_ok=True)
        removed.append(path.name)
    wanted = {mode.value for mode in modes}

    def chosen(span: Span) -> bool:
        return span.date == key and span.mode in wanted

    for name in AUTO_FILES:
        path = workspace.job_dir / name
        if not path.is_file():
            continue
        with exclusive_lock(path.with_name(f".{name}.lock")):
            text, gone = drop_blocks(path.read_text(encoding="utf-8"), chosen)
            if gone:
                write_text_atomic(path, text, mode=0o755)
        removed += [f"{name}: the {s.mode} block of {key}" for s in gone]
    for item in removed:
        note(f"removed {item}")
    return removed


@dataclass(frozen=True)
class ResetResult:
    abs: tuple[str, ...]
    products: tuple[str, ...]
    job_files: tuple[str, ...]
    flag: str


def _reset_products(workspace: Workspace, names: list[str]) -> list[str]:
    """Delete the products of ``names`` still in ``$DFS_PRODUCT`` (moved ones are never touched)."""
    root = workspace.path("DFS_PRODUCT")
    gone = []
    for name in names:
        try:
            ab = read_ab(workspace.ab_dir, name)
            folder = confined(workspace.expand(ab.prod_path), root)
        except (NotFound, FormatError, UnsafeName):
            continue  # moved (its products are certified and elsewhere), or not in the product directory
        for product in ab.products:
            path = folder / product.name
            if path.is_file() and path.parent == folder:
                path.unlink()
                gone.append(path.name)
    return gone


def _forget_runs(workspace: Workspace, batch: BatchId) -> None:
    """The run states of the batch's cascades (ABs, QC, subcascade) are forgotten; refused while one runs."""
    from sqlalchemy import delete

    from dfos.cascade.run import _single
    from dfos.db import cascade_nodes, engine_for_url

    for dag in (batch.render(), BatchId.of(batch.mode, batch.key, qc=True).render(),
                BatchId.of(batch.mode, batch.key, sub=True).render()):
        with _single(workspace, dag), engine_for_url(workspace.db_url).begin() as db:
            db.execute(delete(cascade_nodes).where(cascade_nodes.c.dag_id == dag))


def reset_date(workspace: Workspace, mode: Mode | str, day: date, force: bool = False,
               note: Callable[[str], None] = lambda _: None) -> ResetResult:
    """``dfos reset``: the mode's ABs (files and list, so their DONE tags), run states, job files and unmoved
    products of ``day`` removed, ``<mode>_Reset`` appended and a line in ``$DFO_MON_DIR/HISTORY``."""
    batch = BatchId.of(mode, day)
    key = batch.key.text
    refusal = reset_refusal(flags_of(workspace, key), batch.mode, key, force)
    if refusal is not None:
        raise StateError(refusal)
    _forget_runs(workspace, batch)  # first: refused (nothing removed) while an executor runs the cascade
    ab_list = workspace.ab_list(batch.mode, key)
    with exclusive_lock(ab_list_lock(ab_list)):
        names = [e.name for e in read_ab_list(ab_list)]
        products = _reset_products(workspace, names)
        removed_abs = []
        for name in names:
            path = workspace.ab_dir / name
            if path.is_file():
                path.unlink()
                removed_abs.append(name)
        ab_list.unlink(missing_ok=True)
    jobs = remove_date_jobs(workspace, key, (batch.mode,), note)
    now = clock.now(workspace.settings)
    flag = mode_flag(batch.mode, Stage.RESET)
    workspace.status_log.append(flag, key, now)
    _history(workspace, f"{key} {flag} {format_timestamp(now)} by {who()}: {len(removed_abs)} ABs, "
                        f"{len(products)} products, {len(jobs)} job files removed")
    return ResetResult(tuple(removed_abs), tuple(products), tuple(jobs), flag)


def _history(workspace: Workspace, line: str) -> None:
    history = workspace.mon_dir / "HISTORY"
    with exclusive_lock(history.with_name(".HISTORY.lock")):
        old = history.read_text(encoding="utf-8") if history.is_file() else ""
        write_text_atomic(history, old + line + "\n")


def recreate_job(workspace: Workspace, day: KeyLike, mode: Mode | str, auto: bool = False) -> JobFiles:
    """``dfos create-job -r``: the date's job files and block written anew from its ABs still in ``$DFO_AB_DIR``
    (DONE ones too), into the job file that held its block (JOBS_AUTO with ``auto``): the old block is replaced,
    never doubled, and a block of the date in the other job file, or a subcascade file, is removed."""
    from dfos.steps.create_job import create_job

    batch = BatchId.of(mode, day)
    check_job(workspace, batch.mode, batch.key)
    held = [name for name in AUTO_FILES if (workspace.job_dir / name).is_file()
            and f"# pipeline jobs for {batch.mode.value}, {batch.key.text} (" in
            (workspace.job_dir / name).read_text(encoding="utf-8")]
    auto = auto or held == ["JOBS_AUTO"]
    files = create_job(workspace, batch.key, batch.mode, auto=auto, redo_done=True)
    other = workspace.job_dir / ("JOBS_NIGHT" if auto else "JOBS_AUTO")
    if other.is_file():
        with exclusive_lock(other.with_name(f".{other.name}.lock")):
            text, gone = drop_blocks(other.read_text(encoding="utf-8"),
                                     lambda s: s.mode == batch.mode.value and s.date == batch.key.text)
            if gone:
                write_text_atomic(other, text, mode=0o755)
    for path in _date_files(workspace, [batch]):
        if path.name.startswith(tuple(f"{prefix}{batch.render()}_sub" for prefix in _PREFIXES)):
            path.unlink(missing_ok=True)
    return files
