"""Driving a cascade: execution file + scheduler + executor, with every state kept in the database.

The state of each AB (``cascade_nodes``) is written before it starts and when it
ends, so after the executor is killed (even ``kill -9``) the next run resumes:
succeeded ABs never run again, an AB that was running runs again once (its
leftover recipe process, if any, is killed first).  With a batch executor
(Slurm, HTCondor) the jobs outlive dfos: a restarted run adopts them by the
backend ids stored with their states and follows them to their end.  One executor per cascade:
a second ``exec-cascade`` of the same id stops at once.  A graceful stop
(``dfos stop-cascade``) lets running ABs finish and starts nothing new.

A parent that the execution file does not list (an AB of another batch: the CALIB AB that makes a
SCIENCE AB's virtual calibration) is an *external* parent: this cascade never runs it, it waits
until that AB succeeded in its own cascade, and blocks the AB when it failed
(:mod:`dfos.cascade.externals`).

This module sets a run up (the execution file read into a :class:`~dfos.cascade.scheduler.Scheduler`,
the earlier run's states restored, its leftovers ended); :mod:`dfos.cascade.events` decides what
happens next and :mod:`dfos.cascade.runner` carries it out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dfos import clock
from dfos.ab.model import AB, Completeness, ProcessStatus
from dfos.ab.store import read_ab
from dfos.cascade.clusters import ClusterRule, expected_seconds
from dfos.cascade.events import (
    MAX_BOUNCES,
    BatchDispatch,
    CascadeProgress,
    Dispatch,
    Dispatcher,
    LocalDispatch,
    settled_state,
)
from dfos.cascade.externals import External, ExternalState, Sighting, judge_external
from dfos.cascade.scheduler import HANDED_OUT, Node, NodeState, Scheduler
from dfos.dates import format_timestamp
from dfos.errors import DfosError, ExitCode, FormatError, NotFound, StateError
from dfos.executors.base import Executor, Handle
from dfos.fsutil import exclusive_lock, read_utf8, write_text_atomic
from dfos.jobs.model import find_cycle, parse_exec
from dfos.naming import safe_name
from dfos.workspace import Workspace

__all__ = [
    "CASCADE_BUSY",
    "CASCADE_FAILED",
    "MAX_BOUNCES",
    "STOP_NOW",
    "CascadeResult",
    "cascade_state",
    "check_dag_id",
    "dispatch_for",
    "forget_cascade",
    "look_outside",
    "request_stop",
    "run_cascade",
    "stop_requested",
    "work_dir",
]

#: Exit status of ``exec-cascade`` when some AB failed or was blocked.
CASCADE_FAILED = ExitCode.CASCADE_FAILED
#: Exit status of ``exec-cascade`` when another executor already runs the cascade.
CASCADE_BUSY = ExitCode.CASCADE_BUSY
#: Execution-file kinds that run one AB at a time.
SERIAL_KINDS = frozenset({"CPL", "INT", "SER"})
#: The states of ABs that keep a cascade from being done well.
UNFINISHED = (NodeState.FAILED, NodeState.BLOCKED, NodeState.WAITING, NodeState.SUBMITTED, NodeState.RUNNING)


class CascadeBusy(DfosError):
    exit_code = CASCADE_BUSY


@dataclass(frozen=True)
class CascadeResult:
    dag_id: str
    counts: dict[str, int]
    kind: str = "CON"
    """The execution file's kind (CON, CPL, INT; SER, PAR or IMPLICIT for QC)."""
    recovered: tuple[str, ...] = ()
    """ABs whose success this run learned from their run records: the executor that ran them was killed after
    their recipe was recorded and before it saw them end (what came after the record in their task, QC with
    QCBQS_TYPE IMPLICIT, may not have run)."""

    @property
    def ok(self) -> bool:
        return all(self.counts.get(state, 0) == 0 for state in UNFINISHED)


def check_dag_id(dag_id: str) -> str:
    """A cascade id names files in $DFO_JOB_DIR (its lock, its stop request): one safe file name, else
    :class:`~dfos.errors.UnsafeName`."""
    return safe_name(dag_id, "cascade id")


def _stop_file(workspace: Workspace, dag_id: str) -> Path:
    return workspace.job_dir / f".stop_{check_dag_id(dag_id)}"


#: The text of the stop request file of ``stop-cascade --now`` (a graceful stop's file is empty).
STOP_NOW = "now\n"


def request_stop(workspace: Workspace, dag_id: str, now: bool = False) -> None:
    """Ask the executor of a cascade to start nothing new (running ABs finish); ``now``: the running ABs are being
    ended (``stop-cascade --now``), so that their failed ends are taken as cancelled."""
    path = _stop_file(workspace, dag_id)
    if now:
        write_text_atomic(path, STOP_NOW)
    else:
        path.touch()


def stop_requested(workspace: Workspace, dag_id: str) -> bool:
    """A graceful stop of the cascade was asked for (a cluster job starts none of its ABs left)."""
    return _stop_file(workspace, dag_id).exists()


def _stop_now(path: Path) -> Callable[[], bool]:
    """Whether the stop request at ``path`` is ``stop-cascade --now``'s."""
    def now() -> bool:
        try:
            return path.read_text(encoding="utf-8") == STOP_NOW
        except OSError:
            return False
    return now


@contextmanager
def _single(workspace: Workspace, dag_id: str) -> Iterator[None]:
    # A recipe being started when its executor was killed holds a copy of the lock until it
    # executes (microseconds to milliseconds): wait briefly before calling the cascade busy.
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(exclusive_lock(workspace.job_dir / f".cascade_{check_dag_id(dag_id)}.lock", wait=2.0))
        except BlockingIOError:  # only the lock's own: one raised while the cascade runs is not "busy"
            raise CascadeBusy(f"cascade {dag_id} is already being run by another executor; "
                              f"see 'dfos cascade-stat --dag-id {dag_id}'") from None
        yield


def _listed_ab(workspace: Workspace, jobs: Path, name: str) -> AB:
    """An AB the execution file names; StateError naming the file when it is gone."""
    try:
        return read_ab(workspace.ab_dir, name)
    except NotFound:
        raise StateError(f"{jobs} names {name}, which is not in {workspace.ab_dir}; write the execution file anew "
                         "with 'dfos create-job'") from None


def _nodes(workspace: Workspace, jobs: Path) -> tuple[list[Node], str, dict[str, External]]:
    """The cascade's ABs, the execution file's kind, and the parents in other cascades (by AB)."""
    try:
        exec_file = parse_exec(read_utf8(jobs), source=str(jobs))
    except FileNotFoundError:
        raise NotFound(f"no execution file {jobs}; write it with 'dfos create-job'") from None
    except IsADirectoryError:
        raise NotFound(f"{jobs} is a directory, not an execution file") from None
    except FormatError as exc:
        raise FormatError(exc.message) from None
    inside = {line.ab for line in exec_file.lines}
    cores = os.cpu_count() or 1
    nodes = []
    externals: dict[str, External] = {}
    for line in exec_file.lines:
        ab = _listed_ab(workspace, jobs, line.ab)
        if line.program == "processQC":  # QC of one AB depends on nothing else; it needs the AB's products
            nodes.append(Node(line.ab, (), category="qc", program="processQC",
                              incomplete=ab.process_status is not ProcessStatus.SUCCESSFUL))
            continue
        # CON lines carry the parents; serial files (CPL, INT) take them from the ABs' WAITFOR, so that
        # a failure blocks only what depends on it (they run one AB at a time: see run_cascade).  A parent
        # the file does not list is an AB of another cascade: watched, never run here
        parents = line.parents if exec_file.kind == "CON" else ab.waitfor
        for parent in parents:
            if parent not in inside and parent not in externals:
                externals[parent] = External(parent, _batch_of(workspace, parent), ab.batch_id)
        nodes.append(Node(line.ab, tuple(parents), category=ab.recipe,
                          incomplete=ab.completeness is Completeness.INCOMPLETE,
                          threads=cores if line.local_parallel else 1))
    cycle = find_cycle({node.name: node.parents for node in nodes})
    if cycle:  # (a CON file's own parents were checked when it was read: these come from the ABs' WAITFOR)
        raise FormatError(f"{jobs}: its ABs wait for each other in a cycle ({' -> '.join(cycle)}, WAITFOR of their "
                          f"AB files in {workspace.ab_dir}), so none of them could ever run")
    return nodes, exec_file.kind, externals


def _batch_of(workspace: Workspace, name: str) -> str:
    """The batch of an AB of another cascade; an AB that is gone (superseded) is judged at the first look: it
    blocks the ABs behind it, with the advice to associate them anew."""
    try:
        return read_ab(workspace.ab_dir, name).batch_id
    except (NotFound, FormatError):
        return "another cascade"


def look_outside(workspace: Workspace, store: Any) -> Callable[[Sequence[External]], dict[str, ExternalState]]:
    """How a runner learns what became of parents in other cascades: their AB files, their rows in their own
    cascades and their certification decisions (``store``: a :class:`~dfos.cascade.runner.NodeStore`), judged by
    :func:`~dfos.cascade.externals.judge_external`."""
    def look(parents: Sequence[External]) -> dict[str, ExternalState]:
        rows, decisions = store.outside(parents)
        found = {}
        for parent in parents:
            try:
                ab = read_ab(workspace.ab_dir, parent.name)
            except NotFound:
                seen = Sighting(None)
            except FormatError:  # being rewritten, or broken: looked at again
                continue
            else:
                seen = Sighting(ab.process_status, ab.completeness is Completeness.COMPLETE, rows.get(parent.name),
                                decisions.get(parent.name))
            found[parent.name] = judge_external(parent, seen)
        return found

    return look


def _cascade_work(workspace: Workspace, dag_id: str) -> Path:
    """The cascade's working area: ``.work/<cascade>``."""
    return workspace.work_root / dag_id.replace("/", "_")


def work_dir(workspace: Workspace, dag_id: str, ab: str, attempt: int) -> Path:
    """The working directory of one attempt of an AB in a cascade: ``.work/<cascade>/<AB stem>.<attempt>``.

    Its name is known in advance, so a successor executor finds what a killed one left behind, at
    any point of its life (even before its marker was written or after it was half removed).
    """
    return _cascade_work(workspace, dag_id) / f"{ab.removesuffix('.ab')}.{attempt}"


def _remove_cut_work(workspace: Workspace, dag_id: str, runs: dict[str, int]) -> bool:
    """Working directories of the cut runs (AB -> attempt) are removed; failures' are kept for inspection.

    True when none is left (a recipe not yet ended may still have written into one: the next pass
    removes it, found again by its name).
    """
    works = [work_dir(workspace, dag_id, ab, attempt) for ab, attempt in runs.items()]
    for work in works:
        shutil.rmtree(work, ignore_errors=True)
    return not any(work.exists() for work in works)


def _clear_leftovers(workspace: Workspace, dag_id: str, runs: dict[str, int], executor: Executor) -> None:
    """End the recipes a dead executor of this cascade left running (:meth:`Executor.end_leftovers`), then
    remove their working directories.

    Repeated until a pass finds nothing (a recipe caught in the middle of starting shows its marker
    only once it runs), for at most a few seconds.
    """
    deadline = time.monotonic() + 5.0
    while True:
        killed = executor.end_leftovers(workspace.root, dag_id)
        clean = _remove_cut_work(workspace, dag_id, runs)
        if (not killed and clean) or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def run_cascade(
    workspace: Workspace,
    dag_id: str,
    jobs: Path,
    executor: Executor,
    slots: int | None = None,
    progress: Callable[[CascadeProgress], None] | None = None,
) -> CascadeResult:
    """Run (or resume) a cascade until it is done or stopped; see the module docstring."""
    # SQLAlchemy is imported by the functions that use it: a batch job (processAB of one AB of a cascade,
    # which needs only work_dir) starts its recipe sooner

    from dfos.cascade.runner import NodeStore, Runner, interruptible
    from dfos.db import engine_for_url

    engine = engine_for_url(workspace.db_url)
    settings = workspace.settings
    with _single(workspace, dag_id):
        stop_file = _stop_file(workspace, dag_id)
        stop_file.unlink(missing_ok=True)
        nodes, kind, externals = _nodes(workspace, jobs)
        dispatch = dispatch_for(executor, _cluster_rule(workspace, engine, executor))
        slots = 1 if kind in SERIAL_KINDS else slots or settings.SLOTS or os.cpu_count() or 1
        if kind == "CON" and settings.FLAVOUR.value == "opshub":  # createJob's MAX_JOBS (docs/opshub.md)
            slots = min(slots, settings.MAX_JOBS)
        limits = {"download": settings.DOWNLOAD_SLOTS, **settings.recipe_limits}
        scheduler = Scheduler({n.name: n for n in nodes}, slots, limits, settings.MAX_ATTEMPTS, batch=dispatch.batch,
                              externals=tuple(externals))
        adopted, recovered = _resume(workspace, engine, dag_id, scheduler, executor)
        store = NodeStore(engine, dag_id, lambda: format_timestamp(clock.now(settings)))
        runner = Runner(Dispatcher(scheduler, dispatch, dag_id, adopted, externals), executor, store,
                        stop_file.exists, progress, look_outside(workspace, store), _stop_now(stop_file))
        try:
            with interruptible() as interrupted:
                return CascadeResult(dag_id, runner.run(interrupted), kind, recovered)
        finally:
            store.close()
            with contextlib.suppress(OSError):  # the cascade's working area, once nothing is kept in it
                _cascade_work(workspace, dag_id).rmdir()


def dispatch_for(executor: Executor, rule: ClusterRule | None = None) -> Dispatch:
    """How ABs are handed to ``executor``: all at once to a batch system (short ABs clustered by ``rule``),
    within the slots here."""
    return BatchDispatch(rule) if executor.batch else LocalDispatch()


def _cluster_rule(workspace: Workspace, engine: Any, executor: Executor) -> ClusterRule:
    """BATCH_CLUSTER and BATCH_CLUSTER_SECONDS, with the recipes' times from the workspace's run records (an
    executor that cannot run several ABs in one job gets one job per AB)."""
    settings = workspace.settings
    if not (executor.batch and executor.clusters) or settings.BATCH_CLUSTER <= 1:
        return ClusterRule()
    from sqlalchemy import select

    from dfos.db import ab_runs

    walls: dict[str, list[float]] = {}
    with engine.begin() as db:
        for recipe, wall in db.execute(select(ab_runs.c.recipe, ab_runs.c.wall_s).where(
                ab_runs.c.status == ProcessStatus.SUCCESSFUL.value, ab_runs.c.wall_s.is_not(None))):
            walls.setdefault(recipe, []).append(float(wall))
    return ClusterRule(settings.BATCH_CLUSTER, settings.BATCH_CLUSTER_SECONDS, expected_seconds(walls))


def _resume(workspace: Workspace, engine: Any, dag_id: str, scheduler: Scheduler,
            executor: Executor) -> tuple[dict[str, Handle], tuple[str, ...]]:
    """Take over what an earlier run of the cascade left (states, attempts, batch jobs to adopt, leftovers of cut
    runs to end) and store every AB's state anew; returns the adopted jobs by AB, and the ABs handed out whose
    success only their run records tell (:attr:`CascadeResult.recovered`)."""
    from sqlalchemy import delete, insert, select

    from dfos.db import ab_runs, cascade_nodes

    max_attempts = workspace.settings.MAX_ATTEMPTS
    with engine.begin() as db:
        rows = {r["ab"]: r for r in
                db.execute(select(cascade_nodes).where(cascade_nodes.c.dag_id == dag_id)).mappings().all()}
        recorded = {(r.ab, r.attempt): r.status for r in db.execute(
            select(ab_runs.c.ab, ab_runs.c.attempt, ab_runs.c.status).where(ab_runs.c.dag_id == dag_id))}
        restored = {name: (settled_state(_stored_state(row["state"]), row["attempts"],
                                         recorded.get((name, row["attempts"])), max_attempts), int(row["attempts"]))
                    for name, row in rows.items()}
        adopted = {name: Handle(name, str(rows[name]["backend_id"])) for name, (state, _) in restored.items()
                   if state in HANDED_OUT and rows[name]["backend_id"] and name in scheduler.nodes}
        adopted = {name: Handle(name, adopted[name].backend_id, executor.cluster_of(name))
                   for name in executor.adopt(adopted.values()) if name in adopted}
        cut = {name: attempts for name, (state, attempts) in restored.items()
               if state is NodeState.RUNNING and name not in adopted}
        if cut:  # a dead executor's runs: end what they left behind
            _clear_leftovers(workspace, dag_id, cut, executor)
        recovered = tuple(name for name, (state, _) in restored.items() if name in scheduler.nodes
                          and state is NodeState.SUCCEEDED and _stored_state(rows[name]["state"]) in HANDED_OUT)
        scheduler.restore({k: v for k, v in restored.items() if k in scheduler.nodes}, adopted)
        names = list(scheduler.nodes)  # rows of ABs not in this file are left as they are
        db.execute(delete(cascade_nodes).where(cascade_nodes.c.dag_id == dag_id, cascade_nodes.c.ab.in_(names)))
        now = format_timestamp(clock.now(workspace.settings))
        fresh = [_fresh_row(dag_id, name, scheduler, rows.get(name), adopted.get(name), now) for name in names]
        if fresh:  # an empty execution file (QCBQS_TYPE IMPLICIT's execQC) has nothing to store
            db.execute(insert(cascade_nodes), fresh)
    return adopted, recovered


#: The state ``dfos stop-cascade --now`` gives the ABs it cancelled (not ``failed``): they run again when the
#: cascade is run again (``dfos requeue``).
CANCELLED = "cancelled"


def _stored_state(state: str) -> NodeState:
    """A state as stored in ``cascade_nodes``: a cancelled AB waits to run again."""
    return NodeState.WAITING if state == CANCELLED else NodeState(state)


def _fresh_row(dag_id: str, name: str, scheduler: Scheduler, old: Any, adopted: Handle | None,
               now: str) -> dict[str, object]:
    """The ``cascade_nodes`` row of an AB as a run starts: its restored state, what the last run said of it, and
    the batch job it follows (a waiting AB has none)."""
    state = scheduler.state(name)
    kept = old is not None and state is not NodeState.WAITING
    backend_id = adopted.backend_id if adopted else old["backend_id"] if kept else None
    return {"dag_id": dag_id, "ab": name, "state": state.value, "attempts": scheduler.attempts(name), "updated": now,
            "exit_code": old["exit_code"] if old is not None else None,
            "wall_s": old["wall_s"] if old is not None else None, "backend_id": backend_id,
            "reason": old["reason"] if kept else None}


def cascade_state(workspace: Workspace, dag_id: str) -> list[dict[str, object]]:
    """The persisted state of every AB of a cascade (``cascade-stat``), with the AB whose products its newest
    run in the cascade reused (``reused_from``; None: its recipe ran, or it has not run)."""
    from sqlalchemy import func, select

    from dfos.db import ab_runs, cascade_nodes, engine_for_url
    from dfos.db.faults import shown_url

    newest = (select(func.max(ab_runs.c.id).label("id")).where(ab_runs.c.dag_id == dag_id)
              .group_by(ab_runs.c.ab).subquery())
    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(cascade_nodes).where(cascade_nodes.c.dag_id == dag_id)).mappings().all()
        reused = {row.ab: row.reused_from for row in db.execute(
            select(ab_runs.c.ab, ab_runs.c.reused_from).join(newest, ab_runs.c.id == newest.c.id))} if rows else {}
    if not rows:
        raise NotFound(f"no cascade {dag_id} in {shown_url(workspace.db_url)}; start it with 'dfos exec-cascade'")
    return [{"ab": r["ab"], "state": r["state"], "attempts": r["attempts"], "exit_code": r["exit_code"],
             "wall_s": r["wall_s"], "backend_id": r["backend_id"], "reason": r["reason"],
             "reused_from": reused.get(r["ab"])} for r in rows]


def forget_cascade(workspace: Workspace, dag_id: str, names: list[str] | None = None) -> None:
    """Queue a cascade anew (createJob): its ABs (``names``; default every one) wait again; attempts keep
    counting, so that run records of earlier queues are never taken for this one's.  ABs not queued
    again (DONE ones) keep their state.  Refused while an executor runs the cascade, and while batch jobs
    a killed executor submitted are still queued."""
    from sqlalchemy import select, update

    from dfos.db import cascade_nodes, engine_for_url

    with _single(workspace, dag_id), engine_for_url(workspace.db_url).begin() as db:
        queued = db.execute(select(cascade_nodes.c.ab, cascade_nodes.c.backend_id).where(
            cascade_nodes.c.dag_id == dag_id, cascade_nodes.c.state == NodeState.SUBMITTED.value,
            cascade_nodes.c.backend_id.is_not(None), cascade_nodes.c.backend_id != "")).all()
        if queued:  # a killed dfos left batch jobs: queuing anew would run those ABs twice
            raise StateError(f"cascade {dag_id} still has {len(queued)} batch jobs queued (e.g. {queued[0][0]}, job "
                            f"{queued[0][1]}); follow them to their end with 'dfos exec-cascade --dag-id {dag_id}' "
                            f"first")
        chosen = update(cascade_nodes).where(cascade_nodes.c.dag_id == dag_id)
        if names is not None:
            chosen = chosen.where(cascade_nodes.c.ab.in_(names))
        db.execute(chosen.values(state=NodeState.WAITING.value, pid=None, backend_id=None, exit_code=None,
                                 wall_s=None, reason=None))
