"""The embedded executor: outcomes of plain commands, worker threads kept and reused."""

from __future__ import annotations

from dfos.executors.base import Task
from dfos.executors.local import LocalExecutor


def _wait(executor: LocalExecutor, n: int) -> dict[str, tuple[bool, int | None]]:
    found: dict[str, tuple[bool, int | None]] = {}
    while len(found) < n:
        found.update({o.name: (o.ok, o.exit_code) for o in executor.poll(timeout=10)})
    return found


def test_outcomes_and_reused_workers() -> None:
    executor = LocalExecutor()
    for i in range(5):  # one after the other: one worker does them all
        executor.submit(Task(f"t{i}", ("true",)))
        assert _wait(executor, 1) == {f"t{i}": (True, 0)}
    assert executor.workers == 1
    for i in range(3):  # at once: three workers
        executor.submit(Task(f"s{i}", ("sleep", "0.3")))
    executor.submit(Task("bad", ("false",)))
    outcomes = _wait(executor, 4)
    assert outcomes["bad"] == (False, 1) and all(outcomes[f"s{i}"] == (True, 0) for i in range(3))
    assert executor.workers == 4
    executor.close()
    assert executor.idle == 0


def test_a_command_that_cannot_start_still_reports() -> None:
    executor = LocalExecutor()
    executor.submit(Task("missing", ("/no/such/program",)))
    (outcome,) = executor.poll(timeout=10)
    assert not outcome.ok and "FileNotFoundError" in outcome.message
    executor.close()
