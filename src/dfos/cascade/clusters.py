"""Which ABs share a batch job: clustering short ABs (docs/batch.md, "Clusters").  Pure.

A batch job costs about a second (the engine's cycle, a Python start) whatever it runs; a phoenix campaign's
ABs are many and often take less.  An AB is *short* when its recipe's expected time (the median of its earlier
runs, :class:`ClusterRule`) is at most ``BATCH_CLUSTER_SECONDS``; recipes never run here, and long ones, keep
a job each.  At each turn, in the cascade's order (parents first), :class:`Packer` puts every short AB handed out
into a cluster of at most ``BATCH_CLUSTER`` ABs, run one after another by one job:

* an AB whose parents all succeeded goes into the turn's open cluster (horizontal clustering);
* an AB whose parents are all in one cluster of this turn joins it, after them (vertical: a chain in one job;
  the job runs it only when they succeeded);
* a cluster job waits for nothing and nothing waits for it in the batch system: an AB behind a parent in a
  cluster job of an earlier turn (or in two clusters, or in a full one) is held in dfos until that parent
  ended; an AB behind single jobs only is a single job behind them, as without clustering.

A cluster's ABs keep their own states, attempts, run records and outcomes: only the job is shared.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field

from dfos.cascade.scheduler import HANDED_OUT, Scheduler

__all__ = ["ClusterRule", "Packer", "expected_seconds"]


def expected_seconds(walls: Mapping[str, list[float]]) -> dict[str, float]:
    """The expected time of each recipe: the median of its successful runs' wall times."""
    return {recipe: statistics.median(times) for recipe, times in walls.items() if times}


@dataclass
class ClusterRule:
    """How many ABs a job takes at most, and which ABs are short enough to share one."""

    size: int = 1
    """BATCH_CLUSTER: 1 is one job per AB."""
    seconds: float = 60.0
    """BATCH_CLUSTER_SECONDS."""
    expected: dict[str, float] = field(default_factory=dict)
    """Recipe -> expected seconds (from earlier run records; learnt from this cascade's too)."""

    def short(self, recipe: str) -> bool:
        return self.size > 1 and recipe in self.expected and self.expected[recipe] <= self.seconds

    def learn(self, recipe: str, wall_s: float | None) -> None:
        """A recipe never run before ran (successfully) this long: it is known from now on."""
        if wall_s is not None and recipe not in self.expected:
            self.expected[recipe] = wall_s


class Packer:
    """One turn's clusters, formed as :meth:`~dfos.cascade.scheduler.Scheduler.submittable` admits ABs."""

    def __init__(self, rule: ClusterRule, scheduler: Scheduler, in_cluster: Mapping[str, str]) -> None:
        """``in_cluster``: the handed-out ABs of earlier turns that run in a cluster job (AB -> cluster)."""
        self.rule = rule
        self.scheduler = scheduler
        self.in_cluster = in_cluster
        self.clusters: list[list[str]] = []
        self.where: dict[str, int] = {}
        """AB admitted this turn -> its cluster (index); ABs admitted as single jobs are not in it."""
        self.singles: set[str] = set()
        self.open: int | None = None
        """The cluster independent ABs go into."""

    def admit(self, name: str) -> bool:
        """Place an AB whose parents succeeded or are handed out; False: it is held back (waits)."""
        scheduler = self.scheduler
        handed = [p for p in scheduler.nodes[name].parents if p in scheduler.nodes and scheduler.state(p) in HANDED_OUT]
        if any(p in self.in_cluster and p not in self.where and p not in self.singles for p in handed):
            return False  # behind a cluster job of an earlier turn: waits until that parent ended
        now = {self.where[p] for p in handed if p in self.where}
        if not self.rule.short(scheduler.nodes[name].category) or any(p not in self.where for p in handed):
            return self._single(name) if not now else False
        if not now:
            self._into(name, self._open())
            return True
        (target,) = now if len(now) == 1 else (None,)
        if target is None or len(self.clusters[target]) >= self.rule.size:
            return False  # parents in two clusters, or in a full one: after they ended
        self._into(name, target)
        return True

    def _single(self, name: str) -> bool:
        self.singles.add(name)
        return True

    def _open(self) -> int:
        if self.open is None or len(self.clusters[self.open]) >= self.rule.size:
            self.clusters.append([])
            self.open = len(self.clusters) - 1
        return self.open

    def _into(self, name: str, index: int) -> None:
        self.clusters[index].append(name)
        self.where[name] = index

    @property
    def clusters_formed(self) -> tuple[tuple[str, ...], ...]:
        """The turn's clusters, each in the order its job runs them (parents first)."""
        return tuple(tuple(c) for c in self.clusters if c)
