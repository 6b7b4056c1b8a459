"""Numbered schema migrations of the workspace database, applied in order on first use.

The database holds its version in ``schema_version``.  Opening a database brings it
to :data:`NEWEST` inside one transaction that holds the database's write lock
(SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), so two processes opening an
old workspace at once migrate it once.  A database written before versioning
(it has ``ab_runs`` but no ``schema_version``) counts as version 1.

To change the schema: edit :mod:`dfos.db.schema` and append a migration that makes
the same change to an existing database (``ALTER TABLE``, new tables); never edit
a migration that has been released.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, String, cast, func, insert, inspect, select, text, update

from dfos.db import schema

__all__ = ["MIGRATIONS", "NEWEST", "current_version", "migrate"]

Migration = Callable[[Connection], None]


def _create(*tables: str) -> Migration:
    def run(connection: Connection) -> None:
        for name in tables:
            schema.metadata.tables[name].create(connection, checkfirst=True)

    return run


#: (version, what it does, how): version N is reached by running migration N.
MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "AB runs and cascade state", _create("ab_runs", "cascade_nodes")),
    (2, "QC1 parameters, AB scores, certification decisions, comments",
     _create("qc1_params", "ab_qc", "certifications", "comments")),
    (3, "the embedded archive's catalog of ingested files", _create("archive_catalog")),
]
NEWEST = MIGRATIONS[-1][0]


def current_version(connection: Connection) -> int:
    """The schema version of the database (0: empty)."""
    tables = set(inspect(connection).get_table_names())
    if "schema_version" not in tables:
        return 1 if "ab_runs" in tables else 0
    version = connection.execute(select(schema.schema_version.c.version)).scalar()
    return int(version or 0)


def _stamp(connection: Connection, version: int) -> None:
    now = cast(func.current_timestamp(), String(32))  # the database's clock: dfos's clock is not at hand here
    if connection.execute(select(schema.schema_version.c.version)).first() is None:
        connection.execute(insert(schema.schema_version).values(version=version, updated=now))
    else:
        connection.execute(update(schema.schema_version).values(version=version, updated=now))


def _upgrade(connection: Connection) -> int:
    version = current_version(connection)
    if version >= NEWEST:
        return version
    schema.schema_version.create(connection, checkfirst=True)
    for number, _, run in MIGRATIONS:
        if number > version:
            run(connection)
    _stamp(connection, NEWEST)
    return NEWEST


def migrate(engine: Engine) -> int:
    """Bring the database to :data:`NEWEST`; return the version it has now."""
    if engine.dialect.name == "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if current_version(connection) >= NEWEST:  # the usual case: no write lock taken
                return NEWEST
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, before looking again
            try:
                version = _upgrade(connection)
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
            return version
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(717171)"))
        return _upgrade(connection)
