"""The operator-facing exception tree of dfos.

Every error an operator can cause or fix (bad input, a missing workspace, a
malformed file) is a :class:`DfosError`.  The command line catches exactly
this root, prints ``Error: <message>`` on one line and exits with the error's
``exit_code``; anything else escapes as a traceback because it is a bug.

::

    DfosError                    exit 1   what failed, where, what to do
    ├── UsageError               exit 2   bad value on the command line
    │   ├── InvalidDate                   not a DFO date (YYYY-MM-DD)
    │   └── UnknownInstrument             no instrument plugin of that name
    ├── WorkspaceError           exit 3   no workspace, or a broken tree
    ├── ConfigError              exit 4   dfos.toml or DFOS_* value unusable
    ├── FormatError              exit 5   a dfos file (status, header) unreadable
    └── ExternalToolError        exit 6   esorex or a system tool missing/failed
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ConfigError",
    "DfosError",
    "ExternalToolError",
    "FormatError",
    "InvalidDate",
    "UnknownInstrument",
    "UsageError",
    "WorkspaceError",
]


class DfosError(Exception):
    """Root of every error an operator can act on.

    The message should say what failed, where (file, line, date, AB) and what
    to do about it, in one line.
    """

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
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


class WorkspaceError(DfosError):
    """The workspace cannot be found, or its directory tree is unusable."""

    exit_code: ClassVar[int] = 3


class ConfigError(DfosError):
    """A configuration layer (dfos.toml, DFOS_* environment) is invalid."""

    exit_code: ClassVar[int] = 4


class FormatError(DfosError):
    """A dfos file (status log, header file, ...) cannot be parsed."""

    exit_code: ClassVar[int] = 5


class ExternalToolError(DfosError):
    """An external program dfos relies on is missing or failed."""

    exit_code: ClassVar[int] = 6
