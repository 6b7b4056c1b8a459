"""The embedded executor: tasks on this machine, one worker thread each, outcomes the moment they end.

An AB task (``processAB -a AB``, ``processQC -a AB``) runs inside this process, so each AB
costs a thread, not a Python start-up; only the recipe itself is a new process.
Worker threads are kept and reused (as many as tasks ever ran at once).
Any other command runs as a subprocess (argument list, its own session so it can
be cancelled as a group).  A finished task is handed to :meth:`poll` through a
queue: the runner reacts at once, with no polling interval.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from dfos.executors.base import Executor, Handle, Outcome, Task

__all__ = ["LocalExecutor"]

#: Runs one AB (processAB or processQC) in-process: (task, on_start(pid)) -> (ok, exit code, message).
ABRunner = Callable[[Task, Callable[[int], None]], tuple[bool, int | None, str]]


class LocalExecutor(Executor):
    """See the module docstring."""

    name: ClassVar[str] = "local"

    def __init__(self, run_ab: ABRunner | None = None) -> None:
        self.run_ab = run_ab
        self.outcomes: queue.Queue[Outcome] = queue.Queue()
        self.pids: dict[str, int] = {}
        self.lock = threading.Lock()
        self.tasks: queue.SimpleQueue[tuple[Task, Callable[[Handle], None] | None] | None] = queue.SimpleQueue()
        self.workers = 0
        self.idle = 0

    def submit(self, task: Task, on_start: Callable[[Handle], None] | None = None) -> Handle:
        with self.lock:  # every idle worker takes one queued task: start a new one only when none is idle
            spawn = self.idle == 0
            if spawn:
                self.workers += 1
            else:
                self.idle -= 1
        self.tasks.put((task, on_start))
        if spawn:
            threading.Thread(target=self._work, name=f"ab-worker-{self.workers}", daemon=True).start()
        return Handle(task.name, "")  # its pid arrives through on_start

    def _work(self) -> None:
        while (item := self.tasks.get()) is not None:
            self._run(*item)
            with self.lock:
                self.idle += 1

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, 0
        for _ in range(idle):  # running tasks' workers are daemons: they end with the process
            self.tasks.put(None)

    def _started(self, task: Task, pid: int, on_start: Callable[[Handle], None] | None) -> None:
        with self.lock:
            self.pids[task.name] = pid
        if on_start:
            on_start(Handle(task.name, str(pid)))

    def _run(self, task: Task, on_start: Callable[[Handle], None] | None) -> None:
        t0 = time.monotonic()
        try:
            if task.argv[:1] in (("processAB",), ("processQC",)) and self.run_ab is not None:
                ok, code, message = self.run_ab(task, lambda pid: self._started(task, pid, on_start))
            else:
                proc = subprocess.Popen(list(task.argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
                self._started(task, proc.pid, on_start)
                code = proc.wait()
                ok, message = code == 0, "" if code == 0 else f"exit code {code}"
        except Exception as exc:  # a task must always report back, whatever broke
            ok, code, message = False, None, f"{type(exc).__name__}: {exc}"
        with self.lock:
            self.pids.pop(task.name, None)
        self.outcomes.put(Outcome(task.name, ok, code, round(time.monotonic() - t0, 3), message))

    def poll(self, timeout: float | None = None) -> list[Outcome]:
        try:
            found = [self.outcomes.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                found.append(self.outcomes.get_nowait())
            except queue.Empty:
                return found

    def cancel(self, handles: Iterable[Handle]) -> None:
        for handle in handles:
            with self.lock:
                pid = self.pids.get(handle.name)
            if pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGTERM)
