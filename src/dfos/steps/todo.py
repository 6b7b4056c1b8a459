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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

__all__ = [
    "AUTO_FILES",
    "Cancelled",
    "EndJob",
    "ResetResult",
    "check_dag",
    "check_job",
    "date_job_files",
    "end_job",
    "flags_of",
    "mark_block",
    "recreate_job",
    "remove_date_jobs",
    "requeue",
    "reset_date",
    "stop_now",
    "who",
]

#: The job files createJob writes blocks into.
AUTO_FILES = ("JOBS_NIGHT", "JOBS_AUTO")
_PREFIXES = ("execAB_", "execQC_", "rawDown_", "mcalDown_")


def who() -> str:
    """The person running a command: the login name."""
    try:
        return getpass.getuser()
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
    _refuse_unended(workspace, batch, [(n, str(rows[n]["state"])) for n in listed if n in rows])
    return len(ran), sum(1 for r in ran if r["state"] == "failed")


#: Cascade states of an AB that did not run to an end: waiting or handed out (a stopped cascade), or cancelled.
UNENDED = ("waiting", "submitted", "running", "cancelled")


def _refuse_unended(workspace: Workspace, batch: BatchId, states: list[tuple[str, str]]) -> None:
    """Refuse ``<mode>_QC`` while ABs of the cascade did not run to an end (a stop left them waiting, an abort
    cancelled them): the date would go on to certification without them."""
    unended = [(name, state) for name, state in states if state in UNENDED]
    if not unended:
        return
    dag, flag, day = batch.render(), mode_flag(batch.mode, Stage.QC), f"-m {batch.mode} -d {batch.key}"
    if any(state == "cancelled" for _, state in unended):
        how = f"re-run them (AB monitor, or 'dfos requeue {day}'), then 'dfos end-job {day}' (or createJob + run)"
    else:
        how = (f"run the cascade again, it resumes (createJob + run, or 'dfos exec-cascade --dag-id {dag} --jobs "
               f"{workspace.job_dir / f'execAB_{dag}'}' then 'dfos end-job {day}')")
    named = ", ".join(f"{name} {state}" for name, state in unended[:3]) + (", ..." if len(unended) > 3 else "")
    raise StateError(f"{flag} not written: {len(unended)} AB(s) of {dag} did not run to an end; {how} ({named})")


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
    """The job files of these batches: execAB/execQC/rawDown/mcalDown, their subcascade and DAGMan files."""
    if not workspace.job_dir.is_dir():
        return []
    bases = [f"{prefix}{batch.render()}" for batch in batches for prefix in _PREFIXES]
    return sorted(p for p in workspace.job_dir.iterdir() if p.is_file() and any(
        p.name == base or p.name.startswith((f"{base}_sub", f"{base}.")) for base in bases))


def date_job_files(workspace: Workspace, day: KeyLike, modes: tuple[Mode, ...] = tuple(Mode)) -> list[Path]:
    """The job files :func:`remove_date_jobs` removes for ``day`` (what finish's confirmation names)."""
    key = ProcessingKey.of(day).text
    return _date_files(workspace, [BatchId.of(mode, key) for mode in modes])


def remove_date_jobs(workspace: Workspace, day: KeyLike, modes: tuple[Mode, ...] = tuple(Mode),
                     note: Callable[[str], None] = lambda _: None) -> list[str]:
    """Remove the job files of ``day`` (its ``modes``) and its blocks in JOBS_NIGHT / JOBS_AUTO; what was removed,
    each also said to ``note``."""
    key = ProcessingKey.of(day).text
    removed = []
    for path in date_job_files(workspace, key, modes):
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


@dataclass(frozen=True)
class Cancelled:
    dag_id: str
    abs: tuple[str, ...]
    """The ABs that were running (or queued at a batch system) and are now ``cancelled``."""


def stop_now(workspace: Workspace, dag_id: str, wait: float = 120.0) -> Cancelled:
    """``dfos stop-cascade --now``: nothing new starts, the running recipes are ended (this machine: their process
    groups, killed; Slurm / HTCondor: their jobs cancelled through the executor), and once the cascade's executor
    let go, those ABs are ``cancelled`` (not ``failed``): running the cascade again runs them again."""
    from dfos.cascade.run import cascade_state, request_stop

    def handed_out() -> dict[str, dict[str, object]]:
        return {str(r["ab"]): r for r in cascade_state(workspace, dag_id) if r["state"] in ("running", "submitted")}

    chosen = handed_out()  # NotFound for a cascade that never ran; read before the runner sees the request ...
    request_stop(workspace, dag_id, now=True)
    chosen.update(handed_out())  # ... and after it (an AB handed out in between)
    _end_recipes(workspace, dag_id, list(chosen.values()))
    return Cancelled(dag_id, _mark_cancelled(workspace, dag_id, list(chosen), wait))


def _end_recipes(workspace: Workspace, dag_id: str, rows: list[dict[str, object]]) -> None:
    """End the recipes of ``rows``: killed here (process groups, found by their DFOS_RUN mark), cancelled at the
    batch system for a batch executor."""
    from dfos.executors.base import Handle
    from dfos.executors.local import kill_leftover_recipes

    name = workspace.settings.EXECUTOR
    handles = [Handle(str(r["ab"]), str(r["backend_id"])) for r in rows if r["backend_id"]]
    if name != "local" and handles:  # first the batch system (its jobs end there), then what is left here
        from dfos.steps.cascade import make_executor

        executor = make_executor(workspace, name, lambda task, on_start: (False, None, "not run here"))
        try:
            executor.abort(handles)
        finally:
            executor.close()
    kill_leftover_recipes(workspace.root, dag_id)


def _mark_cancelled(workspace: Workspace, dag_id: str, names: list[str], wait: float) -> tuple[str, ...]:
    """Wait (at most ``wait`` seconds) until no executor runs the cascade, then mark ``names`` cancelled."""
    import time

    from sqlalchemy import update

    from dfos.cascade.run import CANCELLED, CascadeBusy, _single
    from dfos.db import cascade_nodes, engine_for_url

    deadline = time.monotonic() + wait
    while True:
        try:
            with _single(workspace, dag_id), engine_for_url(workspace.db_url).begin() as db:
                if names:
                    reason = f"cancelled by stop-cascade --now at {format_timestamp(clock.now(workspace.settings))}" \
                             f" by {who()}"
                    ended = _succeeded(db, dag_id, names)
                    names = [n for n in names if n not in ended]
                    db.execute(update(cascade_nodes).where(cascade_nodes.c.dag_id == dag_id,
                                                           cascade_nodes.c.ab.in_(names))
                               .values(state=CANCELLED, pid=None, backend_id=None, reason=reason))
                    _unblock(db, dag_id, names)
                return tuple(sorted(names))
        except CascadeBusy:
            if time.monotonic() > deadline:
                raise StateError(f"the executor of {dag_id} did not end within {wait:.0f} s; its recipes were "
                                 "killed: mark them with 'dfos stop-cascade --now' again") from None


def _succeeded(db: Any, dag_id: str, names: list[str]) -> set[str]:
    """The ABs of ``names`` that succeeded before they could be ended: ``succeeded``, or (their executor gone before
    it saw them end) their current attempt's run record says so; they are left as they are (the next run of the
    cascade recovers the latter)."""
    from sqlalchemy import and_, select

    from dfos.db import ab_runs, cascade_nodes

    rows = db.execute(select(cascade_nodes.c.ab, cascade_nodes.c.state).where(
        cascade_nodes.c.dag_id == dag_id, cascade_nodes.c.ab.in_(names))).all()
    recorded = {ab for ab, in db.execute(select(cascade_nodes.c.ab).join(ab_runs, and_(
        ab_runs.c.dag_id == cascade_nodes.c.dag_id, ab_runs.c.ab == cascade_nodes.c.ab,
        ab_runs.c.attempt == cascade_nodes.c.attempts)).where(
        cascade_nodes.c.dag_id == dag_id, cascade_nodes.c.ab.in_(names), ab_runs.c.status == "SUCCESSFUL",
        cascade_nodes.c.state.in_(("running", "submitted"))))}
    return {ab for ab, state in rows if state == "succeeded"} | recorded


def _unblock(db: object, dag_id: str, names: list[str]) -> None:
    """ABs blocked because a cancelled AB "failed" wait again (it did not fail)."""
    from sqlalchemy import select, update

    from dfos.db import cascade_nodes

    blocked = db.execute(select(cascade_nodes.c.ab, cascade_nodes.c.reason).where(  # type: ignore[attr-defined]
        cascade_nodes.c.dag_id == dag_id, cascade_nodes.c.state == "blocked")).all()
    waiting = [ab for ab, reason in blocked if any(f"depends on {name}," in (reason or "") for name in names)]
    if waiting:
        db.execute(update(cascade_nodes).where(  # type: ignore[attr-defined]
            cascade_nodes.c.dag_id == dag_id, cascade_nodes.c.ab.in_(waiting)).values(
            state="waiting", reason=f"waits: {', '.join(names)} was cancelled"))


def requeue(workspace: Workspace, day: KeyLike, mode: Mode | str = Mode.CALIB, names: tuple[str, ...] = (),
            descendants: bool = False) -> tuple[str, tuple[str, ...]]:
    """``dfos requeue``: the cascade of a date queued again and run: its cancelled ABs (and blocked ones), or the
    ABs ``names`` (failed or succeeded ones too), with ``descendants`` every AB that depends on them.  ABs that
    succeeded and are not chosen are reused.  Returns the cascade id and the ABs queued again."""
    from dfos.cascade.run import cascade_state, forget_cascade
    from dfos.cascade.scheduler import Node
    from dfos.cascade.scheduler import descendants as below

    batch = BatchId.of(mode, day)
    check_job(workspace, batch.mode, batch.key)
    dag = batch.render()
    jobs = workspace.job_dir / f"execAB_{dag}"
    try:
        lines = parse_exec(jobs.read_text(encoding="utf-8"), source=str(jobs)).lines
    except FileNotFoundError:
        raise NotFound(f"no {jobs.name}: write it with 'dfos create-job -m {batch.mode} -d {batch.key}'") from None
    listed = {line.ab for line in lines}
    unknown = [n for n in names if n not in listed]
    if unknown:
        if unknown[0] in {e.name for e in read_ab_list(workspace.ab_list(batch.mode, batch.key))}:
            raise NotFound(f"{unknown[0]} is not in {jobs.name} (createJob left it out: it was done); run it again as "
                           f"its subcascade: 'dfos create-job -m {batch.mode} -d {batch.key} -a {unknown[0]}', then "
                           f"'dfos exec-cascade --dag-id {dag}_sub --jobs $DFO_JOB_DIR/execAB_{dag}_sub'")
        raise NotFound(f"{unknown[0]} is not an AB of {dag} ({jobs.name})")
    states = {str(r["ab"]): str(r["state"]) for r in cascade_state(workspace, dag)}
    chosen = set(names) or {n for n, s in states.items() if s in ("cancelled", "blocked")}
    if chosen:
        nodes = [Node(line.ab, tuple(p for p in line.parents if p in listed)) for line in lines]
        for name in list(chosen):
            found = below(nodes, name)
            chosen |= found if descendants else {n for n in found if states.get(n) in ("cancelled", "blocked")}
    if not chosen:
        raise StateError(f"nothing to queue again in {dag}: no AB is cancelled or blocked (name ABs with -a)")
    forget_cascade(workspace, dag, sorted(chosen))
    return dag, tuple(sorted(chosen))
