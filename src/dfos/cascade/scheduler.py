"""The cascade scheduler: which AB may start now, and what a finished AB changes. Pure state.

Event-driven: the runner calls :meth:`Scheduler.finished` the moment an AB
ends and immediately asks :meth:`Scheduler.startable` again; there is no
polling interval.  Limits: ``slots`` ABs at once, and per category (e.g. at
most 8 downloads).  A failed AB is retried until ``max_attempts`` runs; then
it is FAILED and every descendant is BLOCKED without running.  INCOMPLETE ABs
are never run, and their descendants are blocked.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Node", "NodeState", "Scheduler"]


class NodeState(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"
    INCOMPLETE = "incomplete"


FINAL = {NodeState.SUCCEEDED, NodeState.FAILED, NodeState.BLOCKED, NodeState.INCOMPLETE}


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

    def __post_init__(self) -> None:
        unknown = {p for node in self.nodes.values() for p in node.parents if p not in self.nodes}
        if unknown:
            raise ValueError(f"parents not in the cascade: {', '.join(sorted(unknown))}")
        self.children: dict[str, list[str]] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            for parent in node.parents:
                self.children[parent].append(node.name)
        self.track = {name: _Track(NodeState.INCOMPLETE if n.incomplete else NodeState.WAITING)
                      for name, n in self.nodes.items()}
        self.order = list(self.nodes)
        self.rank = {name: i for i, name in enumerate(self.order)}
        self._running: set[str] = set()
        for name in self.order:
            if self.track[name].state is NodeState.INCOMPLETE:
                self._block_descendants(name)
        self._rebuild_ready()

    def _rebuild_ready(self) -> None:
        """Parents not yet succeeded per AB, and the heap of ABs whose parents all succeeded."""
        self.remaining = {
            name: sum(1 for p in node.parents if self.track[p].state is not NodeState.SUCCEEDED)
            for name, node in self.nodes.items()
        }
        self.ready = [self.rank[n] for n in self.order
                      if self.track[n].state is NodeState.WAITING and self.remaining[n] == 0]
        heapq.heapify(self.ready)

    # -- restoring after a restart -------------------------------------------------
    def restore(self, states: Mapping[str, tuple[NodeState, int]]) -> None:
        """Take over states persisted by an earlier run; a RUNNING AB runs again (its run was cut)."""
        for name, (state, attempts) in states.items():
            if name not in self.track or self.track[name].state is NodeState.INCOMPLETE:
                continue
            if state is NodeState.RUNNING:
                state = NodeState.WAITING
            self.track[name] = _Track(state, attempts)
        for name in self.order:
            if self.track[name].state is NodeState.FAILED:
                self._block_descendants(name)
        self._running = set()
        self._rebuild_ready()

    # -- queries ---------------------------------------------------------------------
    def state(self, name: str) -> NodeState:
        return self.track[name].state

    def attempts(self, name: str) -> int:
        return self.track[name].attempts

    def running(self) -> list[str]:
        return sorted(self._running, key=self.rank.__getitem__)

    @property
    def done(self) -> bool:
        """Nothing runs and nothing more will start."""
        if self._running:
            return False
        return self.stopping or not self.ready

    def counts(self) -> dict[str, int]:
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

    def finished(self, name: str, ok: bool) -> list[tuple[str, NodeState]]:
        """Record an AB's end; return every state that changed (the AB, retries, blocked descendants)."""
        track = self.track[name]
        if track.state is not NodeState.RUNNING:
            raise ValueError(f"{name} is {track.state.value}, not running")
        self._running.discard(name)
        if ok:
            track.state = NodeState.SUCCEEDED
            for child in self.children[name]:
                self.remaining[child] -= 1
                if self.remaining[child] == 0 and self.track[child].state is NodeState.WAITING:
                    heapq.heappush(self.ready, self.rank[child])
            return [(name, track.state)]
        if track.attempts < self.max_attempts:
            track.state = NodeState.WAITING
            heapq.heappush(self.ready, self.rank[name])
            return [(name, track.state)]
        track.state = NodeState.FAILED
        return [(name, track.state), *self._block_descendants(name)]

    def requeue(self, name: str) -> list[tuple[str, NodeState]]:
        """A running AB was cancelled (the executor stops): it waits again for the next run."""
        track = self.track[name]
        if track.state is not NodeState.RUNNING:
            raise ValueError(f"{name} is {track.state.value}, not running")
        self._running.discard(name)
        track.state = NodeState.WAITING
        heapq.heappush(self.ready, self.rank[name])
        return [(name, track.state)]

    def _block_descendants(self, name: str) -> list[tuple[str, NodeState]]:
        changed = []
        stack = list(self.children[name])
        while stack:
            child = stack.pop()
            if self.track[child].state is NodeState.WAITING:
                self.track[child].state = NodeState.BLOCKED
                changed.append((child, NodeState.BLOCKED))
                stack.extend(self.children[child])
        return changed


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
