"""A workspace database opened for reading only, by a tool that must leave the workspace as it found it
(``dfos compare``): no migration, no new file, no lock in the workspace.

* SQLite without a write-ahead log beside it (no process has it open): the file is opened ``immutable``
  (SQLite then creates no ``-wal``/``-shm`` file and takes no lock);
* SQLite with a ``-wal`` file (a process has it open, or died with it open): the database and its log are
  copied into a private temporary directory first, and the copy is read (reading the original would write
  the read marks of the shared-memory file ``-shm``);
* PostgreSQL: every transaction is read-only (``default_transaction_read_only``).

A missing SQLite file yields None: the workspace has no database yet.
"""

from __future__ import annotations

import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

from dfos.db import database_fault, sqlalchemy_url
from dfos.db.faults import check_sqlite_file

__all__ = ["readonly_connection"]


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


def _snapshot(path: Path, into: Path) -> Path:
    """Copy the database and its write-ahead log (the log last: frames past the copy's end are ignored)."""
    target = into / path.name
    for _ in range(5):
        before = path.stat()
        shutil.copyfile(path, target)
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, into / wal.name)
        after = path.stat()
        if (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size):
            break  # no checkpoint wrote into the database while it was copied
    return target


@contextmanager
def _connect(url: str, plain: str, **connect_args: object) -> Iterator[Connection]:
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            yield connection
    except Exception as exc:
        fault = database_fault(exc, plain)
        if fault is None:
            raise
        raise fault from exc
    finally:
        engine.dispose()


@contextmanager
def readonly_connection(url: str) -> Iterator[Connection | None]:
    """A connection that cannot change the database ``url`` nor create files beside it (see the module); None
    for a SQLite database that does not exist."""
    path = _sqlite_path(url)
    if path is None:
        with _connect(sqlalchemy_url(url), url, **_readonly_args(url)) as connection:
            yield connection
        return
    if not path.is_file():
        yield None
        return
    check_sqlite_file(path)
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        with tempfile.TemporaryDirectory(prefix="dfos-compare-") as tmp:
            copy = _snapshot(path, Path(tmp))
            with _connect(f"sqlite:///{copy}", url) as connection:
                yield connection
        return
    quoted = urllib.parse.quote(str(path.resolve()))
    with _connect(f"sqlite:///file:{quoted}?mode=ro&immutable=1&uri=true", url) as connection:
        yield connection


def _readonly_args(url: str) -> dict[str, object]:
    if sqlalchemy_url(url).startswith("postgresql"):
        return {"options": "-c default_transaction_read_only=on"}
    return {}
