"""JOBS_PHOENIX read back: the campaign's ToDo list and record (written by :mod:`dfos.steps.phoenix`).

A job line is ``"$DFOS" phoenix -d DATE`` or ``"$DFOS" phoenix -r RUN -C|-P [-a AB]|-M``, and once its step
ran, ``  # <when> <outcome>`` after it (docs/phoenix.md).  Other lines (the DFOS environment at the top,
comments, anything a person added) are not jobs and are skipped.  Pure: text in, values out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dfos.dates import parse_timestamp
from dfos.errors import DfosError
from dfos.keys import KeyKind, ProcessingKey

__all__ = ["JobLine", "LineState", "parse_jobs"]

_JOB = re.compile(r'^"\$DFOS" phoenix (?P<flag>-[dr]) (?P<key>\S+)(?P<step>(?: -[CPMa](?: \S+)?)*)$')


class LineState(StrEnum):
    """What a job line's comment says of its step."""

    QUEUED = "queued"
    """No comment yet: still to do."""
    DONE = "done"
    """``finished``, ``done (kept: -n)``, or a DEEP step that ended (``... moved and ingested``, ``3 deep AB(s)``)."""
    WAITING = "waiting"
    """``waits for certification: ...``: a person must decide."""
    FAILED = "failed"
    """An outcome that names a failure or error."""


@dataclass(frozen=True)
class JobLine:
    """One job of JOBS_PHOENIX."""

    key: ProcessingKey
    step: str
    """``-d`` for a date; ``-C``, ``-P``, ``-P -a <AB>`` or ``-M`` for a run."""
    command: str
    """The line without its comment."""
    when: datetime | None
    """When the step ended (None: queued, or a comment without a time)."""
    outcome: str

    @property
    def state(self) -> LineState:
        said = self.outcome.lower()
        if not self.outcome and self.when is None:
            return LineState.QUEUED
        if said.startswith("waits"):
            return LineState.WAITING
        if "fail" in said or "error" in said:
            return LineState.FAILED
        return LineState.DONE

    @property
    def finishes(self) -> bool:
        """Whether this line, ended as it is, finishes its key: a date's ``-d`` finished (or done with ``-n``),
        a run's ``-M`` that moved its products."""
        if self.state is not LineState.DONE:
            return False
        if self.key.kind is KeyKind.DATE:
            return self.outcome.startswith(("finished", "done"))
        return self.step == "-M" and "moved" in self.outcome


def _when(comment: str) -> tuple[datetime | None, str]:
    stamp, _, rest = comment.strip().partition(" ")
    try:
        return parse_timestamp(stamp), rest.strip()
    except DfosError:
        return None, comment.strip()


def parse_jobs(text: str) -> list[JobLine]:
    """The job lines of a JOBS_PHOENIX text, in file order (lines of unknown shape or key skipped)."""
    jobs: list[JobLine] = []
    for line in text.splitlines():
        head, hash_, comment = line.partition("  #")
        found = _JOB.match(head.strip())
        if not found:
            continue
        try:
            key = ProcessingKey.parse(found["key"])
        except DfosError:
            continue
        if (key.kind is KeyKind.DATE) != (found["flag"] == "-d"):
            continue
        step = "-d" if found["flag"] == "-d" else found["step"].strip()
        when, outcome = _when(comment) if hash_ else (None, "")
        jobs.append(JobLine(key, step, head.strip(), when, outcome))
    return jobs
