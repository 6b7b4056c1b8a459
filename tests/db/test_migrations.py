"""Alembic revisions of the workspace database: numbered in one line, the same schema as dfos.db.schema,
and databases of the numbered runner dfos had before Alembic taken in without losing a row.

The old runner is frozen below (``legacy_*``, as it was in src/dfos/db/migrations.py, with a ``upto``
to stop where an older release stopped): it builds the databases the new code must adopt.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    cast,
    create_engine,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)

from dfos.db import schema, sqlalchemy_url
from dfos.db.migrations import (
    HEAD,
    NEWEST,
    VERSION_TABLE,
    VERSIONS,
    alembic_config,
    current_version,
    migrate,
    new_revision,
)
from dfos.errors import ConfigError

# --- the runner before Alembic, frozen ---------------------------------------------------------------

Migration = Callable[[Connection], None]

legacy_schema_version = Table(
    "schema_version",
    MetaData(),
    Column("version", Integer, nullable=False),
    Column("updated", String(32), nullable=False),
)


def _legacy_create(*tables: str) -> Migration:
    def run(connection: Connection) -> None:
        for name in tables:
            schema.metadata.tables[name].create(connection, checkfirst=True)

    return run


LEGACY_MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "AB runs and cascade state", _legacy_create("ab_runs", "cascade_nodes")),
    (2, "QC1 parameters, AB scores, certification decisions, comments",
     _legacy_create("qc1_params", "ab_qc", "certifications", "comments")),
    (3, "the embedded archive's catalog of ingested files", _legacy_create("archive_catalog")),
]
LEGACY_NEWEST = LEGACY_MIGRATIONS[-1][0]


def legacy_version(connection: Connection) -> int:
    tables = set(inspect(connection).get_table_names())
    if "schema_version" not in tables:
        return 1 if "ab_runs" in tables else 0
    version = connection.execute(select(legacy_schema_version.c.version)).scalar()
    return int(version or 0)


def _legacy_stamp(connection: Connection, version: int) -> None:
    now = cast(func.current_timestamp(), String(32))
    if connection.execute(select(legacy_schema_version.c.version)).first() is None:
        connection.execute(insert(legacy_schema_version).values(version=version, updated=now))
    else:
        connection.execute(update(legacy_schema_version).values(version=version, updated=now))


def _legacy_upgrade(connection: Connection, upto: int) -> int:
    version = legacy_version(connection)
    if version >= upto:
        return version
    legacy_schema_version.create(connection, checkfirst=True)
    for number, _, run in LEGACY_MIGRATIONS:
        if version < number <= upto:
            run(connection)
    _legacy_stamp(connection, upto)
    return upto


def legacy_migrate(engine: Engine, upto: int = LEGACY_NEWEST) -> int:
    if engine.dialect.name == "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if legacy_version(connection) >= upto:
                return upto
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                version = _legacy_upgrade(connection, upto)
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
            return version
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(717171)"))
        return _legacy_upgrade(connection, upto)


# --- the tests ---------------------------------------------------------------------------------------


def _url(db_url: str, tmp_path: Path) -> str:
    return sqlalchemy_url(db_url) if db_url else f"sqlite:///{tmp_path / 'dfos.sqlite'}"


#: One row for each table, by the legacy version that first has the table.
ROWS: dict[int, dict[str, dict[str, object]]] = {
    1: {"ab_runs": {"ab": "A.ab", "batch_id": "CALIB_2013-02-12", "recipe": "uves_cal_mbias", "started": "s",
                    "ended": "e", "status": "SUCCESSFUL", "wall_s": 1.5},
        "cascade_nodes": {"dag_id": "CALIB_2013-02-12", "ab": "A.ab", "state": "succeeded", "attempts": 1}},
    2: {"qc1_params": {"ab": "A.ab", "batch_id": "CALIB_2013-02-12", "date": "2013-02-12", "instrument": "UVES",
                       "raw_type": "BIAS_BLUE", "pro_catg": "MASTER_BIAS_BLUE", "product": "r.A_0000.fits",
                       "setup": "BLUE 1x1", "mjd_obs": 56335.75, "name": "QC OUT1 RON MASTER", "value": 1.1648,
                       "unit": "ADU", "description": "", "source": "header", "updated": "u"},
        "ab_qc": {"ab": "A.ab", "batch_id": "CALIB_2013-02-12", "date": "2013-02-12", "instrument": "UVES",
                  "raw_type": "BIAS_BLUE", "n_params": 1, "n_scored": 1, "n_red": 0, "verdict": "green",
                  "plots": "", "updated": "u"},
        "certifications": {"ab": "A.ab", "decision": "certified", "by": "auto", "at": "t", "comment": ""},
        "comments": {"scope": "ab", "subject": "A.ab", "text": "fine", "author": "qc", "at": "t"}},
    3: {"archive_catalog": {"name": "M.fits", "path": "p", "date": "2013-02-12", "mode": "CALIB", "ab": "A.ab",
                            "pro_catg": "MASTER_BIAS_BLUE", "size": 2880, "sha256": "0" * 64, "source": "s",
                            "ingested": "i"}},
}


def _fill(engine: Engine, upto: int) -> dict[str, dict[str, object]]:
    rows = {table: row for version, tables in ROWS.items() if version <= upto for table, row in tables.items()}
    with engine.begin() as connection:
        for table, row in rows.items():
            connection.execute(insert(schema.metadata.tables[table]), [row])
    return rows


def _rows_kept(engine: Engine, rows: dict[str, dict[str, object]]) -> None:
    with engine.connect() as connection:
        for table, row in rows.items():
            found = connection.execute(select(schema.metadata.tables[table])).mappings().all()
            assert [{k: f[k] for k in row} for f in found] == [row], table


def _matches_schema(engine: Engine) -> None:
    """Alembic's own comparison (autogenerate) finds nothing between the database and dfos.db.schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), schema.metadata) == []
        assert set(inspect(connection).get_table_names()) == {*schema.metadata.tables, VERSION_TABLE}


def _revision(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def test_revisions_are_numbered_in_one_line_up_to_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    chain = list(reversed(list(script.walk_revisions())))
    assert [r.revision for r in chain] == [f"{n:04d}" for n in range(1, len(chain) + 1)]
    assert [r.down_revision for r in chain] == [None, *(r.revision for r in chain[:-1])]
    assert script.get_heads() == [HEAD] and len(chain) == NEWEST
    for r in chain:
        assert Path(r.path).name.startswith(f"{r.revision}_")


def test_a_new_database_gets_every_revision(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(_url(db_url, tmp_path))
    assert migrate(engine) == NEWEST
    _matches_schema(engine)
    assert _revision(engine) == [HEAD]
    engine.dispose()


@pytest.mark.parametrize("upto", [1, 2, 3])
def test_a_database_of_the_old_runner_is_stamped_and_upgraded(db_url: str, tmp_path: Path, upto: int) -> None:
    engine = create_engine(_url(db_url, tmp_path))
    assert legacy_migrate(engine, upto) == upto
    rows = _fill(engine, upto)
    with engine.connect() as connection:
        assert current_version(connection) == upto
    assert migrate(engine) == NEWEST
    _rows_kept(engine, rows)
    _matches_schema(engine)  # the old version table is gone, Alembic's holds the head
    assert _revision(engine) == [HEAD]
    assert migrate(engine) == NEWEST  # once adopted, nothing more to do
    engine.dispose()


def test_a_database_from_before_versioning_gets_its_missing_tables(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(_url(db_url, tmp_path))
    with engine.begin() as connection:  # the first releases had ab_runs only, and no version at all
        schema.ab_runs.create(connection)
    rows = _fill(engine, 0) | {"ab_runs": ROWS[1]["ab_runs"]}
    with engine.begin() as connection:
        connection.execute(insert(schema.ab_runs), [ROWS[1]["ab_runs"]])
    with engine.connect() as connection:
        assert current_version(connection) == 1
    assert migrate(engine) == NEWEST
    _rows_kept(engine, rows)
    _matches_schema(engine)  # cascade_nodes too, which the old runner never created for such a database
    engine.dispose()


def test_a_newer_database_is_left_alone_and_a_foreign_one_refused(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(_url(db_url, tmp_path))
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0099'"))
    assert migrate(engine) == 99  # written by a newer dfos on another host: not ours to touch
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = 'ae1027a6acf'"))
    with pytest.raises(ConfigError, match="another application's database"):
        migrate(engine)
    engine.dispose()


_OPEN = """
import sys
from dfos.db import engine_for_url, ab_runs
from sqlalchemy import select
engine = engine_for_url(sys.argv[1])
with engine.connect() as connection:
    print(len(connection.execute(select(ab_runs)).all()), "alembic" in sys.modules)
"""


def _open_elsewhere(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", _OPEN, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def test_two_processes_opening_an_old_database_upgrade_it_once(db_url: str, tmp_path: Path) -> None:
    url = db_url or f"sqlite:///{tmp_path / 'dfos.sqlite'}"
    engine = create_engine(_url(db_url, tmp_path))
    legacy_migrate(engine, 2)
    rows = _fill(engine, 2)
    engine.dispose()
    opened = [_open_elsewhere(url) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in opened]
    assert [p.returncode for p in opened] == [0, 0], outputs
    assert [out.split()[0] for out, _ in outputs] == ["1", "1"]  # both see the row: the upgrade kept it
    engine = create_engine(_url(db_url, tmp_path))
    _rows_kept(engine, rows)
    _matches_schema(engine)
    assert _revision(engine) == [HEAD]
    engine.dispose()


def test_opening_an_up_to_date_database_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dfos.sqlite'}"
    migrate(engine := create_engine(url))
    engine.dispose()
    out, err = _open_elsewhere(url).communicate(timeout=60)
    assert out == "0 False\n", err


def test_a_new_revision_is_written_after_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dfos.db import migrations

    copy = tmp_path / "alembic"
    shutil.copytree(VERSIONS.parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "SCRIPT_LOCATION", str(copy))
    path = new_revision("the schema as it is")
    assert path.parent == copy / "versions" and path.name == f"{NEWEST + 1:04d}_the_schema_as_it_is.py"
    source = path.read_text()
    assert f"revision = '{NEWEST + 1:04d}'" in source and f"down_revision = '{HEAD}'" in source
    assert "op." not in source  # dfos.db.schema and the revisions agree: nothing to do
    compile(source, str(path), "exec")


def test_a_legacy_table_dropped_while_looked_at_sends_the_opener_to_the_locked_path(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process upgrading drops ``schema_version`` between the unlocked listing of the tables and the read
    of its number: the unlocked look says "not settled" (no error), and the locked path finds the database at HEAD."""
    from sqlalchemy import inspect as real

    import dfos.db.migrations as migrations

    engine = create_engine(_url(db_url, tmp_path))
    migrate(engine)  # at HEAD, no legacy table

    class Stale:
        """The table listing as it was a moment before the other process dropped the legacy table."""

        def __init__(self, connection: object) -> None:
            self.inner = real(connection)

        def get_table_names(self) -> list[str]:
            return [name for name in self.inner.get_table_names() if name != VERSION_TABLE] + ["schema_version"]

    monkeypatch.setattr(migrations, "inspect", Stale)
    with engine.connect() as connection:
        assert migrations._settled_unlocked(connection) is None
    monkeypatch.setattr(migrations, "inspect", real)
    assert migrate(engine) == int(HEAD)
    engine.dispose()
