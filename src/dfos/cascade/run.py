"""Driving a cascade: execution file + scheduler + executor, with every state kept in the database.

The state of each AB (``cascade_nodes``) is written before it starts and when it
ends, so after the executor is killed (even ``kill -9``) the next run resumes:
succeeded ABs never run again, an AB that was running runs again once (its
leftover recipe process, if any, is killed first).  With a batch executor
(Slurm, HTCondor) the jobs outlive dfos: a restarted run adopts them by the
backend ids stored with their states and follows them to their end.  One executor per cascade:
a second ``exec-cascade`` of the same id stops at once.  A graceful stop
(``dfos stop-cascade``) lets running ABs finish and starts nothing new.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dfos import clock
from dfos.ab.model import AB, Completeness
from dfos.ab.store import read_ab
from dfos.cascade.scheduler import HANDED_OUT, Node, NodeState, Scheduler
from dfos.config.load import recipe_limits
from dfos.dates import format_timestamp
from dfos.errors import DfosError, FormatError, NotFound, StateError
from dfos.executors.base import Executor, Handle, Task
from dfos.fsutil import exclusive_lock, read_utf8
from dfos.jobs.model import find_cycle, parse_exec
from dfos.naming import safe_name
from dfos.workspace import Workspace

__all__ = ["CascadeResult", "cascade_state", "check_dag_id", "forget_cascade", "request_stop", "run_cascade"]

#: Exit status of ``exec-cascade`` when some AB failed or was blocked.
CASCADE_FAILED = 11
#: Exit status of ``exec-cascade`` when another executor already runs the cascade.
CASCADE_BUSY = 12
#: Times a batch job may be taken out of the queue unstarted (not by dfos) before its AB counts as failed.
MAX_BOUNCES = 3


class CascadeBusy(DfosError):
    exit_code = CASCADE_BUSY


@dataclass(frozen=True)
class CascadeResult:
    dag_id: str
    counts: dict[str, int]
    kind: str = "CON"
    """The execution file's kind (CON, CPL, INT; SER, PAR or IMPLICIT for QC)."""

    @property
    def ok(self) -> bool:
        return all(self.counts.get(state, 0) == 0 for state in ("failed", "blocked", "waiting", "submitted", "running"))


def check_dag_id(dag_id: str) -> str:
    """A cascade id names files in $DFO_JOB_DIR (its lock, its stop request): one safe file name, else
    :class:`~dfos.errors.UnsafeName`."""
    return safe_name(dag_id, "cascade id")


def _stop_file(workspace: Workspace, dag_id: str) -> Path:
    return workspace.job_dir / f".stop_{check_dag_id(dag_id)}"


def request_stop(workspace: Workspace, dag_id: str) -> None:
    """Ask the executor of a cascade to start nothing new (running ABs finish)."""
    _stop_file(workspace, dag_id).touch()


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


def _nodes(workspace: Workspace, jobs: Path) -> tuple[list[Node], str]:
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
    for line in exec_file.lines:
        ab = _listed_ab(workspace, jobs, line.ab)
        if line.program == "processQC":  # QC of one AB depends on nothing else; it needs the AB's products
            nodes.append(Node(line.ab, (), category="qc", program="processQC",
                              incomplete=ab.process_status.value != "SUCCESSFUL"))
            continue
        # CON lines carry the parents; serial files (CPL, INT) take them from the ABs' WAITFOR, so that
        # a failure blocks only what depends on it (they run one AB at a time: see run_cascade)
        parents = line.parents if exec_file.kind == "CON" else ab.waitfor
        outside = [p for p in parents if p not in inside]
        waiting_outside = [p for p in outside
                           if _listed_ab(workspace, jobs, p).process_status.value != "SUCCESSFUL"]
        nodes.append(Node(line.ab, tuple(p for p in parents if p in inside), category=ab.recipe,
                          incomplete=ab.completeness is Completeness.INCOMPLETE or bool(waiting_outside),
                          threads=cores if line.local_parallel else 1))
    cycle = find_cycle({node.name: node.parents for node in nodes})
    if cycle:  # (a CON file's own parents were checked when it was read: these come from the ABs' WAITFOR)
        raise FormatError(f"{jobs}: its ABs wait for each other in a cycle ({' -> '.join(cycle)}, WAITFOR of their "
                          f"AB files in {workspace.ab_dir}), so none of them could ever run")
    return nodes, exec_file.kind


def _kill_leftovers(root: Path, dag_id: str) -> int:
    """Recipes started by an executor that died keep running: end them before running their ABs again.

    A recipe carries ``DFOS_RUN=<dag>/<AB>/<attempt>@<workspace root>`` in its environment. The
    caller holds the cascade's lock, so every recipe of this workspace's cascade still alive belongs
    to a dead executor (even one whose RUNNING state was not yet saved) and is ended; another
    workspace's or cascade's recipes, and a hand-started processAB, are not touched.
    """
    prefix = f"DFOS_RUN={dag_id}/".encode()
    suffix = f"@{root}".encode()
    killed: list[int] = []
    found = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(item.startswith(prefix) and item.endswith(suffix) for item in environ):
            found += 1
            pid = int(entry.name)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL) if os.getsid(pid) == pid else os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    deadline = time.monotonic() + 10.0  # SIGKILL is asynchronous: a dying recipe may still write files
    while killed and time.monotonic() < deadline:
        killed = [pid for pid in killed if _alive(pid)]
        time.sleep(0.01)
    return found


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a zombie writes nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


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


def _clear_leftovers(workspace: Workspace, dag_id: str, runs: dict[str, int]) -> None:
    """End the recipes a dead executor of this cascade left running, then remove their working directories.

    Repeated until a pass finds nothing (a recipe caught in the middle of starting shows its marker
    only once it runs), for at most a few seconds.
    """
    deadline = time.monotonic() + 5.0
    while True:
        killed = _kill_leftovers(workspace.root, dag_id)
        clean = _remove_cut_work(workspace, dag_id, runs)
        if (not killed and clean) or time.monotonic() > deadline:
            return
        time.sleep(0.05)


class _Store:
    """The runner's writes to ``cascade_nodes``: one transaction per scheduler turn."""

    def __init__(self, engine: Any, dag_id: str, now: Callable[[], str]) -> None:
        self.connection = engine.connect()
        self.dag_id = dag_id
        self.now = now
        self.statements: dict[tuple[str, ...], Any] = {}

    def write(self, changes: list[tuple[str, dict[str, object]]]) -> None:
        if not changes:
            return
        from sqlalchemy import bindparam, update

        from dfos.db import cascade_nodes

        groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
        stamp = self.now()
        for name, values in changes:
            columns = tuple(sorted(values))
            groups.setdefault(columns, []).append(
                {"p_dag": self.dag_id, "p_ab": name, "p_updated": stamp, **{f"p_{c}": v for c, v in values.items()}})
        with self.connection.begin():
            for columns, rows in groups.items():
                statement = self.statements.get(columns)
                if statement is None:
                    statement = self.statements[columns] = (
                        update(cascade_nodes)
                        .where(cascade_nodes.c.dag_id == bindparam("p_dag"), cascade_nodes.c.ab == bindparam("p_ab"))
                        .values(updated=bindparam("p_updated"), **{c: bindparam(f"p_{c}") for c in columns})
                    )
                self.connection.execute(statement, rows)

    def run_records(self, runs: list[tuple[str, int]]) -> dict[str, tuple[str, int | None, float | None]]:
        """The run records (status, exit code, wall time) of these attempts of ABs of the cascade."""
        if not runs:
            return {}
        from sqlalchemy import select

        from dfos.db import ab_runs

        wanted = dict(runs)
        with self.connection.begin():
            rows = self.connection.execute(
                select(ab_runs.c.ab, ab_runs.c.attempt, ab_runs.c.status, ab_runs.c.exit_code, ab_runs.c.wall_s)
                .where(ab_runs.c.dag_id == self.dag_id, ab_runs.c.ab.in_(list(wanted)))).all()
        return {r.ab: (r.status, r.exit_code, r.wall_s) for r in rows if wanted.get(r.ab) == r.attempt}

    def close(self) -> None:
        self.connection.close()


def run_cascade(
    workspace: Workspace,
    dag_id: str,
    jobs: Path,
    executor: Executor,
    slots: int | None = None,
    progress: Callable[[dict[str, int]], None] | None = None,
) -> CascadeResult:
    """Run (or resume) a cascade until it is done or stopped; see the module docstring."""
    # SQLAlchemy is imported by the functions that use it: a batch job (processAB of one AB of a cascade,
    # which needs only work_dir) starts its recipe sooner
    from sqlalchemy import delete, insert, select

    from dfos.db import ab_runs, cascade_nodes, engine_for_url

    engine = engine_for_url(workspace.db_url)
    settings = workspace.settings
    slots = slots or settings.SLOTS or os.cpu_count() or 1
    with _single(workspace, dag_id):
        _stop_file(workspace, dag_id).unlink(missing_ok=True)
        nodes, kind = _nodes(workspace, jobs)
        if kind in ("CPL", "INT", "SER"):
            slots = 1  # serial: one AB at a time
        limits = {"download": settings.DOWNLOAD_SLOTS, **recipe_limits(settings.RECIPE_LIMITS)}
        scheduler = Scheduler({n.name: n for n in nodes}, slots, limits, settings.MAX_ATTEMPTS, batch=executor.batch)
        with engine.begin() as db:
            rows = {r["ab"]: r for r in
                    db.execute(select(cascade_nodes).where(cascade_nodes.c.dag_id == dag_id)).mappings().all()}
            recorded = {(r.ab, r.attempt): r.status for r in db.execute(
                select(ab_runs.c.ab, ab_runs.c.attempt, ab_runs.c.status).where(ab_runs.c.dag_id == dag_id))}
            restored: dict[str, tuple[NodeState, int]] = {}
            for name, row in rows.items():
                state = NodeState(row["state"])
                outcome = recorded.get((name, row["attempts"]))
                handed_out = state in HANDED_OUT  # (a batch job may end unseen)
                if handed_out and outcome == "SUCCESSFUL":
                    state = NodeState.SUCCEEDED  # it finished and was recorded; only the state was not saved
                elif handed_out and outcome == "FAILED" and row["attempts"] >= settings.MAX_ATTEMPTS:
                    state = NodeState.FAILED  # its last allowed attempt failed and was recorded
                restored[name] = (state, int(row["attempts"]))
            adopted = {name: Handle(name, str(rows[name]["backend_id"])) for name, (state, _) in restored.items()
                       if state in HANDED_OUT and rows[name]["backend_id"] and name in scheduler.nodes}
            adopted = {name: adopted[name] for name in executor.adopt(adopted.values()) if name in adopted}
            cut = {name: attempts for name, (state, attempts) in restored.items()
                   if state is NodeState.RUNNING and name not in adopted}
            if cut:  # a dead executor's runs: end what they left behind
                _clear_leftovers(workspace, dag_id, cut)
            scheduler.restore({k: v for k, v in restored.items() if k in scheduler.nodes}, adopted)
            names = [n.name for n in nodes]  # rows of ABs not in this file are left as they are
            db.execute(delete(cascade_nodes).where(cascade_nodes.c.dag_id == dag_id, cascade_nodes.c.ab.in_(names)))
            now = format_timestamp(clock.now(settings))
            fresh = [
                {"dag_id": dag_id, "ab": n.name, "state": scheduler.state(n.name).value,
                 "attempts": scheduler.attempts(n.name), "updated": now,
                 "exit_code": rows[n.name]["exit_code"] if n.name in rows else None,
                 "wall_s": rows[n.name]["wall_s"] if n.name in rows else None,
                 "backend_id": adopted[n.name].backend_id if n.name in adopted else
                 rows[n.name]["backend_id"] if n.name in rows and scheduler.state(n.name) is not NodeState.WAITING
                 else None}
                for n in nodes
            ]
            if fresh:  # an empty execution file (QCBQS_TYPE IMPLICIT's execQC) has nothing to store
                db.execute(insert(cascade_nodes), fresh)
        store = _Store(engine, dag_id, lambda: format_timestamp(clock.now(settings)))
        try:
            result = _drive(workspace, dag_id, scheduler, executor, store, progress, dict(adopted))
            return dataclasses.replace(result, kind=kind)
        finally:
            store.close()
            with contextlib.suppress(OSError):  # the cascade's working area, once nothing is kept in it
                _cascade_work(workspace, dag_id).rmdir()


def _drive(workspace: Workspace, dag_id: str, scheduler: Scheduler, executor: Executor, store: _Store,
           progress: Callable[[dict[str, int]], None] | None, handles: dict[str, Handle]) -> CascadeResult:
    """The event loop: record what ended, persist what starts (one transaction), start it, wait."""
    started_pids: list[tuple[str, str]] = []  # filled by executor threads, written on the next turn
    pid_lock = threading.Lock()

    def on_start(handle: Handle) -> None:
        with pid_lock:
            started_pids.append((handle.name, handle.backend_id))

    changes: list[tuple[str, dict[str, object]]] = []
    cancelled: set[str] = set()
    interrupted = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):  # terminate or Ctrl-C: cancel what runs, keep it queued
            previous[sig] = signal.signal(sig, lambda *_: interrupted.set())
    try:
        return _loop(workspace, dag_id, scheduler, executor, store, progress, changes, handles, cancelled,
                     interrupted, started_pids, pid_lock, on_start)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _loop(workspace: Workspace, dag_id: str, scheduler: Scheduler, executor: Executor, store: _Store,
          progress: Callable[[dict[str, int]], None] | None, changes: list[tuple[str, dict[str, object]]],
          handles: dict[str, Handle], cancelled: set[str], interrupted: threading.Event,
          started_pids: list[tuple[str, str]], pid_lock: threading.Lock,
          on_start: Callable[[Handle], None]) -> CascadeResult:
    def settle(changed: list[tuple[str, NodeState]], ended: str,
               **values: object) -> list[tuple[str, dict[str, object]]]:
        """The state changes to store (``values`` too for the AB that ended); the jobs of ABs that wait
        again or are blocked without having started are cancelled (batch)."""
        gone = [handles.pop(n) for n, st in changed
                if n != ended and st in (NodeState.WAITING, NodeState.BLOCKED) and n in handles]
        if gone:
            executor.cancel(gone)
        return [(n, {"state": st.value, "attempts": scheduler.attempts(n), **(values if n == ended else {})})
                for n, st in changed]

    bounced: dict[str, int] = {}
    while True:
        if interrupted.is_set():
            if executor.batch:  # the jobs go on without dfos: the next run adopts them
                break
            if not cancelled.issuperset(scheduler.running()):
                scheduler.stopping = True
                running = [n for n in scheduler.running() if n not in cancelled]
                cancelled.update(running)
                executor.cancel([handles[n] for n in running if n in handles])
        if not scheduler.stopping and _stop_file(workspace, dag_id).exists():
            scheduler.stopping = True
            if executor.batch:  # what has not started is taken back from the batch system
                queued = [n for n in scheduler.running() if scheduler.state(n) is NodeState.SUBMITTED]
                cancelled.update(queued)
                executor.cancel([handles[n] for n in queued if n in handles])
        if executor.batch:
            starting = scheduler.submittable()
            handed = NodeState.SUBMITTED
        else:
            starting = scheduler.startable()
            handed = NodeState.RUNNING
        changes += [(name, {"state": handed.value, "attempts": scheduler.attempts(name),
                            "exit_code": None, "pid": None, "backend_id": None}) for name in starting]
        with pid_lock:
            for name, ident in started_pids:
                values: dict[str, object] = {"backend_id": ident, "pid": int(ident) if ident.isdigit() else None}
                if executor.batch:
                    if scheduler.started(name):
                        values["state"] = NodeState.RUNNING.value
                    values.pop("pid")  # a batch job's process lives on another machine
                changes.append((name, values))
            started_pids.clear()
        store.write(changes)  # RUNNING (SUBMITTED) is on disk before the AB starts (is submitted)
        changes = []
        cancelled.difference_update(starting)
        try:
            for name in starting:
                node = scheduler.nodes[name]
                waits = tuple(p for p in node.parents if scheduler.state(p) in HANDED_OUT) if executor.batch else ()
                handles[name] = executor.submit(Task(name, (node.program, "-a", name), node.category, node.threads,
                                                     dag_id, scheduler.attempts(name), waits), on_start)
            flushed = executor.flush() if executor.batch else []  # a round ends (DAGMan: one DAG)
        except DfosError:  # the batch system refuses or cannot be reached: what was not submitted waits again
            sent = [n for n in starting if n in handles and handles[n].backend_id]
            store.write([(n, {"backend_id": handles[n].backend_id}) for n in sent])  # adopted by the next run
            _unsend(scheduler, store, [n for n in starting if n not in sent])
            raise
        if executor.batch:  # the ids on disk at once: a restarted dfos adopts the jobs
            handles.update((h.name, h) for h in flushed)
            submitted = dict.fromkeys([*starting, *(h.name for h in flushed)])
            store.write([(n, {"backend_id": handles[n].backend_id}) for n in submitted if handles[n].backend_id])
        if progress:
            progress(scheduler.counts())
        if scheduler.done:
            break
        outcomes = executor.poll(timeout=0.5)
        records = store.run_records([(o.name, scheduler.attempts(o.name)) for o in outcomes
                                     if o.name in scheduler.nodes]) if executor.batch else {}
        for outcome in outcomes:
            name = outcome.name
            if name not in scheduler.nodes or scheduler.state(name) not in HANDED_OUT:
                continue  # a job already withdrawn (its parent runs again, or failed): nothing to record
            if outcome.backend_id and name in handles and handles[name].backend_id not in ("", outcome.backend_id):
                continue  # an earlier job of this AB, cancelled and submitted again
            if outcome.never_ran and name not in cancelled:  # taken out of the queue by someone else
                bounced[name] = bounced.get(name, 0) + 1
                if bounced[name] > MAX_BOUNCES:  # not for ever: the batch system keeps refusing it
                    handles.pop(name, None)
                    changes += settle(scheduler.finished(name, False), name)
                    continue
            if outcome.never_ran:
                changes += settle(scheduler.requeue(name, ran=False), name)
                continue
            if name in cancelled and not outcome.ok:
                changes += settle(scheduler.requeue(name), name)
                continue
            ok, exit_code = outcome.ok, outcome.exit_code
            wall_s: float | None = outcome.wall_s
            record = records.get(name)
            if record is not None:  # the run record written by the job itself: esorex's exit code, its time
                if outcome.lost:  # how the job ended is unknown: the record tells
                    ok = record[0] == "SUCCESSFUL"
                exit_code, wall_s = record[1], record[2]
            elif outcome.lost:  # gone from the batch system without a trace and without a record: run again
                changes += settle(scheduler.requeue(name), name)
                continue
            handles.pop(name, None)
            changes += settle(scheduler.finished(name, ok), name, exit_code=exit_code, wall_s=wall_s)
    with pid_lock:
        changes += [(name, {"backend_id": ident}) for name, ident in started_pids]
    store.write(changes)
    return CascadeResult(dag_id, scheduler.counts())


def _unsend(scheduler: Scheduler, store: _Store, names: list[str]) -> None:
    """ABs handed out but never submitted (the executor failed) wait again, their attempts uncounted."""
    changes: list[tuple[str, dict[str, object]]] = []
    for name in names:
        if scheduler.state(name) in HANDED_OUT:
            changes += [(n, {"state": st.value, "attempts": scheduler.attempts(n)})
                        for n, st in scheduler.requeue(name, ran=False)]
    store.write(changes)


def cascade_state(workspace: Workspace, dag_id: str) -> list[dict[str, object]]:
    """The persisted state of every AB of a cascade (``cascade-stat``)."""
    from sqlalchemy import select

    from dfos.db import cascade_nodes, engine_for_url
    from dfos.db.faults import shown_url

    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(cascade_nodes).where(cascade_nodes.c.dag_id == dag_id)).mappings().all()
    if not rows:
        raise NotFound(f"no cascade {dag_id} in {shown_url(workspace.db_url)}; start it with 'dfos exec-cascade'")
    return [{"ab": r["ab"], "state": r["state"], "attempts": r["attempts"], "exit_code": r["exit_code"],
             "wall_s": r["wall_s"], "backend_id": r["backend_id"]} for r in rows]


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
                                 wall_s=None))
