"""What the cascade runner does next, decided without doing it: events in, instructions out.

The runner (:mod:`dfos.cascade.runner`) observes and acts; :class:`Dispatcher` only decides, so every
decision is tested without a process, a database or a batch system.  The runner reports

* :class:`Turn`: it is ready to hand out work (and these tasks were seen to start);
* :class:`Sent` / :class:`SendFailed`: what the executor took of a :class:`Submit`;
* :class:`Ended`: tasks ended (with their own run records, for a batch executor);
* :class:`Externals`: what it saw of parents in other cascades (:mod:`dfos.cascade.externals`);
* :class:`Stop`: a graceful stop was asked for (``dfos stop-cascade``);
* :class:`Interrupt`: SIGTERM or Ctrl-C;
* :class:`Close`: the runner ends,

and carries out what :meth:`Dispatcher.handle` returns, in order: :class:`Persist` (one transaction of
``cascade_nodes`` rows), :class:`Submit` (tasks for the executor), :class:`Cancel` (handles to stop).

Two ways to dispatch, as two strategies: :class:`LocalDispatch` starts ABs within the slots and
cancels what runs when interrupted; :class:`BatchDispatch` hands the whole cascade to a batch system
at once (each job held until its parents succeed), takes back what is still queued on a stop, and
leaves its jobs running when interrupted (the next run adopts them).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar, TypeAlias

from dfos.ab.model import ProcessStatus
from dfos.cascade.clusters import ClusterRule, Packer
from dfos.cascade.externals import External, ExternalState, awaiting_text, waiting_reason
from dfos.cascade.scheduler import HANDED_OUT, Node, NodeState, Scheduler
from dfos.executors.base import Handle, Outcome, Task

__all__ = [
    "MAX_BOUNCES",
    "BatchDispatch",
    "Cancel",
    "CascadeProgress",
    "Close",
    "Dispatch",
    "Dispatcher",
    "Ended",
    "Event",
    "Externals",
    "Instruction",
    "Interrupt",
    "LocalDispatch",
    "Persist",
    "RunRecord",
    "SendFailed",
    "Sent",
    "Stop",
    "Submit",
    "Turn",
    "Verdict",
    "judge",
    "settled_state",
]

#: Times a batch job may be taken out of the queue unstarted (not by dfos) before its AB counts as failed.
MAX_BOUNCES = 3

NodeUpdate: TypeAlias = tuple[str, dict[str, object]]
"""An AB and the ``cascade_nodes`` columns to set for it."""


@dataclass(frozen=True)
class RunRecord:
    """What a job wrote itself about its attempt (``ab_runs``): the truth about a batch job's end."""

    status: str
    exit_code: int | None
    wall_s: float | None

    @property
    def ok(self) -> bool:
        return self.status == ProcessStatus.SUCCESSFUL


# -- events --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Turn:
    """The runner is ready to hand out work; ``started``: tasks the executor saw start since the last turn."""

    started: tuple[Handle, ...] = ()


@dataclass(frozen=True)
class Sent:
    """The executor took the tasks of a :class:`Submit` (the handles of its round included)."""

    handles: tuple[Handle, ...]


@dataclass(frozen=True)
class SendFailed:
    """The executor refused, or could not reach its batch system, after taking ``handles``."""

    handles: tuple[Handle, ...]


@dataclass(frozen=True)
class Ended:
    """Tasks ended; ``records``: the run records of their attempts, by AB (batch executors)."""

    outcomes: tuple[Outcome, ...]
    records: Mapping[str, RunRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class Externals:
    """What the runner saw of parents in other cascades, by AB (asked for by :meth:`Dispatcher.awaited`)."""

    states: Mapping[str, ExternalState]


@dataclass(frozen=True)
class Stop:
    """A graceful stop: running ABs finish, nothing new starts.  ``now`` (``stop-cascade --now``): the running ABs
    are cancelled too; a task of theirs that ends failed (killed, its job removed) waits again, it did not fail."""

    now: bool = False


@dataclass(frozen=True)
class Interrupt:
    """SIGTERM or SIGINT: cancel what runs here and keep it queued (a batch system's jobs go on)."""


@dataclass(frozen=True)
class Close:
    """The runner ends; ``started``: tasks seen to start since the last turn."""

    started: tuple[Handle, ...] = ()


Event: TypeAlias = "Turn | Sent | SendFailed | Ended | Externals | Stop | Interrupt | Close"


@dataclass(frozen=True)
class CascadeProgress:
    """What the progress line shows after a turn."""

    counts: dict[str, int]
    """ABs of the cascade per state."""
    awaiting: str = ""
    """The parents in other cascades still waited for (``waiting for 2 calibration ABs of CALIB_2013-02-12``)."""


# -- instructions --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Persist:
    """Write these ``cascade_nodes`` updates in one transaction (nothing to do when empty)."""

    updates: tuple[NodeUpdate, ...]


@dataclass(frozen=True)
class Submit:
    """Hand these tasks to the executor, then end the round (:meth:`~dfos.executors.base.Executor.flush`);
    report :class:`Sent` or :class:`SendFailed`."""

    tasks: tuple[Task, ...]
    clusters: tuple[tuple[str, ...], ...] = ()
    """Tasks (names, in the order to run) that share one batch job
    (:meth:`~dfos.executors.base.Executor.submit_cluster`); every other task is a job of its own."""


@dataclass(frozen=True)
class Cancel:
    """Stop these tasks (their outcomes still arrive)."""

    handles: tuple[Handle, ...]


Instruction: TypeAlias = "Persist | Submit | Cancel"


# -- judging an outcome --------------------------------------------------------------------------------------------
class Verdict(Enum):
    """What an ended task means for its AB."""

    STALE = "stale"
    """Not the AB's current job (withdrawn, or an earlier job of it): nothing to record."""
    UNSTARTED = "unstarted"
    """It never ran: it waits again, its attempt uncounted."""
    BOUNCED_OUT = "bounced out"
    """Taken out of the queue, not by dfos, once too often: the AB failed."""
    CANCELLED = "cancelled"
    """Cancelled by dfos while it ran: it waits again."""
    LOST = "lost"
    """Gone from the batch system without a trace or a run record: it runs again."""
    FINISHED = "finished"
    """It ran to its end (ok or not)."""


def judge(outcome: Outcome, *, current: bool, cancelled: bool, bounces: int, record: RunRecord | None) -> Verdict:
    """The verdict on an ended task.  ``current``: it is the AB's handed-out job; ``cancelled``: dfos
    cancelled it; ``bounces``: times its AB was taken out of the queue by someone else, this one included;
    ``record``: its attempt's run record, if any."""
    if not current:
        return Verdict.STALE
    if outcome.never_ran:
        return Verdict.BOUNCED_OUT if not cancelled and bounces > MAX_BOUNCES else Verdict.UNSTARTED
    if cancelled and not outcome.ok:
        return Verdict.CANCELLED
    if outcome.lost and record is None:
        return Verdict.LOST
    return Verdict.FINISHED


def settled_state(state: NodeState, attempts: int, recorded: str | None, max_attempts: int) -> NodeState:
    """The state of an AB as an earlier run left it, set right by its last attempt's run record: a handed-out
    AB whose run was recorded ended (its state was not saved, or a batch job ended unseen)."""
    if state in HANDED_OUT and recorded == ProcessStatus.SUCCESSFUL:
        return NodeState.SUCCEEDED
    if state in HANDED_OUT and recorded == ProcessStatus.FAILED and attempts >= max_attempts:
        return NodeState.FAILED  # its last allowed attempt failed and was recorded
    return state


# -- the two ways to dispatch --------------------------------------------------------------------------------------
class Dispatch(ABC):
    """How ABs are handed to an executor: the strategy of a :class:`Dispatcher`."""

    batch: ClassVar[bool]
    """Whole cascade at once, each job held by its backend until its parents succeed."""
    handed: ClassVar[NodeState]
    """The state of an AB just handed out."""

    @abstractmethod
    def hand_out(self, scheduler: Scheduler) -> list[str]:
        """The ABs to hand out now (their states and attempts are set)."""

    @abstractmethod
    def waits_for(self, scheduler: Scheduler, node: Node) -> tuple[str, ...]:
        """The parents a task must wait for in its backend."""

    @abstractmethod
    def started(self, scheduler: Scheduler, handle: Handle) -> dict[str, object]:
        """The columns to store for an AB seen to start."""

    @abstractmethod
    def on_interrupt(self, scheduler: Scheduler) -> list[str] | None:
        """The ABs to cancel on an interrupt (None: cancel nothing, the runner leaves at once)."""

    @abstractmethod
    def on_stop(self, scheduler: Scheduler) -> list[str]:
        """The ABs to take back on a graceful stop."""

    def clusters(self) -> tuple[tuple[str, ...], ...]:
        """The ABs of the last :meth:`hand_out` that share a job (batch clusters; none by default)."""
        return ()

    def learn(self, recipe: str, wall_s: float | None) -> None:  # noqa: B027 - most strategies learn nothing
        """An AB of ``recipe`` succeeded in ``wall_s`` seconds."""


class LocalDispatch(Dispatch):
    """This machine: ABs start within the slots; an interrupt cancels what runs."""

    batch: ClassVar[bool] = False
    handed: ClassVar[NodeState] = NodeState.RUNNING

    def hand_out(self, scheduler: Scheduler) -> list[str]:
        return scheduler.startable()

    def waits_for(self, scheduler: Scheduler, node: Node) -> tuple[str, ...]:
        return ()

    def started(self, scheduler: Scheduler, handle: Handle) -> dict[str, object]:
        ident = handle.backend_id
        return {"backend_id": ident, "pid": int(ident) if ident.isdigit() else None}

    def on_interrupt(self, scheduler: Scheduler) -> list[str] | None:
        scheduler.stopping = True
        return scheduler.running()

    def on_stop(self, scheduler: Scheduler) -> list[str]:
        return []


class BatchDispatch(Dispatch):
    """A batch system: every AB whose parents are handed out is submitted behind them; the jobs outlive dfos.
    Short ABs share jobs (:mod:`dfos.cascade.clusters`) when ``rule`` allows more than one AB per job."""

    batch: ClassVar[bool] = True
    handed: ClassVar[NodeState] = NodeState.SUBMITTED

    def __init__(self, rule: ClusterRule | None = None) -> None:
        self.rule = rule or ClusterRule()
        self.in_cluster: dict[str, str] = {}
        """Handed-out ABs that run in a cluster job (AB -> cluster), set by the dispatcher."""
        self.packer: Packer | None = None

    def hand_out(self, scheduler: Scheduler) -> list[str]:
        if self.rule.size <= 1:
            return scheduler.submittable()
        self.packer = Packer(self.rule, scheduler, self.in_cluster)
        return scheduler.submittable(self.packer.admit)

    def clusters(self) -> tuple[tuple[str, ...], ...]:
        packer, self.packer = self.packer, None
        return packer.clusters_formed if packer else ()

    def learn(self, recipe: str, wall_s: float | None) -> None:
        self.rule.learn(recipe, wall_s)

    def waits_for(self, scheduler: Scheduler, node: Node) -> tuple[str, ...]:
        return tuple(p for p in node.parents if p in scheduler.nodes and scheduler.state(p) in HANDED_OUT)

    def started(self, scheduler: Scheduler, handle: Handle) -> dict[str, object]:
        values: dict[str, object] = {"backend_id": handle.backend_id}  # (its process lives on another machine)
        if scheduler.started(handle.name):
            values["state"] = NodeState.RUNNING.value
        return values

    def on_interrupt(self, scheduler: Scheduler) -> list[str] | None:
        return None  # the jobs go on without dfos: the next run adopts them

    def on_stop(self, scheduler: Scheduler) -> list[str]:
        return [n for n in scheduler.running() if scheduler.state(n) is NodeState.SUBMITTED]


# -- the dispatcher ------------------------------------------------------------------------------------------------
class Dispatcher:
    """The cascade's decisions: a :class:`~dfos.cascade.scheduler.Scheduler` of the AB graph, the tasks handed
    out and their handles, what dfos cancelled, and the updates not yet persisted.  Pure: no I/O."""

    def __init__(self, scheduler: Scheduler, dispatch: Dispatch, dag_id: str,
                 handles: Mapping[str, Handle] | None = None, externals: Mapping[str, External] | None = None) -> None:
        """``handles``: the jobs adopted from an earlier run (batch), by AB; ``externals``: the scheduler's parents
        in other cascades, by AB."""
        self.scheduler = scheduler
        given = externals or {}
        self.externals = {name: given.get(name) or External(name, "another cascade", dag_id)
                          for name in scheduler.outside}
        self.dispatch = dispatch
        self.dag_id = dag_id
        self.handles: dict[str, Handle] = dict(handles or {})
        self.cancelled: set[str] = set()
        self.bounced: dict[str, int] = {}
        self.pending: list[NodeUpdate] = []
        """Updates decided since the last :class:`Persist` (written with the next turn's, in one transaction)."""
        self.released = False
        """Interrupted with a batch system: the runner leaves, the jobs go on."""
        self.aborted = False
        """Stopped now (``stop-cascade --now``): every handed-out AB is cancelled."""
        self.sending: list[str] = []
        """The ABs of the last :class:`Submit`."""
        self.explained: set[str] = set()
        """ABs whose stored reason says what they wait for (cleared when they start)."""
        self.pending += self._waiting_reasons(name for name in scheduler.nodes if scheduler.unresolved_parents(name))

    # -- queries for the runner ------------------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self.scheduler.stopping

    @property
    def done(self) -> bool:
        """Nothing runs and nothing more will start (asked right after a turn's :class:`Submit`)."""
        return self.scheduler.done

    def counts(self) -> dict[str, int]:
        return self.scheduler.counts()

    def awaited(self) -> list[External]:
        """The parents in other cascades that ABs wait for and whose end is not known yet: to look at."""
        return [self.externals[name] for name in self.scheduler.awaited()]

    def progress(self) -> CascadeProgress:
        return CascadeProgress(self.counts(), awaiting_text(self.awaited()))

    def records_wanted(self, outcomes: Sequence[Outcome]) -> list[tuple[str, int]]:
        """The (AB, attempt) whose run records judge these outcomes: a batch job's record holds esorex's exit
        code and time, and tells how a lost job ended."""
        if not self.dispatch.batch:
            return []
        return [(o.name, self.scheduler.attempts(o.name)) for o in outcomes if o.name in self.scheduler.nodes]

    # -- events ----------------------------------------------------------------------------------------------------
    def handle(self, event: Event) -> list[Instruction]:
        """The instructions that follow from ``event``, to be carried out in order."""
        match event:
            case Turn():
                return self._turn(event.started)
            case Sent():
                return self._sent(event.handles)
            case SendFailed():
                return self._send_failed(event.handles)
            case Ended():
                return [i for o in event.outcomes for i in self._ended(o, event.records.get(o.name))]
            case Externals():
                return self._externals(event.states)
            case Stop():
                return self._stop(event.now)
            case Interrupt():
                return self._interrupt()
            case Close():
                return self._close(event.started)
        raise TypeError(f"not a cascade event: {event!r}")

    def _close(self, started: tuple[Handle, ...]) -> list[Instruction]:
        """What is left to persist: the last outcomes, and the ids of tasks seen to start."""
        updates, self.pending = self.pending, []
        updates += [(h.name, {"backend_id": h.backend_id}) for h in started]
        return _persist(updates)

    def _turn(self, started: tuple[Handle, ...]) -> list[Instruction]:
        """Persist what ended and what starts now (RUNNING or SUBMITTED is on disk before the AB starts or is
        submitted), then submit it."""
        scheduler, dispatch = self.scheduler, self.dispatch
        starting = dispatch.hand_out(scheduler)
        updates = self.pending
        self.pending = []
        updates += [(name, {"state": dispatch.handed.value, "attempts": scheduler.attempts(name), "exit_code": None,
                            "pid": None, "backend_id": None, **({"reason": None} if name in self.explained else {})})
                    for name in starting]
        self.explained.difference_update(starting)
        updates += [(h.name, dispatch.started(scheduler, h)) for h in started]
        self.cancelled.difference_update(starting)
        self.sending = starting
        tasks = tuple(self._task(scheduler.nodes[name]) for name in starting)
        return [*_persist(updates), Submit(tasks, dispatch.clusters())]

    def _task(self, node: Node) -> Task:
        return Task(node.name, (node.program, "-a", node.name), node.category, node.threads, self.dag_id,
                    self.scheduler.attempts(node.name), self.dispatch.waits_for(self.scheduler, node))

    def _sent(self, handles: tuple[Handle, ...]) -> list[Instruction]:
        """The backend ids go on disk at once: a restarted dfos adopts the jobs."""
        self._took(handles)
        names = dict.fromkeys(h.name for h in handles)
        return _persist([(n, {"backend_id": self.handles[n].backend_id}) for n in names if self.handles[n].backend_id])

    def _send_failed(self, taken: tuple[Handle, ...]) -> list[Instruction]:
        """Jobs already queued keep their ids (the next run adopts them); what was not submitted waits again,
        its attempt uncounted."""
        sent = {h.name: h for h in taken if h.backend_id}
        self._took(tuple(sent.values()))
        updates: list[NodeUpdate] = [(n, {"backend_id": h.backend_id}) for n, h in sent.items()]
        for name in self.sending:
            if name not in sent and self.scheduler.state(name) in HANDED_OUT:
                updates += [(n, {"state": st.value, "attempts": self.scheduler.attempts(n)})
                            for n, st in self.scheduler.requeue(name, ran=False)]
        return _persist(updates)

    def _took(self, handles: tuple[Handle, ...]) -> None:
        """The executor took these tasks: their handles, and which of them run in a cluster job."""
        self.handles.update((h.name, h) for h in handles)
        if isinstance(self.dispatch, BatchDispatch):
            for h in handles:
                if h.cluster:
                    self.dispatch.in_cluster[h.name] = h.cluster
                else:
                    self.dispatch.in_cluster.pop(h.name, None)

    def _stop(self, now: bool = False) -> list[Instruction]:
        if self.aborted or (self.scheduler.stopping and not now):
            return []
        names = [] if self.scheduler.stopping else self.dispatch.on_stop(self.scheduler)
        self.scheduler.stopping = True
        if now:  # a graceful stop may have come first: the running ABs are cancelled now
            self.aborted = True
            names += [n for n in self.scheduler.running() if n not in names and n not in self.cancelled]
        return self._cancel(names)

    def _interrupt(self) -> list[Instruction]:
        running = self.dispatch.on_interrupt(self.scheduler)
        if running is None:
            self.released = True
            return []
        return self._cancel([n for n in running if n not in self.cancelled])

    def _cancel(self, names: list[str]) -> list[Instruction]:
        self.cancelled.update(names)
        handles = tuple(self.handles[n] for n in names if n in self.handles)
        return [Cancel(handles)] if names else []

    def _ended(self, outcome: Outcome, record: RunRecord | None) -> list[Instruction]:
        name = outcome.name
        current = self._is_current(outcome)
        cancelled = name in self.cancelled
        if current and outcome.never_ran and not cancelled:  # taken out of the queue by someone else
            self.bounced[name] = self.bounced.get(name, 0) + 1
        verdict = judge(outcome, current=current, cancelled=cancelled, bounces=self.bounced.get(name, 0),
                        record=record)
        if verdict is Verdict.STALE:
            return []
        if verdict is Verdict.BOUNCED_OUT:  # not for ever: the batch system keeps refusing it
            self.handles.pop(name, None)
            return self._settle(self.scheduler.finished(name, False), name)
        if verdict is not Verdict.FINISHED:
            return self._settle(self.scheduler.requeue(name, ran=verdict is not Verdict.UNSTARTED), name)
        ok, exit_code = outcome.ok, outcome.exit_code
        wall_s: float | None = outcome.wall_s
        if record is not None:  # the run record written by the job itself: esorex's exit code, its time
            ok = record.ok if outcome.lost else ok  # how a lost job ended: the record tells
            exit_code, wall_s = record.exit_code, record.wall_s
        if ok:
            self.dispatch.learn(self.scheduler.nodes[name].category, wall_s)
        self.handles.pop(name, None)
        return self._settle(self.scheduler.finished(name, ok), name, exit_code=exit_code, wall_s=wall_s)

    def _is_current(self, outcome: Outcome) -> bool:
        """The outcome is of the AB's handed-out job: not of one already withdrawn (its parent runs again, or
        failed), nor of an earlier job of it, cancelled and submitted again."""
        name = outcome.name
        if name not in self.scheduler.nodes or self.scheduler.state(name) not in HANDED_OUT:
            return False
        return not (outcome.backend_id and name in self.handles
                    and self.handles[name].backend_id not in ("", outcome.backend_id))

    def _settle(self, changed: list[tuple[str, NodeState]], ended: str, reason: str = "",
                **values: object) -> list[Instruction]:
        """Note the state changes (``values`` too for the AB that ended; ``reason`` for the ABs it blocks, by default
        that they depend on it); the jobs of ABs that wait again or are blocked without having started are
        cancelled (batch)."""
        blocked = {"reason": reason or f"it depends on {ended}, which failed"}
        self.pending += [(n, {"state": st.value, "attempts": self.scheduler.attempts(n),
                              **(values if n == ended else blocked if st is NodeState.BLOCKED else {})})
                         for n, st in changed]
        gone = tuple(self.handles.pop(n) for n, st in changed
                     if n != ended and st in (NodeState.WAITING, NodeState.BLOCKED) and n in self.handles)
        return [Cancel(gone)] if gone else []

    def _externals(self, states: Mapping[str, ExternalState]) -> list[Instruction]:
        """Parents in other cascades that ended: the children of one that succeeded go on at the next turn, those of
        one that failed are blocked with its reason; the children's waiting reasons are brought up to date."""
        scheduler = self.scheduler
        out: list[Instruction] = []
        touched: set[str] = set()
        for name, state in states.items():
            if state.succeeded is None or scheduler.outside.get(name) is not NodeState.WAITING:
                continue
            touched.update(scheduler.children[name])
            out += self._settle(scheduler.resolve_external(name, state.succeeded), name, state.reason)
        self.pending += self._waiting_reasons(sorted(touched, key=scheduler.rank.__getitem__))
        return out

    def _waiting_reasons(self, names: Iterable[str]) -> list[NodeUpdate]:
        """The reasons of these ABs, if WAITING: the parents in other cascades they still wait for (or none)."""
        scheduler = self.scheduler
        updates: list[NodeUpdate] = []
        for name in names:
            if scheduler.state(name) is NodeState.WAITING:
                reason = waiting_reason([self.externals[p] for p in scheduler.unresolved_parents(name)])
                updates.append((name, {"reason": reason}))
                (self.explained.add if reason else self.explained.discard)(name)
        return updates


def _persist(updates: list[NodeUpdate]) -> list[Instruction]:
    return [Persist(tuple(updates))] if updates else []
