"""The operator-facing exception tree of dfos, and every exit status the command line returns.

Every error an operator can cause or fix (bad input, a missing workspace, a
malformed file) is a :class:`DfosError`.  The command line catches exactly
this root, prints ``Error: <message>`` on one line and exits with the error's
``exit_code`` (an :class:`ExitCode`); anything else escapes as a traceback because it is a bug.

::

    DfosError                    (abstract: never raised itself)
    ├── UsageError               exit 2   bad value on the command line
    │   ├── InvalidDate                   not a DFO date (YYYY-MM-DD)
    │   ├── UnknownInstrument             no instrument plugin of that name
    │   └── NotFound                      a named AB, cascade, date entry does not exist
    ├── WorkspaceError           exit 3   no workspace, a broken tree, a file system refusal
    │   └── StateError                    the date/AB is not in the state this step needs,
    │                                     or its evidence (AB list, AB files, database) disagrees
    ├── ConfigError              exit 4   dfos.toml or DFOS_* value unusable
    │   ├── PipelineMissing               the instrument's ESO pipeline package is not installed
    │   └── SharingRefused                the database or a directory is another workspace's
    │                                     (dfos.steps.sharing: no hidden sharing)
    ├── FormatError              exit 5   a dfos file (status, header, AB, job file) unreadable
    │   ├── UnsafeName                    a name from data is not a safe file name
    │   └── RuleSyntaxError      exit 2   an OCA rule file the user hands in does not parse
    │                                     (dfos.oca.parser; file:line:col, like a bad argument)
    ├── ExternalToolError        exit 6   esorex, a database server or a system tool missing/failed
    │   └── TransferError                 an archive transfer failed after its retries (dfos.archive.client)
    │       └── MissingFile               the archive has no such file
    ├── CascadeBusy              exit 12  outcome: another executor runs the cascade (dfos.cascade.run)
    └── AutoDailyBusy            exit 13  outcome: another auto-daily holds the lock (dfos.steps.auto_daily)

Outcomes (not errors; the command did its work and reports how it ended) use 10-15:
10 an AB failed or its IMPLICIT processQC did (process-ab), 11 a cascade ended with failed/blocked
ABs, 12 the cascade is already running, 13 auto-daily is already running, 14 a phoenix date waits for
a person's certification, 15 two workspaces differ beyond tolerance (compare).  :class:`ExitCode` names
every status; README.md and ``docs/security.md`` list them all.  A kind defined elsewhere (the
modules named above) is listed here too (``tests/test_errors.py`` checks it).
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

__all__ = [
    "MAX_MESSAGE",
    "ConfigError",
    "DfosError",
    "ExitCode",
    "ExternalToolError",
    "FormatError",
    "InvalidDate",
    "NotFound",
    "PipelineMissing",
    "SharingRefused",
    "StateError",
    "UnknownInstrument",
    "UnsafeName",
    "UsageError",
    "WorkspaceError",
]


class ExitCode(IntEnum):
    """Every exit status of ``dfos``: 2-6 for errors (by kind), 10-15 for outcomes that are not errors."""

    OK = 0
    FAILURE = 1
    """A failure of no documented kind (click's own; :class:`DfosError` itself is never raised)."""
    USAGE = 2
    """:class:`UsageError`, click's usage errors, an OCA rule file that does not parse."""
    WORKSPACE = 3
    """:class:`WorkspaceError`, a file system refusal (``OSError``)."""
    CONFIG = 4
    """:class:`ConfigError`."""
    FORMAT = 5
    """:class:`FormatError`."""
    EXTERNAL_TOOL = 6
    """:class:`ExternalToolError`."""
    AB_FAILED = 10
    """Outcome of ``process-ab``: the AB FAILED, or its IMPLICIT processQC did."""
    CASCADE_FAILED = 11
    """Outcome of ``exec-cascade``: some AB failed or was blocked (or its batch jobs still run)."""
    CASCADE_BUSY = 12
    """Outcome of ``exec-cascade``, ``create-job``: another executor runs the cascade."""
    AUTO_DAILY_BUSY = 13
    """Outcome of ``auto-daily``: another run holds the lock."""
    WAITS_FOR_PERSON = 14
    """Outcome of ``phoenix``: a date's ABs wait for a person's certification (red scores)."""
    DIFFER = 15
    """Outcome of ``compare``: the two workspaces differ beyond tolerance."""
    INTERRUPTED = 130
    """Ctrl-C (or click's Abort)."""

    @property
    def outcome(self) -> bool:
        """An outcome (10-15): the command did its work and says how it ended; not an error."""
        return 10 <= self <= 15


#: An error message is one line of at most this many characters (data quoted in it is cut).
MAX_MESSAGE = 1000


class DfosError(Exception):
    """Root of every error an operator can act on.

    The message should say what failed, where (file, line, date, AB) and what
    to do about it, in one line.
    """

    exit_code: ClassVar[int] = ExitCode.FAILURE

    def __init__(self, message: str) -> None:
        message = " ".join(str(message).split())  # one line, whatever the data put in it
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "\u2026"
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(DfosError):
    """A value given on the command line is not acceptable."""

    exit_code: ClassVar[int] = ExitCode.USAGE


class InvalidDate(UsageError):
    """A string is not a valid DFO date."""


class UnknownInstrument(UsageError):
    """No instrument plugin is registered under the requested name."""


class NotFound(UsageError):
    """A name given on the command line (AB, cascade, file) does not exist."""


class WorkspaceError(DfosError):
    """The workspace cannot be found, or its directory tree is unusable."""

    exit_code: ClassVar[int] = ExitCode.WORKSPACE


class StateError(WorkspaceError):
    """A step refuses: the date or AB is not in the state it needs, or the evidence for that state
    (AB list, AB files, DFO_STATUS, the database) is missing or disagrees.  The message names the file."""


class ConfigError(DfosError):
    """A configuration layer (dfos.toml, DFOS_* environment) is invalid."""

    exit_code: ClassVar[int] = ExitCode.CONFIG


class PipelineMissing(ConfigError):
    """The workspace's instrument needs an ESO pipeline package (its rules, its recipes) that is not
    installed; the message names the Debian package."""


class SharingRefused(ConfigError):
    """The workspace shares its database or a directory (DFO_STATUS, job files) with another workspace: a
    command that changes state refuses (:mod:`dfos.steps.sharing`); the message names the other root and the
    setting to change."""


class FormatError(DfosError):
    """A dfos file (status log, header file, ...) cannot be parsed."""

    exit_code: ClassVar[int] = ExitCode.FORMAT


class UnsafeName(FormatError):
    """A name taken from data (header, AB, rule or job file) cannot safely be a file name."""


class ExternalToolError(DfosError):
    """An external program dfos relies on is missing or failed."""

    exit_code: ClassVar[int] = ExitCode.EXTERNAL_TOOL
