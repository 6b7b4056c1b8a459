"""ToDo lists that cannot hurt: job-file text rewritten as blocks run, are recreated or their date is closed.

A block of ``JOBS_NIGHT`` / ``JOBS_AUTO`` (:func:`dfos.jobs.model.render_block`) that ran is kept for the record,
commented out under a marker line, so that launching the file again never runs it twice::

    # pipeline jobs for CALIB, 2013-02-12 (written by dfos create-job for CALIB 2013-02-12 at ...)
    # executed 2013-02-13T14:00:00 by qc, exit 0
    # "$DFOS" check-job -m CALIB -d 2013-02-12
    # echo "starting raw data download ..."
    # ...

Pure: text in, text out (:mod:`dfos.steps.todo` reads and writes the files, under their lock).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HEADER_PREFIXES", "Span", "drop_blocks", "executed_marker", "mark_executed", "pending_commands",
           "pending_lines", "spans"]

_HEAD = re.compile(r"^# pipeline jobs for (?P<mode>CALIB|SCIENCE), (?P<date>\S+) \(")
_EXECUTED = "# executed "
#: Lines of a job file's header (:func:`dfos.jobs.relocate.header_lines`): not commands of a ToDo list.
HEADER_PREFIXES = ("set ", "eval ", "DFOS=", "DFOS_ROOT=", "export DFOS_ROOT")


@dataclass(frozen=True)
class Span:
    """A block of a job file: its mode, date, and its lines ``start`` (the head) to ``end`` (exclusive)."""

    mode: str
    date: str
    start: int
    end: int
    executed: bool


def spans(lines: list[str]) -> list[Span]:
    """The pipeline blocks among ``lines`` (a block ends at a blank line or the next block's head)."""
    found = []
    for number, line in enumerate(lines):
        head = _HEAD.match(line)
        if not head:
            continue
        end = number + 1
        while end < len(lines) and lines[end].strip() and not _HEAD.match(lines[end]):
            end += 1
        executed = end > number + 1 and lines[number + 1].startswith(_EXECUTED)
        found.append(Span(head["mode"], head["date"], number, end, executed))
    return found


def executed_marker(when: str, who: str, exit_code: int) -> str:
    """The marker line of a block that ran."""
    who = re.sub(r"[^A-Za-z0-9._@+-]", "_", who)[:64] or "-"
    return f"{_EXECUTED}{when} by {who}, exit {exit_code}"


def mark_executed(text: str, mode: str, day: str, marker: str) -> tuple[str, int]:
    """Comment out the blocks of ``mode`` and ``day`` not yet marked, each under ``marker``; the new text and how
    many blocks were marked."""
    lines = text.splitlines()
    chosen = [s for s in spans(lines) if s.mode == mode and s.date == day and not s.executed]
    for span in reversed(chosen):
        body = [line if line.startswith("#") and not line.startswith("#!") else f"# {line}"
                for line in lines[span.start + 1 : span.end]]
        lines[span.start + 1 : span.end] = [marker, *body]
    return _joined(lines, text), len(chosen)


def drop_blocks(text: str, chosen: Callable[[Span], bool]) -> tuple[str, list[Span]]:
    """Remove the blocks ``chosen`` picks (with the blank line before each); the new text and the blocks removed."""
    lines = text.splitlines()
    gone = [s for s in spans(lines) if chosen(s)]
    for span in reversed(gone):
        start = span.start - 1 if span.start > 0 and not lines[span.start - 1].strip() else span.start
        del lines[start : span.end]
    return _joined(lines, text), gone


def pending_lines(text: str) -> list[str]:
    """Command lines of a ToDo list still to run: not comments (so not blocks that ran), not its header."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#") and not line.startswith(HEADER_PREFIXES)]


def pending_commands(text: str) -> int:
    """How many :func:`pending_lines` a ToDo list has."""
    return len(pending_lines(text))


def _joined(lines: list[str], original: str) -> str:
    return "\n".join(lines) + ("\n" if original.endswith("\n") or lines else "")
