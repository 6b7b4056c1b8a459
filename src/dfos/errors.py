"""The operator-facing exception tree of dfos.

Every error an operator can cause or fix (bad input, a missing workspace, a
malformed file) is a :class:`DfosError`.  The command line catches exactly
this root, prints ``Error: <message>`` on one line and exits with the error's
``exit_code``; anything else escapes as a traceback because it is a bug.

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
    │   └── PipelineMissing               the instrument's ESO pipeline package is not installed
    ├── FormatError              exit 5   a dfos file (status, header, AB, job file) unreadable
    │   ├── UnsafeName                    a name from data is not a safe file name
    │   └── RuleSyntaxError      exit 2   an OCA rule file the user hands in does not parse
    │                                     (dfos.oca.parser; file:line:col, like a bad argument)
    └── ExternalToolError        exit 6   esorex, a database server or a system tool missing/failed

Outcomes (not errors; the command did its work and reports how it ended) use 10-13:
10 an AB failed or its IMPLICIT processQC did (process-ab), 11 a cascade ended with failed/blocked
ABs, 12 the cascade is already running, 13 auto-daily is already running.  ``docs/security.md`` lists them all.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "MAX_MESSAGE",
    "ConfigError",
    "DfosError",
    "ExternalToolError",
    "FormatError",
    "InvalidDate",
    "NotFound",
    "PipelineMissing",
    "StateError",
    "UnknownInstrument",
    "UnsafeName",
    "UsageError",
    "WorkspaceError",
]


#: An error message is one line of at most this many characters (data quoted in it is cut).
MAX_MESSAGE = 1000


class DfosError(Exception):
    """Root of every error an operator can act on.

    The message should say what failed, where (file, line, date, AB) and what
    to do about it, in one line.
    """

    exit_code: ClassVar[int] = 1

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

    exit_code: ClassVar[int] = 2


class InvalidDate(UsageError):
    """A string is not a valid DFO date."""


class UnknownInstrument(UsageError):
    """No instrument plugin is registered under the requested name."""


class NotFound(UsageError):
    """A name given on the command line (AB, cascade, file) does not exist."""


class WorkspaceError(DfosError):
    """The workspace cannot be found, or its directory tree is unusable."""

    exit_code: ClassVar[int] = 3


class StateError(WorkspaceError):
    """A step refuses: the date or AB is not in the state it needs, or the evidence for that state
    (AB list, AB files, DFO_STATUS, the database) is missing or disagrees.  The message names the file."""


class ConfigError(DfosError):
    """A configuration layer (dfos.toml, DFOS_* environment) is invalid."""

    exit_code: ClassVar[int] = 4


class PipelineMissing(ConfigError):
    """The workspace's instrument needs an ESO pipeline package (its rules, its recipes) that is not
    installed; the message names the Debian package."""


class FormatError(DfosError):
    """A dfos file (status log, header file, ...) cannot be parsed."""

    exit_code: ClassVar[int] = 5


class UnsafeName(FormatError):
    """A name taken from data (header, AB, rule or job file) cannot safely be a file name."""


class ExternalToolError(DfosError):
    """An external program dfos relies on is missing or failed."""

    exit_code: ClassVar[int] = 6
