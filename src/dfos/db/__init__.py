"""The workspace database: run records, cascade state, QC1 parameters, scores and decisions.

SQLite in the workspace (``dfos.sqlite``) is the embedded default; ``DB_URL``
(``DFOS_DB_URL=postgresql://user@host/db``) runs the same code on PostgreSQL (driver
psycopg 3).  The schema is brought up to date on first use by Alembic revisions shipped in the
package (:mod:`dfos.db.migrations`; an up-to-date database costs one look at its revision).
SQLite runs in WAL mode with a busy timeout, so several processes (an executor,
``dfos process-ab`` from a job file, the monitor) can write at once.

A fault of the database (a bad URL, an unreachable server, a damaged, read-only or full
``dfos.sqlite``) is raised as a dfos error with its exit code, never as the driver's exception:
every engine translates what its driver raises (:mod:`dfos.db.faults`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from dfos.db.faults import check_sqlite_file, database_fault
from dfos.db.migrations import migrate
from dfos.db.schema import (
    ab_qc,
    ab_runs,
    archive_catalog,
    cascade_nodes,
    certifications,
    comments,
    content_runs,
    metadata,
    qc1_params,
    release_windows,
    workspace_owner,
)

__all__ = [
    "ab_qc",
    "ab_runs",
    "archive_catalog",
    "cascade_nodes",
    "certifications",
    "comments",
    "content_runs",
    "database_fault",
    "dispose_engines",
    "engine_for_url",
    "metadata",
    "qc1_params",
    "release_windows",
    "sqlalchemy_url",
    "workspace_owner",
]


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` (as operators write it) means the psycopg 3 driver."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for_url(url: str) -> Engine:
    """An engine for ``url``, its schema up to date (one per process and URL)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = _new_engine(url)
        return engine


def dispose_engines() -> None:
    """Close every engine's connections and forget the engines (after a fork, or between tests)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def _new_engine(url: str) -> Engine:
    """A new engine whose driver errors come out as dfos errors (:func:`database_fault`), migrated."""
    plain = url
    url = sqlalchemy_url(url)
    connect_args: Mapping[str, Any] = {"timeout": 60, "check_same_thread": False} if url.startswith("sqlite") else {}
    if url.startswith("sqlite:///") and ":memory:" not in url:
        check_sqlite_file(Path(url.removeprefix("sqlite:///").split("?", 1)[0]))
    try:
        engine = create_engine(url, connect_args=dict(connect_args), pool_pre_ping=not url.startswith("sqlite"))
    except Exception as exc:  # an unknown scheme, a driver not installed, a URL that does not parse
        fault = database_fault(exc, plain)
        if fault is None:
            raise
        raise fault from exc

    @event.listens_for(engine, "handle_error")
    def _translate(context: Any) -> BaseException | None:
        if context.is_pre_ping:  # a dead pooled connection: the pool opens a new one itself
            return None
        return database_fault(context.sqlalchemy_exception or context.original_exception, plain)

    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
