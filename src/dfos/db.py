"""The workspace database: run records of ABs and the persistent state of cascades.

SQLite in the workspace (``dfos.sqlite``) is the embedded default; ``DB_URL``
(``DFOS_DB_URL=postgresql://...``) runs the same code on PostgreSQL.  Tables are
created on first use.  SQLite runs in WAL mode with a busy timeout, so several
processes (an executor, ``dfos process-ab`` from a job file, the monitor) can
write at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    create_engine,
    event,
)

__all__ = ["ab_runs", "cascade_nodes", "engine_for_url", "metadata"]

metadata = MetaData()

#: One row per recipe run (processAB attempt).
ab_runs = Table(
    "ab_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ab", String(255), nullable=False, index=True),
    Column("batch_id", String(64), nullable=False, index=True),
    Column("recipe", String(128), nullable=False),
    Column("started", String(32), nullable=False),
    Column("ended", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # SUCCESSFUL | FAILED
    Column("failure", String(32)),  # missing_input | recipe_error | crash | timeout | infrastructure
    Column("exit_code", Integer),
    Column("signal", Integer),
    Column("message", Text),
    Column("wall_s", Float),
    Column("max_rss_kb", Integer),
    Column("log", String(1024)),
    Column("host", String(128)),
    Column("dag_id", String(128), index=True),  # set when an executor ran it
    Column("attempt", Integer),
)

#: The state of each AB of a cascade run by an executor (dag_id = e.g. CALIB_2013-02-12).
cascade_nodes = Table(
    "cascade_nodes",
    metadata,
    Column("dag_id", String(128), nullable=False),
    Column("ab", String(255), nullable=False),
    Column("state", String(16), nullable=False),  # waiting | running | succeeded | failed | blocked | incomplete
    Column("attempts", Integer, nullable=False, default=0),
    Column("exit_code", Integer),
    Column("wall_s", Float),
    Column("pid", Integer),
    Column("backend_id", String(128)),
    Column("updated", String(32)),
    PrimaryKeyConstraint("dag_id", "ab"),
)


@cache
def engine_for_url(url: str) -> Engine:
    """An engine for ``url`` with the tables created (one per process and URL)."""
    connect_args: Mapping[str, Any] = {"timeout": 60, "check_same_thread": False} if url.startswith("sqlite") else {}
    engine = create_engine(url, connect_args=dict(connect_args))
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    metadata.create_all(engine)
    return engine
