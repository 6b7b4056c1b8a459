"""The executor contract: what the cascade runner needs from any backend (local, Slurm, HTCondor).

Four methods: :meth:`Executor.submit` starts a task, :meth:`Executor.poll`
returns finished tasks (blocking up to a timeout, so a finished task is seen at
once), :meth:`Executor.cancel` stops tasks, :meth:`Executor.close` releases the
backend.  The scheduler never sees a backend's name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Handle:
    name: str
    backend_id: str
    """The backend's own id (a pid, a Slurm job id ...), shown by cascade-stat."""


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    exit_code: int | None
    wall_s: float
    message: str = ""


class Executor(ABC):
    """Runs tasks somewhere; see the module docstring."""

    name: ClassVar[str]

    @abstractmethod
    def submit(self, task: Task, on_start: Callable[[Handle], None] | None = None) -> Handle:
        """Start a task."""

    @abstractmethod
    def poll(self, timeout: float | None = None) -> list[Outcome]:
        """Finished tasks (waits up to ``timeout`` seconds for the first one; None: until one ends)."""

    @abstractmethod
    def cancel(self, handles: Iterable[Handle]) -> None:
        """Stop tasks (their outcomes still arrive through :meth:`poll`)."""

    def close(self) -> None:  # noqa: B027 - a backend with nothing to release need not override it
        """Release the backend."""
