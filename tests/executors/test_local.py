"""The embedded executor: outcomes of plain commands, worker threads kept and reused, leftovers of a dead one
ended."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from dfos.executors.base import Task
from dfos.executors.local import LocalExecutor
from waiting import wait_until

DAG = "CALIB_2013-02-12"


def _wait(executor: LocalExecutor, n: int) -> dict[str, tuple[bool, int | None]]:
    found: dict[str, tuple[bool, int | None]] = {}

    def all_ended() -> bool:
        found.update({o.name: (o.ok, o.exit_code) for o in executor.poll(timeout=1)})
        return len(found) >= n

    wait_until(all_ended, timeout=60, interval=0, what=f"{n} outcomes")
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


def _marked(proc: subprocess.Popen[bytes], marker: str) -> bool:
    """The process runs with its marker in its environment (readable in /proc once exec is done)."""
    try:
        return f"DFOS_RUN={marker}".encode() in Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def test_leftover_recipes_of_this_cascade_only_are_ended(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    markers = [f"{DAG}/A.ab/2@{root}", f"CALIB_2013-02-13/A.ab/2@{root}", f"{DAG}/A.ab/2@/somewhere/else"]
    procs = [subprocess.Popen(["sleep", "60"], env={**os.environ, "DFOS_RUN": m}, start_new_session=True)
             for m in markers]
    mine, other_cascade, other_workspace = procs
    try:
        wait_until(lambda: all(_marked(p, m) for p, m in zip(procs, markers, strict=True)), timeout=30,
                   what="the three sleeps running with their markers")
        assert LocalExecutor().end_leftovers(root, DAG) == 1
        assert mine.wait(timeout=10) == -signal.SIGKILL
        assert other_cascade.poll() is None and other_workspace.poll() is None
        assert LocalExecutor().end_leftovers(root, DAG) == 0  # nothing of it runs any more
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
