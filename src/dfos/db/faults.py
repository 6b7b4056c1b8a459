"""Database faults as operator errors: the one place that turns a driver's exception into a dfos error.

Every engine of :func:`dfos.db.engine_for_url` runs :func:`database_fault` on each error the driver
raises (SQLAlchemy's ``handle_error`` hook), and the command line runs it on anything that still
escapes, so a fault of the database prints one line with a documented exit code:

==========================================================  ==========================  ====
fault                                                       error                       exit
==========================================================  ==========================  ====
``DB_URL`` of an unknown scheme, or its driver missing      :class:`ConfigError`          4
``dfos.sqlite`` is not a database (garbage, damaged)        :class:`FormatError`          5
``dfos.sqlite`` cannot be opened (a directory, no folder)   :class:`WorkspaceError`       3
the database is read-only, the disk is full, an I/O error   :class:`WorkspaceError`       3
the PostgreSQL server cannot be reached or refuses          :class:`ExternalToolError`    6
a value does not fit its column (a name over 255 chars)     :class:`FormatError`          5
==========================================================  ==========================  ====

A broken constraint or a bad statement is a bug of dfos, not a fault: it is left alone (traceback).
A URL is shown without its password.
"""

from __future__ import annotations

from pathlib import Path

from dfos.config.secrets import mask_url
from dfos.errors import ConfigError, DfosError, ExternalToolError, FormatError, WorkspaceError

__all__ = ["check_sqlite_file", "database_fault", "shown_url"]


#: SQLite result codes (``sqlite3.Error.sqlite_errorname``, primary part) that the operator can act on.
_SQLITE_FAULTS = {
    "SQLITE_NOTADB": "not_a_database",
    "SQLITE_CORRUPT": "not_a_database",
    "SQLITE_CANTOPEN": "cannot_open",
    "SQLITE_READONLY": "read_only",
    "SQLITE_FULL": "full",
    "SQLITE_IOERR": "io",
    "SQLITE_PERM": "io",
    "SQLITE_BUSY": "io",
    "SQLITE_LOCKED": "io",
    "SQLITE_NOMEM": "io",
    "SQLITE_PROTOCOL": "io",
    "SQLITE_NOLFS": "io",
    "SQLITE_AUTH": "io",
}


def shown_url(url: str) -> str:
    """The URL as an operator may see it: its password replaced by ``***``, cut to 200 characters."""
    shown = mask_url(url)
    return shown if len(shown) <= 200 else shown[:197] + "..."


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return " ".join(lines[:2]) if lines else type(exc).__name__


def _sqlite_path(url: str) -> str:
    if not url:
        return "of the workspace"
    return url.split("///", 1)[1].split("?", 1)[0] if "///" in url else shown_url(url)


def _sqlite_fault(orig: BaseException, url: str) -> DfosError | None:
    name = str(getattr(orig, "sqlite_errorname", "") or "")
    kind = _SQLITE_FAULTS.get(name) or _SQLITE_FAULTS.get("_".join(name.split("_")[:2]))
    path = _sqlite_path(url)
    reason = _first_line(orig)
    if kind == "not_a_database":
        return FormatError(f"the database {path} is not a SQLite database or is damaged ({reason}); restore it from "
                           "a backup, or move it away and dfos starts an empty one")
    if kind == "cannot_open":
        return WorkspaceError(f"cannot open the database {path} ({reason}): it must be a file in a directory dfos "
                              "can write")
    if kind == "read_only":
        return WorkspaceError(f"the database {path} is read-only ({reason}); make it and its directory writable")
    if kind == "full":
        return WorkspaceError(f"the disk holding the database {path} is full ({reason}); make room and run the "
                              "command again")
    if kind == "io":
        return WorkspaceError(f"the database {path} cannot be used: {reason} ({name}); check that its disk has room "
                              "and can be written")
    return None


def check_sqlite_file(path: Path) -> None:
    """Refuse a SQLite file that is cut short (FormatError): SQLite itself takes a file shorter than one page for
    an empty database and would silently start afresh over the lost one.  A missing or empty file is a new
    database; anything else is left to SQLite's own checks."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
        size = path.stat().st_size
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return  # SQLite's own error names these
    if not header:
        return
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise FormatError(f"the database {path} is not a SQLite database or is damaged (no SQLite header); "
                          "restore it from a backup, or move it away and dfos starts an empty one")
    page = int.from_bytes(header[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96] and pages > 0  # the in-header size is valid (SQLite >= 3.7.0)
    if size < page or (valid and size < page * pages):
        raise FormatError(f"the database {path} is cut short ({size} bytes, "
                          f"{page * pages if valid else page} expected); restore it from a backup")


def database_fault(exc: BaseException, url: str) -> DfosError | None:
    """The dfos error for a database fault met while using ``url`` ("" when not known); None when ``exc`` is
    a bug of dfos (a broken constraint, a bad statement) or not a database exception at all."""
    from sqlalchemy import exc as sa

    shown = shown_url(url) if url else "(DB_URL)"
    if isinstance(exc, DfosError):
        return exc
    if isinstance(exc, (sa.NoSuchModuleError, sa.ArgumentError)):
        return ConfigError(f"DB_URL {shown!r} is not a database URL dfos can use ({_first_line(exc)}): write "
                           "sqlite:///PATH or postgresql://USER@HOST[:PORT]/DATABASE")
    if isinstance(exc, ImportError):
        return ConfigError(f"DB_URL {shown!r}: its database driver is not installed ({_first_line(exc)})")
    if isinstance(exc, sa.TimeoutError):
        return ExternalToolError(f"database {shown}: no connection free in time ({_first_line(exc)})")
    orig = exc.orig if isinstance(exc, sa.DBAPIError) else exc
    if orig is None or not _is_driver_error(orig):
        return None
    if type(orig).__module__.startswith("sqlite3"):
        return _sqlite_fault(orig, url)
    kinds = {cls.__name__ for cls in type(orig).__mro__}
    if "DataError" in kinds:
        return FormatError(f"a value does not fit the database {shown}: {_first_line(orig)}")
    if "IntegrityError" in kinds or ("ProgrammingError" in kinds and "InsufficientPrivilege" not in kinds):
        return None  # a bug of dfos: let it show
    return ExternalToolError(f"database server {shown}: {_first_line(orig)}")


def _is_driver_error(exc: BaseException) -> bool:
    """An exception of a database driver (sqlite3, psycopg), unwrapped."""
    module = type(exc).__module__
    return module.startswith(("sqlite3", "psycopg")) and isinstance(exc, Exception) and any(
        cls.__name__ == "Error" for cls in type(exc).__mro__)
