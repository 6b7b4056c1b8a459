"""A database opened read-only (dfos compare): it reads what was committed, cannot write, runs no migration and
creates or changes no file beside a SQLite database, whether a process has it open or not."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from dfos.db import certifications, dispose_engines, engine_for_url
from dfos.db.readonly import readonly_connection
from dfos.errors import DfosError


def _files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _decide(url: str, ab: str) -> None:
    with engine_for_url(url).begin() as db:
        db.execute(insert(certifications).values(ab=ab, decision="certified", by="auto", at="2013-02-13T14:00:00"))


def _read(url: str) -> list[str]:
    with readonly_connection(url) as db:
        assert db is not None
        return [r.ab for r in db.execute(select(certifications.c.ab).order_by(certifications.c.id))]


def test_sqlite_in_use_and_closed_is_read_without_a_trace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dfos.sqlite'}"
    _decide(url, "A.ab")
    try:
        assert (tmp_path / "dfos.sqlite-wal").exists()  # open in this process: a write-ahead log beside it
        before = _files(tmp_path)
        assert _read(url) == ["A.ab"]  # committed rows still in the log are read
        assert _files(tmp_path) == before  # not even the -shm file's read marks
    finally:
        dispose_engines()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dfos.sqlite"]
    before = _files(tmp_path)
    assert _read(url) == ["A.ab"]
    assert _files(tmp_path) == before  # no -wal, no -shm created


def test_sqlite_refuses_writes_and_a_missing_file_is_no_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dfos.sqlite'}"
    _decide(url, "A.ab")
    dispose_engines()
    with pytest.raises(DfosError), readonly_connection(url) as db:
        assert db is not None
        db.execute(text("DELETE FROM certifications"))
    assert _read(url) == ["A.ab"]
    with readonly_connection(f"sqlite:///{tmp_path / 'none.sqlite'}") as db:
        assert db is None
    assert not (tmp_path / "none.sqlite").exists()
    # an old or foreign database is read as it is: no migration runs
    plain = tmp_path / "plain.sqlite"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.commit()
    with readonly_connection(f"sqlite:///{plain}") as db:
        assert db is not None and db.execute(text("SELECT name FROM sqlite_master")).scalars().all() == ["t"]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_transactions_are_read_only(db_url: str, tmp_path: Path) -> None:
    _decide(db_url, "A.ab")
    assert _read(db_url) == ["A.ab"]
    with pytest.raises(DfosError), readonly_connection(db_url) as db:
        assert db is not None
        db.execute(text("DELETE FROM certifications"))
    assert _read(db_url) == ["A.ab"]
