"""What the batch executors (Slurm, HTCondor) share: running their commands, and the pace of their looks.

A batch system is asked about its jobs at most every ``BATCH_POLL`` seconds (its schedulers work
on 1-second cycles; asking more often only loads them), while the runner may call ``poll`` with a
shorter timeout: :class:`Pacer` sleeps what is allowed and says whether a look is due.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

__all__ = ["Pacer", "Runner", "run_command"]

#: Runs one command (an argument list), capturing its text output; replaced in unit tests.
Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


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
