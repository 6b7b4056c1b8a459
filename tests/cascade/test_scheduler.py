"""The pure scheduler: slots, categories, failures, retries, restarts."""

from __future__ import annotations

import pytest

from dfos.cascade.scheduler import Node, NodeState, Scheduler


def chain() -> dict[str, Node]:
    nodes = [Node("bias"), Node("dark", ("bias",)), Node("orderpos"), Node("flat", ("bias", "dark", "orderpos")),
             Node("arc", ("orderpos",), incomplete=True), Node("sci", ("arc", "flat"))]
    return {n.name: n for n in nodes}


def test_parents_first_and_slots_respected() -> None:
    s = Scheduler(chain(), slots=2)
    assert s.startable() == ["bias", "orderpos"]
    assert s.startable() == []  # both slots busy
    s.finished("bias", True)
    assert s.startable() == ["dark"]
    s.finished("orderpos", True)
    assert s.startable() == []  # flat still waits for dark
    s.finished("dark", True)
    assert s.startable() == ["flat"]
    s.finished("flat", True)
    assert s.done
    assert s.state("arc") is NodeState.INCOMPLETE and s.state("sci") is NodeState.BLOCKED


def test_a_failure_blocks_descendants_only() -> None:
    s = Scheduler(chain(), slots=4)
    assert s.startable() == ["bias", "orderpos"]
    changed = dict(s.finished("bias", False))
    assert changed == {"bias": NodeState.FAILED, "dark": NodeState.BLOCKED, "flat": NodeState.BLOCKED}
    s.finished("orderpos", True)  # the independent branch goes on
    assert s.state("orderpos") is NodeState.SUCCEEDED and s.done


def test_retries_up_to_the_limit() -> None:
    s = Scheduler({"a": Node("a")}, slots=1, max_attempts=2)
    assert s.startable() == ["a"]
    assert s.finished("a", False) == [("a", NodeState.WAITING)]
    assert s.startable() == ["a"] and s.attempts("a") == 2
    assert s.finished("a", False) == [("a", NodeState.FAILED)]


def test_category_limits() -> None:
    nodes = {f"d{i}": Node(f"d{i}", category="download") for i in range(5)} | {"r": Node("r")}
    s = Scheduler(nodes, slots=4, limits={"download": 2})
    assert s.startable() == ["d0", "d1", "r"]
    s.finished("d0", True)
    assert s.startable() == ["d2"]


def test_restore_runs_an_interrupted_ab_again_and_keeps_the_rest() -> None:
    s = Scheduler(chain(), slots=2)
    s.restore({"bias": (NodeState.SUCCEEDED, 1), "orderpos": (NodeState.RUNNING, 1), "dark": (NodeState.FAILED, 1)})
    assert s.state("flat") is NodeState.BLOCKED
    assert s.startable() == ["orderpos"]
    assert s.attempts("orderpos") == 2


def test_a_graceful_stop_starts_nothing_new() -> None:
    s = Scheduler(chain(), slots=1)
    assert s.startable() == ["bias"]
    s.stopping = True
    s.finished("bias", True)
    assert s.startable() == [] and s.done


def test_per_recipe_limits() -> None:
    nodes = {f"f{i}": Node(f"f{i}", category="uves_cal_mflat") for i in range(3)} | {"b": Node("b", category="mbias")}
    s = Scheduler(nodes, slots=4, limits={"uves_cal_mflat": 1})
    assert s.startable() == ["f0", "b"]
    s.finished("f0", True)
    assert s.startable() == ["f1"]


# -- batch mode: the whole cascade handed to a batch system that holds each AB behind its parents ----------

def test_batch_mode_hands_out_everything_runnable_parents_first() -> None:
    reordered = {name: chain()[name] for name in ("sci", "flat", "dark", "bias", "orderpos", "arc")}
    s = Scheduler(reordered, slots=1, batch=True)
    handed = s.submittable()
    assert set(handed) == {"bias", "dark", "orderpos", "flat"}  # no slot limit; arc is incomplete, sci blocked
    assert handed.index("bias") < handed.index("dark") < handed.index("flat")
    assert handed.index("orderpos") < handed.index("flat")
    assert all(s.state(n) is NodeState.SUBMITTED and s.attempts(n) == 1 for n in handed)
    assert s.submittable() == []  # nothing new until something changes
    assert s.started("bias") and not s.started("bias")
    assert s.state("bias") is NodeState.RUNNING
    for name in ("bias", "orderpos", "dark", "flat"):
        s.finished(name, True)
    assert s.done and s.state("sci") is NodeState.BLOCKED


def test_batch_mode_a_final_failure_blocks_submitted_descendants_uncounted() -> None:
    s = Scheduler(chain(), slots=1, batch=True)
    s.submittable()
    changed = dict(s.finished("bias", False))
    assert changed == {"bias": NodeState.FAILED, "dark": NodeState.BLOCKED, "flat": NodeState.BLOCKED}
    assert s.attempts("dark") == s.attempts("flat") == 0  # they never started
    assert s.running() == ["orderpos"]
    s.finished("orderpos", True)
    assert s.submittable() == [] and s.done


def test_batch_mode_a_retry_withdraws_what_was_queued_behind_it() -> None:
    s = Scheduler(chain(), slots=1, max_attempts=2, batch=True)
    s.submittable()
    changed = dict(s.finished("bias", False))
    assert changed == {"bias": NodeState.WAITING, "dark": NodeState.WAITING, "flat": NodeState.WAITING}
    assert s.attempts("dark") == 0 and s.attempts("bias") == 1
    again = s.submittable()
    assert again == ["bias", "dark", "flat"]  # submitted again, behind the new bias job
    assert s.attempts("bias") == 2 and s.attempts("dark") == 1


def test_batch_mode_a_job_cancelled_in_the_queue_waits_again_without_an_attempt() -> None:
    s = Scheduler({"a": Node("a"), "b": Node("b", ("a",))}, slots=1, batch=True)
    s.submittable()
    changed = dict(s.requeue("a", ran=False))
    assert changed == {"a": NodeState.WAITING, "b": NodeState.WAITING}
    assert s.attempts("a") == s.attempts("b") == 0
    s.stopping = True
    assert s.submittable() == [] and s.done


def test_batch_mode_restore_keeps_adopted_jobs_and_runs_cut_ones_again() -> None:
    s = Scheduler({"a": Node("a"), "b": Node("b", ("a",)), "c": Node("c")}, slots=1, batch=True)
    s.restore({"a": (NodeState.RUNNING, 1), "b": (NodeState.SUBMITTED, 1), "c": (NodeState.SUBMITTED, 1)},
              adopted={"a", "b"})
    assert s.state("a") is NodeState.RUNNING and s.state("b") is NodeState.SUBMITTED
    assert s.state("c") is NodeState.WAITING
    assert s.submittable() == ["c"] and s.attempts("c") == 2
    assert s.running() == ["a", "b", "c"]


def test_a_cycle_in_a_hand_written_file_never_runs_but_does_not_hang() -> None:
    nodes = {"x": Node("x", ("y",)), "y": Node("y", ("x",)), "z": Node("z")}
    s = Scheduler(nodes, slots=1, batch=True)
    assert s.submittable() == ["z"]


# -- parents in other cascades (externals): watched, never run here ------------------------------------------

def science(batch: bool = False) -> Scheduler:
    """sci1 <- cal (of another cascade), sci2 <- sci1, free (waits for nothing)."""
    nodes = {"sci1": Node("sci1", ("cal",)), "sci2": Node("sci2", ("sci1",)), "free": Node("free")}
    return Scheduler(nodes, slots=4, batch=batch, externals=("cal",))


def test_an_ab_waits_for_its_parent_in_another_cascade_until_it_succeeded() -> None:
    s = science()
    assert s.startable() == ["free"]
    s.finished("free", True)
    assert s.startable() == [] and not s.done  # nothing runs, but sci1 waits for cal
    assert s.awaited() == ["cal"] and s.unresolved_parents("sci1") == ["cal"]
    assert s.counts() == {"waiting": 2, "submitted": 0, "running": 0, "succeeded": 1, "failed": 0, "blocked": 0,
                          "incomplete": 0}  # the parent in the other cascade is not an AB of this one
    assert s.resolve_external("cal", True) == []
    assert s.awaited() == [] and s.unresolved_parents("sci1") == []
    assert s.startable() == ["sci1"]
    s.finished("sci1", True)
    assert s.startable() == ["sci2"]
    s.finished("sci2", True)
    assert s.done and s.counts()["succeeded"] == 3


def test_a_parent_in_another_cascade_that_failed_blocks_the_descendants() -> None:
    s = science()
    assert s.startable() == ["free"]
    assert dict(s.resolve_external("cal", False)) == {"sci1": NodeState.BLOCKED, "sci2": NodeState.BLOCKED}
    assert s.resolve_external("cal", True) == []  # the first resolution holds
    assert s.state("sci1") is NodeState.BLOCKED and s.awaited() == []
    s.finished("free", True)
    assert s.done and s.counts()["blocked"] == 2


def test_a_stop_ends_the_waiting() -> None:
    s = science()
    s.startable()
    s.finished("free", True)
    assert not s.done
    s.stopping = True
    assert s.done and s.state("sci1") is NodeState.WAITING


def test_an_ab_that_waits_for_nothing_outside_any_more_does_not_keep_the_cascade_open() -> None:
    nodes = {"x": Node("x"), "sci": Node("sci", ("x", "cal"))}
    s = Scheduler(nodes, slots=1, externals=("cal",))
    assert s.startable() == ["x"]
    s.finished("x", False)  # sci is blocked by x: cal no longer matters
    assert s.awaited() == [] and s.done


def test_batch_mode_submits_the_children_of_an_outside_parent_only_once_it_succeeded() -> None:
    s = science(batch=True)
    assert s.submittable() == ["free"]
    s.finished("free", True)
    assert s.submittable() == [] and not s.done
    s.resolve_external("cal", True)
    assert s.submittable() == ["sci1", "sci2"]  # sci2 queued behind sci1 at once, as usual
    assert s.state("sci2") is NodeState.SUBMITTED


def test_batch_mode_an_outside_failure_blocks_adopted_submitted_children() -> None:
    s = science(batch=True)
    s.restore({"sci1": (NodeState.SUBMITTED, 1), "sci2": (NodeState.SUBMITTED, 1)}, adopted={"sci1", "sci2"})
    assert s.running() == ["sci1", "sci2"] and s.awaited() == []  # nothing waits: nothing to look at
    changed = dict(s.resolve_external("cal", False))
    assert changed == {"sci1": NodeState.BLOCKED, "sci2": NodeState.BLOCKED}
    assert s.attempts("sci1") == 0 and s.running() == []


def test_restore_after_a_kill_waits_again_for_the_outside_parent() -> None:
    s = science()
    s.restore({"sci1": (NodeState.RUNNING, 1), "free": (NodeState.SUCCEEDED, 1)})
    assert s.state("sci1") is NodeState.WAITING and s.startable() == [] and not s.done
    s.resolve_external("cal", True)
    assert s.startable() == ["sci1"] and s.attempts("sci1") == 2


def test_a_name_both_inside_and_outside_or_an_unknown_parent_is_refused() -> None:
    with pytest.raises(ValueError, match="both in the cascade and outside it: a"):
        Scheduler({"a": Node("a")}, slots=1, externals=("a",))
    with pytest.raises(ValueError, match="parents not in the cascade: cal"):
        Scheduler({"sci": Node("sci", ("cal",))}, slots=1)
