"""The pure scheduler: slots, categories, failures, retries, restarts."""

from __future__ import annotations

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
