"""Clusters of short ABs in one batch job, decided without a batch system (the dispatcher and its packer)."""

from __future__ import annotations

from collections.abc import Sequence

from dfos.cascade.clusters import ClusterRule, expected_seconds
from dfos.cascade.events import (
    BatchDispatch,
    Cancel,
    Dispatcher,
    Ended,
    Instruction,
    Persist,
    RunRecord,
    Sent,
    Stop,
    Submit,
    Turn,
)
from dfos.cascade.scheduler import Node, Scheduler
from dfos.executors.base import Handle, Outcome

DAG = "CALIB_2013-02-12"


def dispatcher(nodes: Sequence[Node], size: int = 3, expected: dict[str, float] | None = None,
               max_attempts: int = 1, handles: dict[str, Handle] | None = None) -> Dispatcher:
    scheduler = Scheduler({n.name: n for n in nodes}, 1, max_attempts=max_attempts, batch=True)
    rule = ClusterRule(size, 60.0, dict({"short": 1.0, "long": 600.0} if expected is None else expected))
    return Dispatcher(scheduler, BatchDispatch(rule), DAG, handles)


class FakeEngine:
    """Takes a turn's Submit as a batch executor would: a job id per job, shared by a cluster's ABs."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, ...]] = []
        self.behind: dict[str, tuple[str, ...]] = {}

    def turn(self, d: Dispatcher) -> list[Instruction]:
        out = d.handle(Turn())
        handles: list[Handle] = []
        for submit in (i for i in out if isinstance(i, Submit)):
            shared = {n: c for c in submit.clusters for n in c}
            for task in submit.tasks:
                if task.name in shared and shared[task.name][0] != task.name:
                    continue
                job = shared.get(task.name, (task.name,))
                self.jobs.append(job)
                ident = f"{len(self.jobs)}" + (f"/k{len(self.jobs)}" if task.name in shared else "")
                handles += [Handle(n, ident, f"k{len(self.jobs)}" if task.name in shared else "") for n in job]
                self.behind[task.name] = task.after
        return out + d.handle(Sent(tuple(handles)))


def end(d: Dispatcher, name: str, ok: bool = True, wall: float = 1.0, **flags: bool) -> list[Instruction]:
    job = d.handles[name].backend_id if name in d.handles else "withdrawn"
    record = None if flags.get("never_ran") else RunRecord("SUCCESSFUL" if ok else "FAILED", 0 if ok else 3, wall)
    return d.handle(Ended((Outcome(name, ok, 0 if ok else 1, wall, "", job, **flags),),
                          {name: record} if record else {}))


def states(d: Dispatcher) -> dict[str, str]:
    return {n: d.scheduler.state(n).value for n in d.scheduler.nodes}


def updates(instructions: Sequence[Instruction]) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for i in instructions:
        if isinstance(i, Persist):
            for name, values in i.updates:
                found.setdefault(name, {}).update(values)
    return found


def test_short_independent_abs_share_jobs_of_at_most_the_cluster_size_and_long_ones_run_alone() -> None:
    nodes = [*(Node(f"S{i}", category="short") for i in range(7)), Node("L", category="long"),
             Node("U", category="new")]
    engine = FakeEngine()
    engine.turn(dispatcher(nodes))
    assert sorted(engine.jobs) == [("L",), ("S0", "S1", "S2"), ("S3", "S4", "S5"), ("S6",), ("U",)]


def test_one_ab_per_job_when_the_cluster_size_is_one() -> None:
    engine = FakeEngine()
    engine.turn(dispatcher([Node(f"S{i}", category="short") for i in range(3)], size=1))
    assert engine.jobs == [("S0",), ("S1",), ("S2",)]


def test_a_chain_is_ordered_within_a_job_and_the_rest_waits_in_dfos_for_the_last_of_it() -> None:
    nodes = [Node(f"C{i}", (f"C{i - 1}",) if i else (), category="short") for i in range(5)]
    d = dispatcher(nodes)
    engine = FakeEngine()
    engine.turn(d)
    assert engine.jobs == [("C0", "C1", "C2")]  # parents first: the job runs each after its parent
    assert states(d)["C3"] == "waiting"  # not submitted behind a cluster job: held until C2 ended
    for name in ("C0", "C1"):
        end(d, name)
        engine.turn(d)
    assert engine.jobs == [("C0", "C1", "C2")]
    end(d, "C2")
    engine.turn(d)
    assert engine.jobs[1:] == [("C3", "C4")]
    assert engine.behind["C3"] == ()  # a cluster job waits for nothing: C3's parent had succeeded


def test_a_failure_in_a_cluster_is_the_failing_abs_alone() -> None:
    nodes = [Node("A", category="short"), Node("B", category="short"), Node("C", category="short"),
             Node("D", ("B",), category="short")]
    d = dispatcher(nodes, size=4)
    engine = FakeEngine()
    engine.turn(d)
    assert engine.jobs == [("A", "B", "C", "D")]  # (in the cascade's order, parents first)
    end(d, "A")
    out = end(d, "B", ok=False)
    written = updates(out + d.handle(Turn()))
    assert written["B"]["state"] == "failed" and written["B"]["exit_code"] == 3  # its own record's exit code
    assert written["D"]["state"] == "blocked" and "depends on B" in str(written["D"]["reason"])
    gone = [h for i in out if isinstance(i, Cancel) for h in i.handles]
    assert [h.name for h in gone] == ["D"]  # withdrawn from the job (the job skips it), nothing else
    end(d, "C")
    assert states(d) == {"A": "succeeded", "B": "failed", "C": "succeeded", "D": "blocked"}
    assert d.done


def test_a_child_of_a_single_job_goes_behind_it_and_a_child_of_an_earlier_cluster_waits() -> None:
    nodes = [Node("L", category="long"), Node("S", category="short"), Node("after_l", ("L",), category="short"),
             Node("after_s", ("S",), category="long")]
    d = dispatcher(nodes)
    engine = FakeEngine()
    engine.turn(d)
    assert ("after_l",) in engine.jobs and engine.behind["after_l"] == ("L",)  # as without clusters
    assert states(d)["after_s"] == "waiting"  # a long AB behind a cluster: held, not behind the cluster job
    end(d, "S")
    engine.turn(d)
    assert engine.jobs[-1] == ("after_s",) and engine.behind["after_s"] == ()


def test_a_recipe_never_run_runs_alone_until_one_of_its_abs_succeeded() -> None:
    nodes = [Node("N0", category="new"), *(Node(f"N{i}", ("N0",), category="new") for i in range(1, 4))]
    d = dispatcher(nodes)
    engine = FakeEngine()
    engine.turn(d)
    assert engine.jobs == [("N0",), ("N1",), ("N2",), ("N3",)]  # unknown: a job each (behind N0)
    d2 = dispatcher(nodes)
    engine2 = FakeEngine()
    d2.handle(Turn())  # (only N0 goes out if its children are held: they are not, N0 is a single job)
    assert d2.scheduler.state("N1").value == "submitted"
    rule = ClusterRule(3, 60.0, {})
    rule.learn("new", 2.0)
    assert rule.short("new")
    rule.learn("new", 600.0)  # the first time learnt holds (earlier runs' median comes from the database)
    assert rule.short("new") and not engine2.jobs


def test_what_a_cascade_learns_of_a_new_recipe_clusters_the_abs_that_follow() -> None:
    nodes = [Node("N0", category="new"), Node("S", category="short"),
             *(Node(f"N{i}", ("S",), category="new") for i in range(1, 4))]
    d = dispatcher(nodes)
    engine = FakeEngine()
    engine.turn(d)
    assert sorted(engine.jobs) == [("N0",), ("S",)]  # N1..N3 wait for S (in a cluster job) to end
    end(d, "N0", wall=2.0)
    end(d, "S")
    engine.turn(d)
    assert engine.jobs[-1] == ("N1", "N2", "N3")


def test_a_stop_withdraws_the_unstarted_abs_of_a_cluster_and_lets_the_started_one_finish() -> None:
    d = dispatcher([Node(f"S{i}", category="short") for i in range(3)])
    engine = FakeEngine()
    engine.turn(d)
    d.handle(Turn((Handle("S0", d.handles["S0"].backend_id),)))
    out = d.handle(Stop())
    assert sorted(h.name for i in out if isinstance(i, Cancel) for h in i.handles) == ["S1", "S2"]
    end(d, "S0")
    end(d, "S1", ok=False, never_ran=True)
    end(d, "S2", ok=False, never_ran=True)
    assert states(d) == {"S0": "succeeded", "S1": "waiting", "S2": "waiting"}
    assert d.scheduler.attempts("S1") == 0 and d.done


def test_a_retry_of_a_clustered_ab_goes_into_a_new_job() -> None:
    d = dispatcher([Node("A", category="short"), Node("B", category="short"), Node("C", ("A",), category="short")],
                   max_attempts=2)
    engine = FakeEngine()
    engine.turn(d)
    assert engine.jobs == [("A", "B", "C")]
    out = end(d, "A", ok=False)
    assert [h.name for i in out if isinstance(i, Cancel) for h in i.handles] == ["C"]
    end(d, "C", ok=False, never_ran=True)  # skipped by the job: its parent did not succeed (stale now)
    engine.turn(d)
    assert engine.jobs[-1] == ("A", "C")
    assert d.scheduler.attempts("A") == 2 and d.scheduler.attempts("C") == 1


def test_children_of_adopted_cluster_jobs_wait_for_their_parents_to_end() -> None:
    nodes = [Node("A", category="short"), Node("B", ("A",), category="short")]
    scheduler = Scheduler({n.name: n for n in nodes}, 1, batch=True)
    scheduler.restore({"A": (scheduler.state("A").__class__("submitted"), 1)}, adopted={"A"})
    d = Dispatcher(scheduler, BatchDispatch(ClusterRule(3, 60.0, {"short": 1.0})), DAG,
                   {"A": Handle("A", "7/k1", "k1")})
    dispatch = d.dispatch
    assert isinstance(dispatch, BatchDispatch)
    dispatch.in_cluster.update({"A": "k1"})
    engine = FakeEngine()
    engine.turn(d)
    assert engine.jobs == [] and states(d)["B"] == "waiting"


def test_expected_seconds_are_the_medians_of_earlier_runs() -> None:
    assert expected_seconds({"a": [1.0, 9.0, 2.0], "b": []}) == {"a": 2.0}
