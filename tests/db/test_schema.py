"""The workspace database on SQLite and on a real PostgreSQL server: migrations build exactly the
schema of dfos.db.schema, old workspaces are upgraded, rows round-trip (Alembic's side in test_migrations)."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, inspect, select, text

from dfos.db import ab_runs, engine_for_url, qc1_params, sqlalchemy_url
from dfos.db.migrations import NEWEST, VERSION_TABLE, current_version, migrate
from dfos.db.schema import metadata


def _url(db_url: str, tmp_path: Path) -> str:
    return sqlalchemy_url(db_url) if db_url else f"sqlite:///{tmp_path / 'dfos.sqlite'}"


def test_migrations_build_the_declared_schema(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(_url(db_url, tmp_path))
    assert migrate(engine) == NEWEST
    found = inspect(engine)
    assert set(found.get_table_names()) == set(metadata.tables) | {VERSION_TABLE}  # and Alembic's version
    for table in metadata.tables.values():
        assert {c["name"] for c in found.get_columns(table.name)} == {c.name for c in table.columns}, table.name
    assert migrate(engine) == NEWEST  # a second run changes nothing
    engine.dispose()


def test_a_workspace_from_before_versioning_is_upgraded(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(_url(db_url, tmp_path))
    with engine.begin() as connection:
        ab_runs.create(connection)
        connection.execute(insert(ab_runs).values(ab="A.ab", batch_id="CALIB_2013-02-12", recipe="r",
                                                  started="s", ended="e", status="SUCCESSFUL"))
    with engine.connect() as connection:
        assert current_version(connection) == 1
    migrate(engine)
    with engine.connect() as connection:
        assert current_version(connection) == NEWEST
        assert connection.execute(select(ab_runs.c.ab)).scalars().all() == ["A.ab"]  # kept
        assert "qc1_params" in inspect(connection).get_table_names()
    engine.dispose()


def test_processes_opening_a_new_database_at_once_migrate_it_once(db_url: str, tmp_path: Path) -> None:
    url = _url(db_url, tmp_path)
    engines = [create_engine(url) for _ in range(4)]
    errors: list[BaseException] = []

    def open_it(engine: Engine) -> None:
        try:
            migrate(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engines[0].connect() as connection:
        assert connection.execute(text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar() == 1
    for engine in engines:
        engine.dispose()


def test_qc1_rows_round_trip(db_url: str, tmp_path: Path) -> None:
    engine = engine_for_url(db_url or f"sqlite:///{tmp_path / 'dfos.sqlite'}")
    row = {"ab": "A.ab", "batch_id": "CALIB_2013-02-12", "date": "2013-02-12", "instrument": "UVES",
           "raw_type": "BIAS_BLUE", "pro_catg": "MASTER_BIAS_BLUE", "product": "r.A_0000.fits", "setup": "BLUE 1x1",
           "mjd_obs": 56335.75, "name": "QC OUT1 RON MASTER", "value": 1.1648, "text": "1.1648", "unit": "ADU",
           "description": "read noise", "source": "header", "updated": "2013-02-13T14:00:00"}
    with engine.begin() as connection:
        connection.execute(insert(qc1_params), [row])
    with engine.connect() as connection:
        got = connection.execute(select(qc1_params).where(qc1_params.c.ab == "A.ab")).mappings().one()
    assert {k: got[k] for k in row} == row and got["score"] is None


def test_rows_of_a_run_key_go_in(db_url: str, tmp_path: Path) -> None:
    """A DEEP run's pseudo-date (longer than a DFO date) in every column that holds a processing key."""
    from dfos.db import ab_qc, archive_catalog

    engine = engine_for_url(db_url or f"sqlite:///{tmp_path / 'dfos.sqlite'}")
    key = "090.C-0456A"
    with engine.begin() as connection:
        connection.execute(insert(ab_qc), [{"ab": "D.ab", "batch_id": f"SCIENCE_{key}", "date": key,
                                            "instrument": "NACO", "raw_type": "JITTER", "n_params": 1,
                                            "n_scored": 1, "n_red": 0,
                                            "verdict": "green", "plots": "", "updated": "2013-03-02T14:00:00"}])
        connection.execute(insert(archive_catalog), [{"name": "NA_SCOA_x-DEEP.fits", "path": "/a/x", "date": key,
                                                      "mode": "SCIENCE", "ab": "D.ab", "pro_catg": "COADDED",
                                                      "size": 1, "sha256": "0" * 64, "source": "/w/x",
                                                      "ingested": "2013-03-02T14:00:00"}])
    with engine.connect() as connection:
        assert connection.execute(select(ab_qc.c.date)).scalar_one() == key
        assert connection.execute(select(archive_catalog.c.date)).scalar_one() == key
