"""The executor contract: what the cascade runner needs from any backend (local, Slurm, HTCondor).

Four methods: :meth:`Executor.submit` starts a task, :meth:`Executor.poll`
returns finished tasks (blocking up to a timeout, so a finished task is seen at
once), :meth:`Executor.cancel` stops tasks, :meth:`Executor.close` releases the
backend.  The scheduler never sees a backend's name.  Before a cascade resumes,
:meth:`Executor.end_leftovers` ends what a dead predecessor left running on this
machine (the local executor's recipes; a batch system's jobs are adopted instead).

A *batch* executor (``batch = True``: Slurm, HTCondor) is handed the whole
cascade at once, parents first; each task names the parents it must wait for
(:attr:`Task.after`) and the backend holds it until they succeed.  Its jobs
outlive dfos: a restarted runner adopts them (:meth:`Executor.adopt`) by their backend
ids (kept in the workspace database).  :meth:`Executor.flush` ends a round of
submissions (DAGMan submits one DAG per round).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

__all__ = ["Executor", "Handle", "Outcome", "Task"]


@dataclass(frozen=True)
class Task:
    """One unit of work: an AB to process, or any command line."""

    name: str
    """The AB (node) name."""
    argv: tuple[str, ...]
    """The command as an argument list; ``("processAB", "-a", AB)`` is run by dfos itself."""
    category: str = "recipe"
    threads: int = 1
    dag_id: str = ""
    attempt: int = 1
    after: tuple[str, ...] = ()
    """Batch executors: the tasks (names) this one waits for, submitted before it and not yet ended."""


@dataclass(frozen=True)
class Handle:
    name: str
    backend_id: str
    """The backend's own id (a pid, a Slurm job id ...), shown by cascade-stat."""
    cluster: str = ""
    """The cluster job the task runs in (:meth:`Executor.submit_cluster`); empty: a job of its own."""


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    exit_code: int | None
    wall_s: float
    message: str = ""
    backend_id: str = ""
    """The job that ended (batch executors; a task cancelled and submitted again has a new one)."""
    never_ran: bool = False
    """Batch executors: cancelled before it started (by dfos, or by the batch system when a parent failed)."""
    lost: bool = False
    """Batch executors: the job is known to the batch system no more, and how it ended is unknown."""


class Executor(ABC):
    """Runs tasks somewhere; see the module docstring."""

    name: ClassVar[str]
    batch: ClassVar[bool] = False
    """Takes the whole cascade at once, holds each task until its parents succeed; jobs outlive dfos."""
    clusters: ClassVar[bool] = False
    """Runs several tasks in one job (:meth:`submit_cluster`): the cascade clusters short ABs."""

    @abstractmethod
    def submit(self, task: Task, on_start: Callable[[Handle], None] | None = None) -> Handle:
        """Start a task."""

    @abstractmethod
    def poll(self, timeout: float | None = None) -> list[Outcome]:
        """Finished tasks (waits up to ``timeout`` seconds for the first one; None: until one ends)."""

    @abstractmethod
    def cancel(self, handles: Iterable[Handle]) -> None:
        """Stop tasks (their outcomes still arrive through :meth:`poll`)."""

    def abort(self, handles: Iterable[Handle]) -> None:
        """A hard abort (``stop-cascade --now``), maybe by another dfos than the one that submitted the tasks: end
        them, running ones too, and return once the backend has let go of them.  By default :meth:`cancel`."""
        self.cancel(handles)

    def submit_cluster(self, tasks: Sequence[Task], on_start: Callable[[Handle], None] | None = None) -> list[Handle]:
        """Batch executors with ``clusters``: run these tasks one after another in one job, each reported on its
        own (start, outcome); a task runs only when its parents in the job (:attr:`Task.after`) succeeded.  Every
        other parent has succeeded.  By default each task is a job of its own."""
        return [self.submit(task, on_start) for task in tasks]

    def cluster_of(self, name: str) -> str:
        """The cluster job an adopted task runs in (empty: a job of its own)."""
        return ""

    def flush(self) -> list[Handle]:
        """End a round of submissions; return handles whose backend ids are known only now."""
        return []

    def adopt(self, handles: Iterable[Handle]) -> set[str]:
        """Batch executors: follow jobs submitted by an earlier run; return the names taken over."""
        return set()

    def end_leftovers(self, root: Path, dag_id: str) -> int:
        """End the recipes of cascade ``dag_id`` of the workspace at ``root`` that a dead executor left running
        here; return how many were found (0: nothing of it runs any more).  Called while the caller holds
        the cascade's lock.  Batch executors leave nothing here: their jobs are adopted or run again."""
        return 0

    def close(self) -> None:  # noqa: B027 - a backend with nothing to release need not override it
        """Release the backend."""
