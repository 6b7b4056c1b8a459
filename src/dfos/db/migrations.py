"""Schema migrations of the workspace database: Alembic revisions shipped inside the package.

The revisions are ``dfos/db/alembic/versions/NNNN_<what>.py``, numbered 0001, 0002, ... in one
straight line (a test holds them to that).  Alembic is configured here, in code: no ``alembic.ini``.

Opening a database costs one cheap look at its revision (``alembic_version``, read with SQLAlchemy;
Alembic itself is not even imported: it adds about 0.2 s of start-up).  Only a database behind
:data:`HEAD` is upgraded, inside one transaction that holds the database's write lock (SQLite
``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), after looking again: two processes opening an old
workspace at once upgrade it once.  A database newer than this dfos (another host runs a newer
release on a shared PostgreSQL) is left alone, as before.

Databases of the numbered runner dfos had before Alembic are taken in: it kept its version in a
``schema_version`` table (one integer, 1 to 3, the number of the revision of the same content here),
and one with ``ab_runs`` but no ``schema_version`` is from before versioning.  Such a database is
stamped at its revision (one from before versioning at none: revisions 0001 to 0003 create only the
tables that are missing), its ``schema_version`` dropped, and upgraded; no row is touched.

To change the schema: edit :mod:`dfos.db.schema`, then ``python -m dfos.db.migrations "what changes"``
writes the next revision from the difference (check it and complete it by hand); never edit a
revision that has been released.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from dfos.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD", "NEWEST", "alembic_config", "current_version", "migrate", "new_revision"]

#: Where Alembic finds ``env.py`` and ``versions/`` (a package resource: no path to configure).
SCRIPT_LOCATION = "dfos.db:alembic"
VERSIONS = Path(__file__).with_name("alembic") / "versions"
_REVISION_FILE = re.compile(r"(\d{4})_\w+\.py")

#: The newest revision (the highest number among the revision files), and its number.
HEAD = max(m.group(1) for p in VERSIONS.iterdir() if (m := _REVISION_FILE.fullmatch(p.name)))
NEWEST = int(HEAD)

VERSION_TABLE = "alembic_version"
#: The version table of the runner before Alembic (one row: ``version`` integer, ``updated``).
LEGACY_TABLE = "schema_version"
#: The PostgreSQL advisory lock held while upgrading (the runner before Alembic held the same).
LOCK_KEY = 717171


def _number(revision: object, url: str) -> int:
    if revision is None:
        return 0
    if not (isinstance(revision, str) and revision.isdigit()):
        raise ConfigError(f"the database {url} has Alembic revision {str(revision)[:40]!r}, "
                          "not a dfos one: DB_URL names another application's database")
    return int(revision)


def _found(connection: Connection) -> tuple[int, bool]:
    """The number of the database's revision, and whether Alembic keeps it (not the runner before)."""
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE in tables:
        revision = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        return _number(revision, connection.engine.url.render_as_string(hide_password=True)), True
    if LEGACY_TABLE in tables:
        return int(connection.execute(text(f"SELECT version FROM {LEGACY_TABLE}")).scalar() or 0), False
    return (1 if "ab_runs" in tables else 0), False


def current_version(connection: Connection) -> int:
    """The number of the database's revision (0: empty; 1: from before versioning)."""
    return _found(connection)[0]


def _settled(connection: Connection) -> int | None:
    """The database's revision number if Alembic keeps it at :data:`HEAD` or beyond (nothing to do)."""
    number, alembic = _found(connection)
    return number if alembic and number >= NEWEST else None


def _settled_unlocked(connection: Connection) -> int | None:
    """:func:`_settled` without the write lock: None too when another process changed the tables while they were
    looked at (it dropped the legacy version table between the listing and the read): the locked path looks again."""
    from sqlalchemy.exc import DBAPIError

    try:
        return _settled(connection)
    except DBAPIError:
        return None


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for dfos's revisions; ``connection``: the one ``env.py`` migrates."""
    from alembic.config import Config  # not at the top: only an upgrade pays for Alembic

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def _adopt(connection: Connection, config: Config) -> None:
    """Stamp a database of the runner before Alembic at its revision and drop its version table."""
    from alembic import command

    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE in tables or LEGACY_TABLE not in tables:
        return  # Alembic's already, or new, or from before versioning (upgraded from no revision)
    legacy = current_version(connection)
    if legacy:
        command.stamp(config, f"{legacy:04d}")
    connection.execute(text(f"DROP TABLE {LEGACY_TABLE}"))


def _upgrade(connection: Connection) -> int:
    """With the write lock held: bring the database to :data:`HEAD` unless it is there already."""
    if (settled := _settled(connection)) is not None:
        return settled
    from alembic import command

    config = alembic_config(connection)
    _adopt(connection, config)
    command.upgrade(config, "head")
    return current_version(connection)


def migrate(engine: Engine) -> int:
    """Bring the database to :data:`HEAD`; return the number of its revision now."""
    if engine.dialect.name == "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if (settled := _settled_unlocked(connection)) is not None:  # the usual case: no lock, no Alembic
                return settled
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, before looking again
            try:
                found = _upgrade(connection)
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
            return found
    with engine.connect() as connection:
        if (settled := _settled_unlocked(connection)) is not None:
            return settled
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        return _upgrade(connection)


def new_revision(message: str) -> Path:
    """Write the next revision file from the difference between :mod:`dfos.db.schema` and a database
    at :data:`HEAD` (a scratch SQLite file); return its path.  Check what Alembic wrote."""
    import tempfile

    from alembic import command
    from sqlalchemy import create_engine

    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/head.sqlite")
        try:
            migrate(engine)
            with engine.begin() as connection:
                script = command.revision(alembic_config(connection), message, autogenerate=True,
                                          rev_id=f"{NEWEST + 1:04d}")
        finally:
            engine.dispose()
    if script is None or isinstance(script, list):
        raise RuntimeError("Alembic wrote no single revision")
    return Path(script.path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m dfos.db.migrations 'what the new revision changes'")
    print(new_revision(sys.argv[1]))
