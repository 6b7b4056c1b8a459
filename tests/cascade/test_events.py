"""The cascade's decisions without a process: events in, instructions out (local and batch dispatch)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from dfos.cascade.events import (
    MAX_BOUNCES,
    BatchDispatch,
    Cancel,
    CascadeProgress,
    Close,
    Dispatcher,
    Ended,
    Externals,
    Instruction,
    Interrupt,
    LocalDispatch,
    Persist,
    RunRecord,
    SendFailed,
    Sent,
    Stop,
    Submit,
    Turn,
    Verdict,
    judge,
    settled_state,
)
from dfos.cascade.externals import External, ExternalState
from dfos.cascade.scheduler import Node, NodeState, Scheduler
from dfos.executors.base import Handle, Outcome, Task

DAG = "CALIB_2013-02-12"


def local(*nodes: Node, slots: int = 2, max_attempts: int = 1) -> Dispatcher:
    return Dispatcher(Scheduler({n.name: n for n in nodes}, slots, max_attempts=max_attempts), LocalDispatch(), DAG)


def batch(*nodes: Node, max_attempts: int = 1) -> Dispatcher:
    scheduler = Scheduler({n.name: n for n in nodes}, 1, max_attempts=max_attempts, batch=True)
    return Dispatcher(scheduler, BatchDispatch(), DAG)


def chain(n: int) -> list[Node]:
    names = [f"C{i}" for i in range(n)]
    return [Node(name, (names[i - 1],) if i else ()) for i, name in enumerate(names)]


def persisted(instructions: Sequence[Instruction]) -> dict[str, dict[str, object]]:
    """Every update of the instructions, merged per AB (later ones win, as in the database)."""
    found: dict[str, dict[str, object]] = {}
    for instruction in instructions:
        if isinstance(instruction, Persist):
            for name, values in instruction.updates:
                found.setdefault(name, {}).update(values)
    return found


def submitted(instructions: Sequence[Instruction]) -> list[Task]:
    return [t for i in instructions if isinstance(i, Submit) for t in i.tasks]


def cancelled(instructions: Sequence[Instruction]) -> list[str]:
    return [h.backend_id or h.name for i in instructions if isinstance(i, Cancel) for h in i.handles]


def send(d: Dispatcher, started: tuple[Handle, ...] = (), ids: dict[str, str] | None = None) -> list[Instruction]:
    """A turn whose tasks the executor takes (with ``ids`` as their backend ids); all instructions of it."""
    out = d.handle(Turn(started))
    tasks = submitted(out)
    return out + d.handle(Sent(tuple(Handle(t.name, (ids or {}).get(t.name, "")) for t in tasks)))


def ended(name: str, ok: bool = True, job: str = "", **flags: bool) -> Ended:
    return Ended((Outcome(name, ok, 0 if ok else 1, 1.5, "", job, **flags),))


# -- local dispatch ------------------------------------------------------------------------------------------------
def test_a_local_turn_persists_running_before_it_submits_within_the_slots() -> None:
    d = local(*chain(2), Node("X", category="download"))
    out = d.handle(Turn())
    assert [type(i) for i in out] == [Persist, Submit]
    assert persisted(out) == {name: {"state": "running", "attempts": 1, "exit_code": None, "pid": None,
                                     "backend_id": None} for name in ("C0", "X")}
    assert submitted(out) == [Task("C0", ("processAB", "-a", "C0"), "recipe", 1, DAG, 1),
                              Task("X", ("processAB", "-a", "X"), "download", 1, DAG, 1)]
    assert d.handle(Sent((Handle("C0", ""), Handle("X", "")))) == []  # a local task's pid comes when it starts
    out = d.handle(Turn(started=(Handle("C0", "4711"),)))
    assert persisted(out) == {"C0": {"backend_id": "4711", "pid": 4711}} and submitted(out) == []
    assert d.handle(ended("C0")) == []  # noted, persisted with the next turn in the same transaction
    out = d.handle(Turn())
    assert persisted(out)["C0"] == {"state": "succeeded", "attempts": 1, "exit_code": 0, "wall_s": 1.5}
    assert persisted(out)["C1"]["state"] == "running" and [t.name for t in submitted(out)] == ["C1"]
    assert not d.done and d.records_wanted([Outcome("C1", True, 0, 1.0)]) == []


def test_a_graceful_stop_starts_nothing_new_and_lets_running_abs_finish() -> None:
    d = local(*chain(3), Node("X"))
    send(d)
    assert d.handle(Stop()) == [] and d.stopping
    assert d.handle(Stop()) == []  # once is enough
    d.handle(ended("C0"))
    assert submitted(d.handle(Turn())) == [] and not d.done  # X still runs
    d.handle(ended("X"))
    out = d.handle(Turn())
    assert submitted(out) == [] and d.done
    assert d.counts()["succeeded"] == 2 and d.counts()["waiting"] == 2


def test_an_interrupt_cancels_what_runs_here_and_keeps_it_queued() -> None:
    d = local(*chain(2), Node("X"))
    send(d)
    out = d.handle(Interrupt())
    assert cancelled(out) == ["C0", "X"] and d.stopping and not d.released
    assert d.handle(Interrupt()) == []  # each turn asks again: nothing more to cancel
    d.handle(ended("C0", ok=False))  # killed
    d.handle(ended("X"))  # it ended before the signal reached it
    out = d.handle(Turn())
    assert persisted(out)["C0"] == {"state": "waiting", "attempts": 1}
    assert submitted(out) == [] and d.done
    assert d.handle(Close()) == []


def test_an_interrupt_before_anything_runs_starts_nothing() -> None:
    d = local(*chain(2))
    assert d.handle(Interrupt()) == []
    assert submitted(d.handle(Turn())) == [] and d.done


def test_a_failure_is_retried_then_blocks_its_descendants() -> None:
    d = local(*chain(3), max_attempts=2)
    send(d)
    d.handle(ended("C0", ok=False))
    out = send(d)
    assert [u for i in out if isinstance(i, Persist) for u in i.updates] == [
        ("C0", {"state": "waiting", "attempts": 1, "exit_code": 1, "wall_s": 1.5}),  # the failure, then the retry
        ("C0", {"state": "running", "attempts": 2, "exit_code": None, "pid": None, "backend_id": None})]
    assert submitted(out)[0].attempt == 2
    assert d.handle(ended("C0", ok=False)) == []  # nothing of C1, C2 was handed out: nothing to cancel
    out = d.handle(Turn())
    assert {n: v["state"] for n, v in persisted(out).items()} == {"C0": "failed", "C1": "blocked", "C2": "blocked"}
    assert d.done


# -- batch dispatch ------------------------------------------------------------------------------------------------
def test_a_batch_system_gets_the_whole_cascade_at_once_parents_first() -> None:
    d = batch(*chain(3))
    out = send(d, ids={"C0": "j1", "C1": "j2", "C2": "j3"})
    assert [(t.name, t.after) for t in submitted(out)] == [("C0", ()), ("C1", ("C0",)), ("C2", ("C1",))]
    assert [type(i) for i in out] == [Persist, Submit, Persist]  # submitted before, its job id right after
    assert persisted(out) == {f"C{i}": {"state": "submitted", "attempts": 1, "exit_code": None, "pid": None,
                                        "backend_id": f"j{i + 1}"} for i in range(3)}
    out = d.handle(Turn(started=(Handle("C0", "j1"),)))
    assert persisted(out) == {"C0": {"backend_id": "j1", "state": "running"}}  # no pid: it runs elsewhere
    assert d.records_wanted([Outcome("C0", True, 0, 1.0), Outcome("gone", True, 0, 1.0)]) == [("C0", 1)]
    assert not d.done


def test_a_stop_takes_back_what_a_batch_system_still_queues() -> None:
    d = batch(*chain(3))
    send(d, ids={"C0": "j1", "C1": "j2", "C2": "j3"})
    d.handle(Turn(started=(Handle("C0", "j1"),)))
    assert cancelled(d.handle(Stop())) == ["j2", "j3"]
    # cancelled in the queue: they never ran, their attempts are not counted (C2 waits again with C1)
    assert cancelled(d.handle(ended("C1", ok=False, job="j2", never_ran=True))) == ["j3"]
    assert d.handle(ended("C2", ok=False, job="j3", never_ran=True)) == []  # already withdrawn
    d.handle(ended("C0", job="j1"))
    out = d.handle(Turn())
    assert {n: (v["state"], v["attempts"]) for n, v in persisted(out).items()} == \
        {"C0": ("succeeded", 1), "C1": ("waiting", 0), "C2": ("waiting", 0)}
    assert submitted(out) == [] and d.done


def test_a_stop_now_after_a_graceful_one_cancels_the_running_job_and_its_removed_end_is_no_failure() -> None:
    d = batch(*chain(3))
    send(d, ids={"C0": "j1", "C1": "j2", "C2": "j3"})
    d.handle(Turn(started=(Handle("C0", "j1"),)))
    assert cancelled(d.handle(Stop())) == ["j2", "j3"]
    assert cancelled(d.handle(Stop(now=True))) == ["j1"]  # stop-cascade --now: the running job too, once
    assert d.handle(Stop(now=True)) == [] and d.handle(Stop()) == []
    d.handle(ended("C0", ok=False, job="j1"))  # condor_rm: DAGMan says the node failed
    d.handle(ended("C1", ok=False, job="j2", never_ran=True))
    d.handle(ended("C2", ok=False, job="j3", never_ran=True))
    out = d.handle(Turn())
    assert {n: (v["state"], v["attempts"]) for n, v in persisted(out).items()} == \
        {"C0": ("waiting", 1), "C1": ("waiting", 0), "C2": ("waiting", 0)}  # C0 ran: its attempt counts
    assert submitted(out) == [] and d.done and d.counts()["failed"] == d.counts()["blocked"] == 0


def test_a_stop_now_keeps_a_job_that_succeeded_before_it_was_killed() -> None:
    d = local(*chain(2), Node("X"))
    send(d)
    assert cancelled(d.handle(Stop(now=True))) == ["C0", "X"]
    d.handle(ended("C0", ok=False))  # killed
    d.handle(ended("X"))  # it ended before the kill reached it
    out = d.handle(Turn())
    assert {n: v["state"] for n, v in persisted(out).items()} == {"C0": "waiting", "X": "succeeded"}
    assert submitted(out) == [] and d.done


def test_an_interrupt_leaves_the_batch_jobs_running_for_the_next_run_to_adopt() -> None:
    d = batch(*chain(2))
    send(d, ids={"C0": "j1", "C1": "j2"})
    d.handle(ended("C0", job="j1"))
    assert d.handle(Interrupt()) == [] and d.released
    out = d.handle(Close(started=(Handle("C1", "j2"),)))
    assert persisted(out) == {"C0": {"state": "succeeded", "attempts": 1, "exit_code": 0, "wall_s": 1.5},
                              "C1": {"backend_id": "j2"}}


def test_a_retried_parent_withdraws_the_jobs_queued_behind_it() -> None:
    d = batch(*chain(2), max_attempts=2)
    send(d, ids={"C0": "j1", "C1": "j2"})
    assert cancelled(d.handle(ended("C0", ok=False, job="j1"))) == ["j2"]
    out = send(d, ids={"C0": "j3", "C1": "j4"})
    assert [(t.name, t.attempt, t.after) for t in submitted(out)] == [("C0", 2, ()), ("C1", 1, ("C0",))]
    assert d.handle(ended("C1", ok=False, job="j2", never_ran=True)) == []  # the withdrawn job: stale
    assert persisted(d.handle(Turn())) == {}
    d.handle(ended("C0", ok=False, job="j3"))  # the last attempt fails: C1 is blocked, its job cancelled ...
    out = d.handle(Turn())
    assert {n: v["state"] for n, v in persisted(out).items()} == {"C0": "failed", "C1": "blocked"}


def test_a_final_failure_cancels_the_jobs_of_the_blocked_descendants() -> None:
    d = batch(*chain(3))
    send(d, ids={"C0": "j1", "C1": "j2", "C2": "j3"})
    assert cancelled(d.handle(ended("C0", ok=False, job="j1"))) == ["j2", "j3"]
    assert d.handle(ended("C1", ok=False, job="j2", never_ran=True)) == []  # no longer handed out
    d.handle(Turn())
    assert d.done and d.counts()["blocked"] == 2


def test_a_job_taken_out_of_the_queue_again_and_again_fails_in_the_end() -> None:
    d = batch(Node("A"))
    jobs = 0
    while True:
        out = d.handle(Turn())
        for task in submitted(out):
            jobs += 1
            d.handle(Sent((Handle(task.name, f"j{jobs}"),)))
            assert task.attempt == 1  # an unstarted job does not count as an attempt
        if d.done:
            break
        d.handle(ended("A", ok=False, job=f"j{jobs}", never_ran=True))
    assert jobs == MAX_BOUNCES + 1
    assert d.scheduler.state("A") is NodeState.FAILED and d.scheduler.attempts("A") == 1


def test_a_lost_job_is_judged_by_its_run_record_or_runs_again() -> None:
    d = batch(Node("A"), Node("B"))
    send(d, ids={"A": "j1", "B": "j2"})
    lost = Ended((Outcome("A", False, None, 0.0, "purged", "j1", lost=True),
                  Outcome("B", False, None, 0.0, "purged", "j2", lost=True)),
                 records={"A": RunRecord("SUCCESSFUL", 0, 4.25)})
    assert d.handle(lost) == []
    out = send(d, ids={"B": "j3"})
    assert persisted(out)["A"] == {"state": "succeeded", "attempts": 1, "exit_code": 0, "wall_s": 4.25}
    assert persisted(out)["B"]["state"] == "submitted" and [(t.name, t.attempt) for t in submitted(out)] == [("B", 2)]


def test_the_record_gives_exit_code_and_time_of_a_batch_job_that_ended() -> None:
    d = batch(Node("A"))
    send(d, ids={"A": "j1"})
    d.handle(Ended((Outcome("A", False, None, 9.0, "", "j1"),), records={"A": RunRecord("FAILED", 2, 3.5)}))
    assert persisted(d.handle(Turn()))["A"] == {"state": "failed", "attempts": 1, "exit_code": 2, "wall_s": 3.5}


def test_an_earlier_job_of_an_ab_submitted_again_is_ignored() -> None:
    d = batch(Node("A"), max_attempts=2)
    send(d, ids={"A": "j1"})
    d.handle(ended("A", ok=False, job="j1"))
    send(d, ids={"A": "j2"})
    assert d.handle(ended("A", ok=False, job="j1")) == []  # reported twice by the batch system
    assert d.handle(ended("unknown.ab")) == []
    assert persisted(d.handle(Turn())) == {} and d.scheduler.state("A") is NodeState.SUBMITTED


def test_what_was_not_submitted_when_the_batch_system_refused_waits_again() -> None:
    d = batch(*chain(3))
    out = d.handle(Turn())
    assert len(submitted(out)) == 3
    out = d.handle(SendFailed((Handle("C0", "j1"),)))
    assert persisted(out) == {"C0": {"backend_id": "j1"}, "C1": {"state": "waiting", "attempts": 0},
                              "C2": {"state": "waiting", "attempts": 0}}


# -- parents in other cascades -------------------------------------------------------------------------------------
SCI = "SCIENCE_2013-02-12"
CAL = External("cal.ab", "CALIB_2013-02-12", SCI)


def science(dispatch: LocalDispatch | BatchDispatch) -> Dispatcher:
    """sci1 <- cal.ab (of the CALIB cascade), sci2 <- sci1, free."""
    nodes = {"sci1": Node("sci1", ("cal.ab",)), "sci2": Node("sci2", ("sci1",)), "free": Node("free")}
    scheduler = Scheduler(nodes, 4, batch=dispatch.batch, externals=("cal.ab",))
    return Dispatcher(scheduler, dispatch, SCI, externals={"cal.ab": CAL})


def test_an_ab_waiting_for_another_cascade_says_so_and_starts_once_its_parent_succeeded() -> None:
    d = science(LocalDispatch())
    out = send(d)
    assert persisted(out)["sci1"] == {"reason": "waiting for calibration cal.ab of CALIB_2013-02-12"}
    assert [t.name for t in submitted(out)] == ["free"]
    assert d.awaited() == [CAL]
    assert d.progress() == CascadeProgress(d.counts(), "waiting for 1 calibration AB of CALIB_2013-02-12")
    d.handle(ended("free"))
    assert d.handle(Externals({"cal.ab": ExternalState(None)})) == []  # not ended yet
    out = send(d)
    assert submitted(out) == [] and not d.done
    assert d.handle(Externals({"cal.ab": ExternalState(True)})) == []
    out = send(d)
    assert [t.name for t in submitted(out)] == ["sci1"]
    assert persisted(out)["sci1"] == {"state": "running", "attempts": 1, "exit_code": None, "pid": None,
                                      "backend_id": None, "reason": None}  # it waits for nothing any more
    assert d.awaited() == [] and d.progress().awaiting == ""


def test_a_parent_in_another_cascade_that_failed_blocks_the_abs_behind_it_with_its_reason() -> None:
    d = science(LocalDispatch())
    send(d)
    why = "its calibration cal.ab failed in cascade CALIB_2013-02-12: ..."
    assert d.handle(Externals({"cal.ab": ExternalState(False, why)})) == []
    d.handle(ended("free"))
    out = d.handle(Turn())
    assert persisted(out)["sci1"] == persisted(out)["sci2"] == {"state": "blocked", "attempts": 0, "reason": why}
    assert d.done and d.counts()["blocked"] == 2


def test_an_internal_failure_gives_its_blocked_descendants_a_reason_too() -> None:
    d = local(*chain(3))
    send(d)
    d.handle(ended("C0", ok=False))
    out = d.handle(Turn())
    assert persisted(out)["C2"] == {"state": "blocked", "attempts": 0, "reason": "it depends on C0, which failed"}


def test_a_batch_system_gets_the_children_of_an_outside_parent_once_it_succeeded() -> None:
    d = science(BatchDispatch())
    assert [t.name for t in submitted(send(d, ids={"free": "j1"}))] == ["free"]
    assert submitted(send(d)) == [] and not d.done
    d.handle(Externals({"cal.ab": ExternalState(True)}))
    tasks = submitted(send(d, ids={"sci1": "j2", "sci2": "j3"}))
    assert [(t.name, t.after) for t in tasks] == [("sci1", ()), ("sci2", ("sci1",))]  # never behind cal.ab


def test_an_outside_failure_cancels_the_adopted_jobs_of_its_children() -> None:
    nodes = {"sci1": Node("sci1", ("cal.ab",)), "sci2": Node("sci2", ("sci1",))}
    scheduler = Scheduler(nodes, 1, batch=True, externals=("cal.ab",))
    scheduler.restore({"sci1": (NodeState.SUBMITTED, 1), "sci2": (NodeState.SUBMITTED, 1)}, adopted={"sci1", "sci2"})
    d = Dispatcher(scheduler, BatchDispatch(), SCI, {"sci1": Handle("sci1", "j7"), "sci2": Handle("sci2", "j8")},
                   externals={"cal.ab": CAL})
    out = d.handle(Externals({"cal.ab": ExternalState(False, "its calibration cal.ab was rejected")}))
    assert sorted(cancelled(out)) == ["j7", "j8"]
    assert persisted(d.handle(Turn()))["sci2"]["reason"] == "its calibration cal.ab was rejected"


def test_an_outside_parent_without_a_label_is_of_another_cascade() -> None:
    scheduler = Scheduler({"sci": Node("sci", ("cal.ab",))}, 1, externals=("cal.ab",))
    out = Dispatcher(scheduler, LocalDispatch(), SCI).handle(Turn())
    assert persisted(out) == {"sci": {"reason": "waiting for parent cal.ab of another cascade"}}


def test_an_unknown_event_is_refused() -> None:
    with pytest.raises(TypeError, match="not a cascade event"):
        local(Node("A")).handle("ended")  # type: ignore[arg-type]


# -- the pure judgements -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("outcome", "current", "cancelled_", "bounces", "record", "verdict"), [
    (Outcome("A", True, 0, 1.0), False, False, 0, None, Verdict.STALE),
    (Outcome("A", False, None, 0.0, never_ran=True), True, False, 1, None, Verdict.UNSTARTED),
    (Outcome("A", False, None, 0.0, never_ran=True), True, False, MAX_BOUNCES + 1, None, Verdict.BOUNCED_OUT),
    (Outcome("A", False, None, 0.0, never_ran=True), True, True, MAX_BOUNCES + 1, None, Verdict.UNSTARTED),
    (Outcome("A", False, None, 0.0), True, True, 0, None, Verdict.CANCELLED),
    (Outcome("A", True, 0, 1.0), True, True, 0, None, Verdict.FINISHED),  # it ended before the cancel
    (Outcome("A", False, None, 0.0, lost=True), True, False, 0, None, Verdict.LOST),
    (Outcome("A", False, None, 0.0, lost=True), True, False, 0, RunRecord("FAILED", 1, 2.0), Verdict.FINISHED),
    (Outcome("A", False, 3, 1.0), True, False, 0, None, Verdict.FINISHED),
])
def test_verdicts(outcome: Outcome, current: bool, cancelled_: bool, bounces: int, record: RunRecord | None,
                  verdict: Verdict) -> None:
    assert judge(outcome, current=current, cancelled=cancelled_, bounces=bounces, record=record) is verdict


@pytest.mark.parametrize(("state", "attempts", "recorded", "settled"), [
    (NodeState.RUNNING, 1, "SUCCESSFUL", NodeState.SUCCEEDED),  # it finished; only its state was not saved
    (NodeState.SUBMITTED, 1, "SUCCESSFUL", NodeState.SUCCEEDED),  # a batch job that ended unseen
    (NodeState.RUNNING, 2, "FAILED", NodeState.FAILED),  # its last allowed attempt failed
    (NodeState.RUNNING, 1, "FAILED", NodeState.RUNNING),  # it may run again
    (NodeState.RUNNING, 1, None, NodeState.RUNNING),
    (NodeState.WAITING, 2, "FAILED", NodeState.WAITING),
])
def test_a_restored_state_is_set_right_by_its_run_record(state: NodeState, attempts: int, recorded: str | None,
                                                         settled: NodeState) -> None:
    assert settled_state(state, attempts, recorded, max_attempts=2) is settled
