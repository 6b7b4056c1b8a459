"""What a processAB run's end means: SUCCESSFUL, or FAILED with one failure class (pure functions).

The failure classes (docs/processing.md):

* ``missing_input``: an input is neither on disk nor in the archive;
* ``recipe_error``: the recipe exited non-zero (the message gives the exit code and the recipe's last
  ERROR line), or made no product it should have;
* ``crash``: the recipe was killed by a signal;
* ``timeout``: the watchdog killed it after RECIPE_TIMEOUT;
* ``infrastructure``: esorex missing or not starting, a disk refusing a write.  It says nothing about
  the AB, whose PROCESS_STATUS stays as it was.

The names are :class:`~enum.StrEnum` values: written to the workspace database and printed as they
always were.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dfos.ab.model import ProcessStatus
from dfos.steps.esorex import RecipeExit

__all__ = ["WRAPPER_CODES", "Failure", "Outcome", "classify_exit", "last_error_line"]

#: Exit codes of a wrapper script (``ESOREX`` may name one) that could not start the recipe:
#: cannot execute, not found, or ``env``'s own failure.
WRAPPER_CODES = frozenset({125, 126, 127})


class Failure(StrEnum):
    MISSING_INPUT = "missing_input"
    RECIPE_ERROR = "recipe_error"
    CRASH = "crash"
    TIMEOUT = "timeout"
    INFRASTRUCTURE = "infrastructure"


@dataclass(frozen=True)
class Outcome:
    """How a run ended, as its run record says it."""

    status: ProcessStatus
    failure: Failure | None = None
    message: str = ""
    exit_code: int | None = None
    signal: int | None = None
    max_rss_kb: int | None = None

    @classmethod
    def failed(cls, failure: Failure, message: str, exit_code: int | None = None, signal: int | None = None,
               max_rss_kb: int | None = None) -> Outcome:
        return cls(ProcessStatus.FAILED, failure, message, exit_code, signal, max_rss_kb)

    @property
    def ok(self) -> bool:
        return self.status is ProcessStatus.SUCCESSFUL


def last_error_line(log: str) -> str:
    """The recipe's own last ERROR line of an esorex log ('' when there is none); esorex's closing
    "Execution of recipe ... failed" is not the cause, so it is taken only when it is the only one."""
    errors = [line.split("]", 1)[-1].strip() for line in log.splitlines() if "[ ERROR ]" in line]
    causes = [e for e in errors if not e.lstrip(": ").startswith("Execution of recipe")]
    return (causes or errors or [""])[-1]


def classify_exit(end: RecipeExit, *, recipe: str, esorex: str, timeout: float, log_kept: bool,
                  last_error: str = "", said: str = "") -> Outcome:
    """What the end of an esorex process means.

    ``log_kept``: esorex wrote a log (kept as the AB's LOG_NAME); ``last_error``: the log's last ERROR line
    (:func:`last_error_line`); ``said``: the end of what the process printed, which tells why a
    wrapper script could not start the recipe.  A SUCCESSFUL outcome still depends on its products
    being placed.
    """
    rss = end.max_rss_kb
    if end.timed_out:
        return Outcome.failed(Failure.TIMEOUT, f"killed after {timeout:g} s", max_rss_kb=rss)
    if end.code < 0:
        return Outcome.failed(Failure.CRASH, f"{recipe} died of signal {-end.code}", signal=-end.code, max_rss_kb=rss)
    if end.code in WRAPPER_CODES and not log_kept:  # a wrapper script could not start the recipe
        return Outcome.failed(Failure.INFRASTRUCTURE, f"{esorex} did not start: {said.strip()[-300:]}",
                              exit_code=end.code)
    if end.code != 0:
        return Outcome.failed(Failure.RECIPE_ERROR, f"exit code {end.code}: {last_error or 'no ERROR line in the log'}",
                              exit_code=end.code, max_rss_kb=rss)
    return Outcome(ProcessStatus.SUCCESSFUL, exit_code=0, max_rss_kb=rss)
