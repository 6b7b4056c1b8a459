"""The cascade's runner: observes (signals, the stop request, the executor), lets the
:class:`~dfos.cascade.events.Dispatcher` decide, and carries out its instructions.

Every decision is the dispatcher's; this module only does: it writes ``cascade_nodes`` (one
transaction per turn), submits and cancels through the executor, and waits for tasks to end
(:meth:`~dfos.executors.base.Executor.poll` blocks until one ends, at most half a second, so an
ending task is seen at once and a stop request or a signal within half a second).  While ABs wait
for parents in other cascades, it looks at those parents about once a second (one query of
``cascade_nodes``, one of ``certifications``, their AB files: :func:`~dfos.cascade.externals.judge_external`).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import bindparam, func, select, update

from dfos.cascade.events import (
    Cancel,
    CascadeProgress,
    Close,
    Dispatcher,
    Ended,
    Externals,
    Instruction,
    Interrupt,
    NodeUpdate,
    Persist,
    RunRecord,
    SendFailed,
    Sent,
    Stop,
    Submit,
    Turn,
)
from dfos.cascade.externals import External, ExternalState
from dfos.db import ab_runs, cascade_nodes, certifications
from dfos.errors import DfosError
from dfos.executors.base import Executor, Handle

__all__ = ["LOOK_INTERVAL", "NodeStore", "Runner", "interruptible"]

#: Seconds a turn waits for a task to end before it looks at signals and the stop request again.
POLL_TIMEOUT = 0.5
#: Seconds at least between two looks at the parents in other cascades that ABs wait for.
LOOK_INTERVAL = 1.0

Look = Callable[[Sequence[External]], Mapping[str, ExternalState]]
"""How the runner learns what became of parents in other cascades (see :func:`dfos.cascade.run.look_outside`)."""


class NodeStore:
    """The runner's reads and writes of the database: ``cascade_nodes`` updates, ``ab_runs`` records."""

    def __init__(self, engine: Any, dag_id: str, now: Callable[[], str]) -> None:
        self.connection = engine.connect()
        self.dag_id = dag_id
        self.now = now
        self.statements: dict[tuple[str, ...], Any] = {}

    def write(self, updates: list[NodeUpdate]) -> None:
        """One transaction: each update sets its columns (and ``updated``) of one AB of the cascade."""
        if not updates:
            return
        groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
        stamp = self.now()
        for name, values in updates:
            columns = tuple(sorted(values))
            groups.setdefault(columns, []).append(
                {"p_dag": self.dag_id, "p_ab": name, "p_updated": stamp, **{f"p_{c}": v for c, v in values.items()}})
        with self.connection.begin():
            for columns, rows in groups.items():
                self.connection.execute(self._statement(columns), rows)

    def _statement(self, columns: tuple[str, ...]) -> Any:
        statement = self.statements.get(columns)
        if statement is None:
            statement = self.statements[columns] = (
                update(cascade_nodes)
                .where(cascade_nodes.c.dag_id == bindparam("p_dag"), cascade_nodes.c.ab == bindparam("p_ab"))
                .values(updated=bindparam("p_updated"), **{c: bindparam(f"p_{c}") for c in columns})
            )
        return statement

    def run_records(self, runs: list[tuple[str, int]]) -> dict[str, RunRecord]:
        """The run records of these attempts of ABs of the cascade, by AB."""
        if not runs:
            return {}
        wanted = dict(runs)
        with self.connection.begin():
            rows = self.connection.execute(
                select(ab_runs.c.ab, ab_runs.c.attempt, ab_runs.c.status, ab_runs.c.exit_code, ab_runs.c.wall_s)
                .where(ab_runs.c.dag_id == self.dag_id, ab_runs.c.ab.in_(list(wanted)))).all()
        return {r.ab: RunRecord(r.status, r.exit_code, r.wall_s) for r in rows if wanted.get(r.ab) == r.attempt}

    def outside(self, parents: Sequence[External]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
        """The states of ABs of other cascades in their own cascades (AB -> cascade -> state) and their newest
        certification decisions (AB -> decision): one query each."""
        names = [p.name for p in parents]
        own = {(p.name, cascade) for p in parents for cascade in p.cascades}
        newest = (select(certifications.c.ab, func.max(certifications.c.id).label("id"))
                  .where(certifications.c.ab.in_(names)).group_by(certifications.c.ab).subquery())
        with self.connection.begin():
            rows = self.connection.execute(select(cascade_nodes.c.ab, cascade_nodes.c.dag_id, cascade_nodes.c.state)
                                           .where(cascade_nodes.c.ab.in_(names))).all()
            decided = self.connection.execute(select(certifications.c.ab, certifications.c.decision)
                                              .join(newest, certifications.c.id == newest.c.id)).all()
        states: dict[str, dict[str, str]] = {}
        for r in rows:
            if (r.ab, r.dag_id) in own:
                states.setdefault(r.ab, {})[r.dag_id] = r.state
        return states, {r.ab: r.decision for r in decided}

    def close(self) -> None:
        self.connection.close()


@contextmanager
def interruptible() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT (terminate, Ctrl-C) while the block runs; the handlers before it are
    put back after.  Outside the main thread (no signals there) it is never set."""
    interrupted = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: interrupted.set())
    try:
        yield interrupted
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Runner:
    """Drives a dispatcher with an executor and a store until the cascade is done, stopped or interrupted."""

    def __init__(self, dispatcher: Dispatcher, executor: Executor, store: NodeStore,
                 stop_requested: Callable[[], bool],
                 progress: Callable[[CascadeProgress], None] | None = None, look: Look | None = None,
                 stop_now: Callable[[], bool] | None = None) -> None:
        """``stop_requested``: a stop was asked for; ``stop_now``: it is a hard one (``stop-cascade --now``)."""
        self.dispatcher = dispatcher
        self.stop_now = stop_now
        self.executor = executor
        self.store = store
        self.stop_requested = stop_requested
        self.progress = progress
        self.look = look
        self.next_look = 0.0
        self.started: list[Handle] = []  # filled by executor threads, handed over on the next turn
        self.lock = threading.Lock()

    def on_start(self, handle: Handle) -> None:
        with self.lock:
            self.started.append(handle)

    def _started(self) -> tuple[Handle, ...]:
        with self.lock:
            found, self.started = tuple(self.started), []
        return found

    def run(self, interrupted: threading.Event) -> dict[str, int]:
        """Turn after turn; returns the final counts of states."""
        dispatcher = self.dispatcher
        while True:
            if interrupted.is_set():
                self._carry(dispatcher.handle(Interrupt()))
                if dispatcher.released:
                    break
            if not dispatcher.aborted and self.stop_requested():
                now = self.stop_now is not None and self.stop_now()
                if now or not dispatcher.stopping:
                    self._carry(dispatcher.handle(Stop(now)))
            self._look_outside()
            self._carry(dispatcher.handle(Turn(self._started())))
            if self.progress:
                self.progress(dispatcher.progress())
            if dispatcher.done:
                break
            outcomes = self.executor.poll(timeout=POLL_TIMEOUT)
            records = self.store.run_records(dispatcher.records_wanted(outcomes))
            self._carry(dispatcher.handle(Ended(tuple(outcomes), records)))
        self._carry(dispatcher.handle(Close(self._started())))
        return dispatcher.counts()

    def _look_outside(self) -> None:
        """Look at the parents in other cascades that ABs wait for: at once, then about once a second."""
        awaited = self.dispatcher.awaited()
        if not awaited or self.look is None or self.dispatcher.stopping or time.monotonic() < self.next_look:
            return
        self.next_look = time.monotonic() + LOOK_INTERVAL
        self._carry(self.dispatcher.handle(Externals(self.look(awaited))))

    def _carry(self, instructions: list[Instruction]) -> None:
        for instruction in instructions:
            match instruction:
                case Persist():
                    self.store.write(list(instruction.updates))
                case Cancel():
                    self.executor.cancel(instruction.handles)
                case Submit():
                    self._submit(instruction)

    def _submit(self, submit: Submit) -> None:
        taken: list[Handle] = []
        shared = {name: cluster for cluster in submit.clusters for name in cluster}
        by_name = {task.name: task for task in submit.tasks}
        try:
            for task in submit.tasks:
                if task.name not in shared:
                    taken.append(self.executor.submit(task, self.on_start))
                elif shared[task.name][0] == task.name:  # a cluster goes where its first task is
                    tasks = [by_name[name] for name in shared[task.name]]
                    taken += self.executor.submit_cluster(tasks, self.on_start)
            taken += self.executor.flush()  # a round ends (DAGMan: one DAG)
        except DfosError:  # the batch system refuses or cannot be reached
            self._carry(self.dispatcher.handle(SendFailed(tuple(taken))))
            raise
        self._carry(self.dispatcher.handle(Sent(tuple(taken))))
