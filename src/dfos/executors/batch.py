"""What the batch executors (Slurm, HTCondor) share: what a job asks for and runs, running their commands,
and the pace of their looks.

A batch system is asked about its jobs at most every ``BATCH_POLL`` seconds (its schedulers work
on 1-second cycles; asking more often only loads them), while the runner may call ``poll`` with a
shorter timeout: :class:`Pacer` sleeps what is allowed and says whether a look is due.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping

from dfos.config.load import JobResources
from dfos.executors.base import Task

__all__ = ["Pacer", "Runner", "dfos_arguments", "request", "run_command"]

#: Runs one command (an argument list), capturing its text output; replaced in unit tests.
Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


def request(resources: Mapping[str, JobResources], task: Task) -> JobResources:
    """What the task's job asks for: its recipe's BATCH_RESOURCES, else ``*``'s."""
    return resources.get(task.category, resources.get("*", JobResources()))


def dfos_arguments(task: Task, cpus: int) -> list[str]:
    """The dfos arguments (after ``--root ROOT``) of a task's job: ``process-ab -a AB --dag-id C --attempt N
    --threads CPUS``, or ``process-qc -a AB`` in a QC cascade."""
    if task.argv[:1] == ("processQC",):
        return ["process-qc", "-a", task.name]
    return ["process-ab", "-a", task.name, "--dag-id", task.dag_id, "--attempt", str(task.attempt),
            "--threads", str(cpus)]


def run_command(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


class Pacer:
    """At most one look every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last = 0.0

    def due(self, timeout: float | None) -> bool:
        """Sleep until the next look is due and say True; or, when ``timeout`` ends first, sleep that long
        and say False."""
        wait = self.last + self.interval - time.monotonic()
        if wait > 0:
            if timeout is not None and timeout < wait:
                time.sleep(timeout)
                return False
            time.sleep(wait)
        self.last = time.monotonic()
        return True
