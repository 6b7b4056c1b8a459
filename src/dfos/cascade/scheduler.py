"""The cascade scheduler: which AB may start now, and what a finished AB changes. Pure state.

Event-driven: the runner calls :meth:`Scheduler.finished` the moment an AB
ends and immediately asks :meth:`Scheduler.startable` again; there is no
polling interval.  Limits: ``slots`` ABs at once, and per category (e.g. at
most 8 downloads).  A failed AB is retried until ``max_attempts`` runs; then
it is FAILED and every descendant is BLOCKED without running.  INCOMPLETE ABs
are never run, and their descendants are blocked.

Two ways to hand ABs out, one state machine:

* :meth:`Scheduler.startable` (the local executor): an AB whose parents all
  succeeded starts now, within the slots.
* :meth:`Scheduler.submittable` (batch systems that hold a job until its parents
  succeed: Slurm ``afterok``, DAGMan): every AB whose parents are succeeded *or
  handed out* is SUBMITTED at once; the backend reports when it really starts
  (:meth:`Scheduler.started`).  A SUBMITTED AB has not run, so a parent's final
  failure blocks it like a WAITING one, and a parent's retry sends it back to
  WAITING (its job is cancelled and submitted again behind the parent's new one).

Parents in other cascades (``externals``: e.g. the CALIB ABs whose virtual calibrations a SCIENCE AB
takes) are never started nor submitted here: their end is learned from outside and told with
:meth:`Scheduler.resolve_external`.  Until then their children wait (not startable, not submittable)
and the cascade is not done; a parent resolved failed blocks its children like a failed AB.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["HANDED_OUT", "Node", "NodeState", "Scheduler"]


class NodeState(StrEnum):
    WAITING = "waiting"
    SUBMITTED = "submitted"
    """Handed to a batch system that starts it once its parents succeed; not started yet."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"
    INCOMPLETE = "incomplete"


FINAL = {NodeState.SUCCEEDED, NodeState.FAILED, NodeState.BLOCKED, NodeState.INCOMPLETE}
HANDED_OUT = frozenset({NodeState.SUBMITTED, NodeState.RUNNING})
"""Handed to an executor and not yet ended (a batch job may still be queued)."""


@dataclass(frozen=True)
class Node:
    """One AB of a cascade."""

    name: str
    parents: tuple[str, ...] = ()
    category: str = "recipe"
    incomplete: bool = False
    threads: int = 1
    """OMP threads of its recipe (INT: every core)."""
    program: str = "processAB"
    """What runs it: processAB, or processQC in a QC cascade (execQC)."""


@dataclass
class _Track:
    state: NodeState
    attempts: int = 0


@dataclass
class Scheduler:
    """Cascade state; see the module docstring."""

    nodes: Mapping[str, Node]
    slots: int
    limits: Mapping[str, int] = field(default_factory=dict)
    max_attempts: int = 1
    stopping: bool = False
    """Set by a graceful stop: nothing new starts."""
    batch: bool = False
    """ABs are handed out with :meth:`submittable` (the backend holds them until their parents succeed)."""
    externals: Collection[str] = ()
    """Parents in other cascades: never run here, resolved by :meth:`resolve_external`."""

    def __post_init__(self) -> None:
        self.outside = {name: NodeState.WAITING for name in self.externals}
        """The state of each parent in another cascade: WAITING until resolved, then SUCCEEDED or FAILED."""
        both = sorted(set(self.outside) & set(self.nodes))
        if both:
            raise ValueError(f"ABs both in the cascade and outside it: {', '.join(both)}")
        unknown = {p for node in self.nodes.values() for p in node.parents
                   if p not in self.nodes and p not in self.outside}
        if unknown:
            raise ValueError(f"parents not in the cascade: {', '.join(sorted(unknown))}")
        self.children: dict[str, list[str]] = {name: [] for name in (*self.nodes, *self.outside)}
        for node in self.nodes.values():
            for parent in node.parents:
                self.children[parent].append(node.name)
        self.track = {name: _Track(NodeState.INCOMPLETE if n.incomplete else NodeState.WAITING)
                      for name, n in self.nodes.items()}
        self.order = list(self.nodes)
        self.rank = {name: i for i, name in enumerate(self.order)}
        self.topo = _topological(self.order, self.nodes)
        self._running: set[str] = set()
        """Handed out and not yet ended: RUNNING, or SUBMITTED to a batch system."""
        self._dirty = True
        """Batch mode: an AB may have become submittable since the last look."""
        for name in self.order:
            if self.track[name].state is NodeState.INCOMPLETE:
                self._block_descendants(name)
        self._rebuild_ready()

    def _rebuild_ready(self) -> None:
        """Parents not yet succeeded per AB, and the heap of ABs whose parents all succeeded."""
        self.remaining = {
            name: sum(1 for p in node.parents if self._parent_state(p) is not NodeState.SUCCEEDED)
            for name, node in self.nodes.items()
        }
        self.ready = [self.rank[n] for n in self.order
                      if self.track[n].state is NodeState.WAITING and self.remaining[n] == 0]
        heapq.heapify(self.ready)

    # -- restoring after a restart -------------------------------------------------
    def restore(self, states: Mapping[str, tuple[NodeState, int]], adopted: Iterable[str] = ()) -> None:
        """Take over states persisted by an earlier run.

        A RUNNING or SUBMITTED AB runs again (its run was cut), unless it is ``adopted``: a batch job
        that outlived the previous executor and is followed on (it keeps its state).
        """
        adopted = set(adopted)
        self._running = set()
        for name, (state, attempts) in states.items():
            if name not in self.track or self.track[name].state is NodeState.INCOMPLETE:
                continue
            if state in HANDED_OUT:
                if name in adopted:
                    self._running.add(name)
                else:
                    state = NodeState.WAITING
            self.track[name] = _Track(state, attempts)
        for name in (*self.order, *self.outside):
            if self._parent_state(name) is NodeState.FAILED:
                self._block_descendants(name)
        self._dirty = True
        self._rebuild_ready()

    # -- queries ---------------------------------------------------------------------
    def state(self, name: str) -> NodeState:
        return self.track[name].state

    def _parent_state(self, name: str) -> NodeState:
        """The state of a parent, of this cascade or another one."""
        track = self.track.get(name)
        return track.state if track is not None else self.outside[name]

    def awaited(self) -> list[str]:
        """Parents in other cascades not yet resolved that a WAITING AB waits for (in the order first met)."""
        return [name for name, state in self.outside.items() if state is NodeState.WAITING
                and any(self.track[c].state is NodeState.WAITING for c in self.children[name])]

    def unresolved_parents(self, name: str) -> list[str]:
        """The parents of an AB that are in other cascades and not yet resolved."""
        return [p for p in self.nodes[name].parents if self.outside.get(p) is NodeState.WAITING]

    def attempts(self, name: str) -> int:
        return self.track[name].attempts

    def running(self) -> list[str]:
        return sorted(self._running, key=self.rank.__getitem__)

    @property
    def done(self) -> bool:
        """Nothing runs and nothing more will start (batch mode: asked right after :meth:`submittable`); while an
        AB waits for a parent of another cascade not yet resolved, not done (unless stopping)."""
        if self._running:
            return False
        if self.stopping:
            return True
        if self.awaited():
            return False
        return self.batch or not self.ready

    def counts(self) -> dict[str, int]:
        """ABs of this cascade per state (parents in other cascades are not counted)."""
        found = {state.value: 0 for state in NodeState}
        for t in self.track.values():
            found[t.state.value] += 1
        return found

    # -- transitions -------------------------------------------------------------------
    def startable(self) -> list[str]:
        """ABs to start now (marked RUNNING, attempts counted), within the slot and category limits."""
        if self.stopping:
            return []
        per_category: dict[str, int] = {}
        for name in self._running:
            per_category[self.nodes[name].category] = per_category.get(self.nodes[name].category, 0) + 1
        started: list[str] = []
        deferred: list[int] = []
        while self.ready and len(self._running) < self.slots:
            rank = heapq.heappop(self.ready)
            name = self.order[rank]
            category = self.nodes[name].category
            if per_category.get(category, 0) >= self.limits.get(category, self.slots):
                deferred.append(rank)  # its category is full; it keeps its place
                continue
            track = self.track[name]
            track.state = NodeState.RUNNING
            track.attempts += 1
            self._running.add(name)
            per_category[category] = per_category.get(category, 0) + 1
            started.append(name)
        for rank in deferred:
            heapq.heappush(self.ready, rank)
        return started

    def submittable(self, admit: Callable[[str], bool] | None = None) -> list[str]:
        """Batch mode: every WAITING AB whose parents all succeeded or are handed out, parents first
        (marked SUBMITTED, attempts counted).  No slot limit: the batch system holds each job until its
        parents succeed.  ``admit``, asked in that order, may hold an AB back (it waits; asked again after
        the next end)."""
        if self.stopping or not self._dirty:
            return []
        self._dirty = False
        handed = HANDED_OUT | {NodeState.SUCCEEDED}
        chosen = []
        for name in self.topo:
            track = self.track[name]
            if track.state is NodeState.WAITING and all(self._parent_state(p) in handed
                                                        for p in self.nodes[name].parents) \
                    and (admit is None or admit(name)):
                track.state = NodeState.SUBMITTED
                track.attempts += 1
                self._running.add(name)
                chosen.append(name)
        return chosen

    def started(self, name: str) -> bool:
        """A SUBMITTED AB began to run (the backend says so); False when it is not SUBMITTED (any more)."""
        track = self.track[name]
        if track.state is not NodeState.SUBMITTED:
            return False
        track.state = NodeState.RUNNING
        return True

    def finished(self, name: str, ok: bool) -> list[tuple[str, NodeState]]:
        """Record an AB's end; return every state that changed (the AB, retries, blocked descendants)."""
        track = self.track[name]
        if track.state not in HANDED_OUT:
            raise ValueError(f"{name} is {track.state.value}, not running")
        self._running.discard(name)
        if ok:
            track.state = NodeState.SUCCEEDED
            self._dirty = True  # (batch: a child held back until this parent ended may go now)
            for child in self.children[name]:
                self.remaining[child] -= 1
                if self.remaining[child] == 0 and self.track[child].state is NodeState.WAITING and not self.batch:
                    heapq.heappush(self.ready, self.rank[child])
            return [(name, track.state)]
        if track.attempts < self.max_attempts:
            track.state = NodeState.WAITING
            self._dirty = True
            if not self.batch:
                heapq.heappush(self.ready, self.rank[name])
            return [(name, track.state), *self._withdraw_descendants(name)]
        track.state = NodeState.FAILED
        return [(name, track.state), *self._block_descendants(name)]

    def resolve_external(self, name: str, succeeded: bool) -> list[tuple[str, NodeState]]:
        """A parent in another cascade ended: ``succeeded``, its children may go on (they start or are submitted
        at the next look); failed, every descendant that has not started is BLOCKED (returned, as by
        :meth:`finished`).  The first resolution holds: a later one changes nothing."""
        if self.outside[name] is not NodeState.WAITING:
            return []
        if not succeeded:
            self.outside[name] = NodeState.FAILED
            return self._block_descendants(name)
        self.outside[name] = NodeState.SUCCEEDED
        self._dirty = True
        for child in self.children[name]:
            self.remaining[child] -= 1
            if self.remaining[child] == 0 and self.track[child].state is NodeState.WAITING and not self.batch:
                heapq.heappush(self.ready, self.rank[child])
        return []

    def requeue(self, name: str, ran: bool = True) -> list[tuple[str, NodeState]]:
        """A handed-out AB was cancelled (the executor stops, or a batch job went away): it waits again.

        ``ran=False``: it never started (a batch job cancelled in the queue), so its attempt is not
        counted.  ABs submitted behind it wait again too (their jobs depended on its job).
        """
        track = self.track[name]
        if track.state not in HANDED_OUT:
            raise ValueError(f"{name} is {track.state.value}, not running")
        self._running.discard(name)
        track.state = NodeState.WAITING
        if not ran:
            track.attempts -= 1
        self._dirty = True
        if not self.batch:
            heapq.heappush(self.ready, self.rank[name])
        return [(name, track.state), *self._withdraw_descendants(name)]

    def _withdraw_descendants(self, name: str) -> list[tuple[str, NodeState]]:
        """Batch mode: SUBMITTED descendants of an AB that runs again wait again (never started: the
        attempt is not counted); their jobs are to be cancelled."""
        return self._reset_descendants(name, {NodeState.SUBMITTED}, NodeState.WAITING)

    def _block_descendants(self, name: str) -> list[tuple[str, NodeState]]:
        """Descendants that have not started (WAITING, or SUBMITTED to a batch system) are BLOCKED."""
        return self._reset_descendants(name, {NodeState.WAITING, NodeState.SUBMITTED}, NodeState.BLOCKED)

    def _reset_descendants(self, name: str, states: set[NodeState], to: NodeState) -> list[tuple[str, NodeState]]:
        """Descendants in ``states`` (and theirs) become ``to``; a SUBMITTED one never started, so its
        attempt is taken back."""
        changed = []
        stack = list(self.children[name])
        while stack:
            child = stack.pop()
            track = self.track[child]
            if track.state in states:
                if track.state is NodeState.SUBMITTED:
                    track.attempts -= 1
                    self._running.discard(child)
                track.state = to
                changed.append((child, to))
                stack.extend(self.children[child])
        return changed


def _topological(order: list[str], nodes: Mapping[str, Node]) -> list[str]:
    """The ABs with every parent before its children; otherwise in ``order`` (cascade order)."""
    placed: set[str] = set()
    opened: set[str] = set()  # a node met again while open closes a cycle: it is not followed twice
    result: list[str] = []
    for root in order:
        stack = [(root, False)]
        while stack:
            name, expanded = stack.pop()
            if name in placed:
                continue
            if expanded:
                placed.add(name)
                result.append(name)
                continue
            if name in opened:
                continue
            opened.add(name)
            stack.append((name, True))
            stack.extend((p, False) for p in reversed(nodes[name].parents) if p not in placed and p in nodes)
    return result


def descendants(nodes: Iterable[Node], root: str) -> set[str]:
    """``root`` and every node that depends on it, directly or not."""
    children: dict[str, list[str]] = {}
    for node in nodes:
        for parent in node.parents:
            children.setdefault(parent, []).append(node.name)
    found, stack = {root}, [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found
