"""Running a recipe: esorex started in its own session and working directory, waited for under a deadline.

processAB (:mod:`dfos.steps.process_ab`) decides what to run and what the end means
(:mod:`dfos.steps.run_outcome`); this module only starts the process (:func:`start`), lets one
watchdog thread kill its session when the deadline passes (:data:`WATCHDOG`, one thread for every
recipe of a cascade rather than a timer per AB), and reaps it with its peak memory (:func:`wait`).
The environment is the caller's: nothing here reads ``os.environ``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OUTPUT", "WATCHDOG", "RecipeExit", "Watchdog", "start", "wait", "which"]

#: The file in the working directory that takes what the program prints (stdout and stderr).
OUTPUT = "esorex.out"


@dataclass(frozen=True)
class RecipeExit:
    """How a recipe process ended."""

    code: int
    """Its exit code; negative: killed by that signal (``-9`` for SIGKILL)."""
    max_rss_kb: int
    """Its peak resident memory."""
    timed_out: bool = False
    """The watchdog killed it at its deadline (False when it ended on its own just then)."""


class Watchdog:
    """One thread for every recipe's deadline (instead of a timer thread per AB)."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.deadlines: dict[int, tuple[float, Callable[[], None]]] = {}
        self.next_ticket = 0
        self.thread: threading.Thread | None = None

    def arm(self, seconds: float, action: Callable[[], None]) -> int:
        """Call ``action`` in ``seconds`` unless :meth:`disarm` comes first; the ticket to disarm it."""
        with self.lock:
            self.next_ticket += 1
            self.deadlines[self.next_ticket] = (time.monotonic() + seconds, action)
            if self.thread is None:
                self.thread = threading.Thread(target=self._watch, name="recipe-deadlines", daemon=True)
                self.thread.start()
            self.lock.notify()
            return self.next_ticket

    def disarm(self, ticket: int) -> None:
        """After this, the ticket's action is not called (unless it is running already)."""
        with self.lock:
            self.deadlines.pop(ticket, None)

    def _due(self) -> list[Callable[[], None]]:
        """The actions whose deadline passed (removed); waits for the next deadline when there are none."""
        with self.lock:
            now = time.monotonic()
            due = [t for t, (when, _) in self.deadlines.items() if when <= now]
            actions = [self.deadlines.pop(t)[1] for t in due]
            if not actions:
                wait = min((when for when, _ in self.deadlines.values()), default=now + 3600) - now
                self.lock.wait(timeout=max(wait, 0.01))
            return actions

    def _watch(self) -> None:
        while True:
            for action in self._due():
                action()


#: The watchdog of this process's recipes.
WATCHDOG = Watchdog()


@functools.lru_cache(maxsize=16)
def _which_cached(program: str, search_path: str | None) -> str | None:
    return shutil.which(program, path=search_path)


def which(program: str, search_path: str | None) -> str | None:
    """``shutil.which`` along ``search_path`` (a PATH value), remembered for the same program and PATH (an
    executor asks once per AB), looked up again when the program found is gone."""
    found = _which_cached(program, search_path)
    if found is None or not os.access(found, os.X_OK):
        _which_cached.cache_clear()  # installed or removed meanwhile: look again
        found = _which_cached(program, search_path)
    return found


def start(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> int:
    """Start a program in its own session and directory; what it prints goes to :data:`OUTPUT` there.
    OSError when it cannot be started.

    ``subprocess`` starts it with ``vfork`` (this large process is not copied) and changes the
    directory in the child.  :func:`wait` waits for and reaps the process itself (``waitid`` and
    ``wait4`` for its peak memory), so the Popen object is told it is done: it must never reap it.
    """
    with open(cwd / OUTPUT, "wb") as out:
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    proc.returncode = 0  # reaped by wait(), never by subprocess's own clean-up of dropped Popen objects
    return proc.pid


def wait(pid: int, timeout: float, watchdog: Watchdog = WATCHDOG) -> RecipeExit:
    """Wait for a process :func:`start` started; its session is killed (SIGKILL) after ``timeout`` seconds."""
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)

    ticket = watchdog.arm(timeout, kill)
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # ended, but not reaped: its pid cannot be reused yet
    finally:
        watchdog.disarm(ticket)  # after this no kill can come
    _, wait_status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(wait_status)
    # killed at the deadline, unless it ended on its own just as the deadline came
    return RecipeExit(code, int(usage.ru_maxrss), timed_out.is_set() and code == -signal.SIGKILL)
