"""The embedded executor: tasks on this machine, one worker thread each, outcomes the moment they end.

An AB task (``processAB -a AB``, ``processQC -a AB``) runs inside this process, so each AB
costs a thread, not a Python start-up; only the recipe itself is a new process.
Worker threads are kept and reused (as many as tasks ever ran at once).
Any other command runs as a subprocess (argument list, its own session so it can
be cancelled as a group).  A finished task is handed to :meth:`poll` through a
queue: the runner reacts at once, with no polling interval.

Recipes of a dead executor (``kill -9``) keep running; they carry a run marker in their environment, so
a resumed cascade finds them in ``/proc`` and ends them before running their ABs again
(:meth:`LocalExecutor.end_leftovers`).
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
from pathlib import Path
from typing import ClassVar

from dfos.executors.base import Executor, Handle, Outcome, Task

__all__ = ["LocalExecutor", "kill_leftover_recipes"]

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

    def end_leftovers(self, root: Path, dag_id: str) -> int:
        return kill_leftover_recipes(root, dag_id)


def kill_leftover_recipes(root: Path, dag_id: str) -> int:
    """Recipes started by an executor that died keep running: end them before running their ABs again.

    A recipe carries ``DFOS_RUN=<dag>/<AB>/<attempt>@<workspace root>`` in its environment. The
    caller holds the cascade's lock, so every recipe of this workspace's cascade still alive belongs
    to a dead executor (even one whose RUNNING state was not yet saved) and is ended; another
    workspace's or cascade's recipes, and a hand-started processAB, are not touched.  Returns how many
    were found; once it returns, those killed are gone (or a zombie, which writes nothing).
    """
    found = _marked_processes(f"DFOS_RUN={dag_id}/".encode(), f"@{root}".encode())
    killed: list[int] = []
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL) if os.getsid(pid) == pid else os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    deadline = time.monotonic() + 10.0  # SIGKILL is asynchronous: a dying recipe may still write files
    while killed and time.monotonic() < deadline:
        killed = [pid for pid in killed if _alive(pid)]
        time.sleep(0.01)
    return len(found)


def _marked_processes(prefix: bytes, suffix: bytes) -> list[int]:
    """The processes whose environment holds a variable starting with ``prefix`` and ending with ``suffix``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(item.startswith(prefix) and item.endswith(suffix) for item in environ):
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a zombie writes nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
