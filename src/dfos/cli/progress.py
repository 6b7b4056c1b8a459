"""Progress bars for long commands, shown only when stderr is a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from dfos.cascade.events import CascadeProgress

__all__ = ["cascade_bars", "progress_bar"]


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``(done, total)`` callback that drives a bar on stderr (a no-op when not a TTY)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def cascade_bars() -> Iterator[Callable[[str, CascadeProgress], None]]:
    """Yield a ``(cascade id, progress)`` callback that drives one bar per cascade on stderr: its ABs finished of
    all, the count of each state, what it waits for in other cascades, the time it has run (a no-op when stderr
    is not a terminal)."""
    console = Console(stderr=True)
    with Progress(TextColumn("{task.fields[dag]}"), BarColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        tasks: dict[str, TaskID] = {}

        def show(dag: str, progress: CascadeProgress) -> None:
            if dag not in tasks:
                tasks[dag] = bar.add_task("", total=None, dag=dag)
            counts = progress.counts
            total = sum(counts.values())
            finished = total - counts.get("waiting", 0) - counts.get("submitted", 0) - counts.get("running", 0)
            words = [f"{k} {v}" for k, v in counts.items() if v]
            if progress.awaiting:  # ABs wait for ABs of other cascades: "waiting for 2 calibration ABs of ..."
                words.append(f"({progress.awaiting})")
            bar.update(tasks[dag], total=total, completed=finished, description=" ".join(words))

        yield show
