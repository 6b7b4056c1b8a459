"""The database part of ``dfos migrate``: OLD's rows copied into NEW's own database (never a shared one).

Each table has a natural key (QC1 parameters: AB, product, parameter; certifications: AB, decision, by, at; ...).
A row of OLD whose key NEW lacks is inserted; one NEW has with the same values is left (so a second run writes
nothing); one NEW has with other values is updated only when NEW still holds what the last run copied (recorded
in ``NEW/.migrate/db_manifest``: the row's checksum), else NEW's row is kept and reported as a conflict, as for
files.  OLD's database is opened read-only and never migrated to a newer schema: only the columns both have are
read.

Not copied, on purpose: ``cascade_nodes`` (the live state of OLD's executors: NEW runs its own cascades),
``content_runs`` (products of OLD's runs, in OLD's directories: NEW must not reuse files it does not have) and
``archive_catalog`` (the archive's record of what was ingested; NEW ingests into its own archive record).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, and_, create_engine, inspect, select

from dfos.clock import system_now
from dfos.dates import format_timestamp
from dfos.db import (
    ab_qc,
    ab_runs,
    certifications,
    comments,
    database_fault,
    qc1_params,
    release_windows,
    sqlalchemy_url,
)
from dfos.steps.migrate.manifest import Entry, append_entries, read_manifest

__all__ = ["KEYS", "DbReport", "copy_database", "read_only_engine", "upsert_rows"]

#: The tables copied and the columns that identify a row.
KEYS: dict[str, tuple[Table, tuple[str, ...]]] = {
    "qc1_params": (qc1_params, ("ab", "product", "name")),
    "ab_qc": (ab_qc, ("ab",)),
    "certifications": (certifications, ("ab", "decision", "by", "at")),
    "ab_runs": (ab_runs, ("ab", "started", "recipe", "attempt")),
    "comments": (comments, ("scope", "subject", "author", "at")),
    "release_windows": (release_windows, ("release", "first", "opened")),
}


@dataclass
class DbReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"database: {self.inserted} rows inserted, {self.updated} updated, {self.unchanged} unchanged, "
                f"{len(self.conflicts)} conflicts")


def read_only_engine(url: str) -> Engine:
    """An engine on OLD's database that cannot write (SQLite opened read-only; no schema migration)."""
    plain = sqlalchemy_url(url)
    if plain.startswith("sqlite:///"):
        path = Path(plain.removeprefix("sqlite:///").split("?", 1)[0])
        plain = f"sqlite:///file:{path}?mode=ro&uri=true"
    try:
        return create_engine(plain)
    except Exception as exc:
        fault = database_fault(exc, url)
        if fault is None:
            raise
        raise fault from exc


def _hash(row: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()


def _name(table: str, key: tuple[Any, ...]) -> str:
    return f"{table}/{json.dumps(list(key), default=str)}"


def _entry(name: str, src: str, dst: str) -> Entry:
    return Entry(name, 0, 0, src, dst, 0, 0, format_timestamp(system_now()))


def _verdict(old_hash: str, have: Mapping[str, Any] | None, entry: Entry | None) -> str:
    """``insert``, ``update``, ``same``, ``skip`` (NEW removed it) or ``conflict`` (pure)."""
    if have is None:
        if entry is None:
            return "insert"
        return "skip" if entry.src_sha256 == old_hash else "conflict"
    if _hash(have) == old_hash:
        return "same"
    return "update" if entry is not None and _hash(have) == entry.dst_sha256 else "conflict"


def upsert_rows(engine: Engine, table_name: str, rows: Iterable[Mapping[str, Any]], manifest: Path,
                report: DbReport) -> None:
    """Insert or update ``rows`` (column -> value, no ``id``) in NEW's ``table_name``; see the module."""
    table, key_columns = KEYS[table_name]
    columns = [c.name for c in table.columns if c.name != "id"]
    known = read_manifest(manifest)
    with engine.connect() as conn:
        have = {tuple(r[c] for c in key_columns): {c: r[c] for c in columns}
                for r in conn.execute(select(*(table.c[c] for c in columns))).mappings()}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    entries: list[Entry] = []
    for row in rows:
        full = {c: row.get(c) for c in columns}
        key = tuple(full[c] for c in key_columns)
        name, old_hash = _name(table_name, key), _hash(full)
        entry = known.get(name)
        verdict = _verdict(old_hash, have.get(key), entry)
        if verdict == "conflict":
            report.conflicts.append(f"{name}: NEW's row differs from what the last run copied; NEW's kept")
            continue
        if verdict in ("insert", "update"):
            (inserts if verdict == "insert" else updates).append(full)
            entries.append(_entry(name, old_hash, old_hash))
        elif verdict == "same":
            report.unchanged += 1
            if entry is None or entry.dst_sha256 != old_hash:
                entries.append(_entry(name, old_hash, old_hash))
    with engine.begin() as conn:
        if inserts:
            conn.execute(table.insert(), inserts)
        for full in updates:
            conn.execute(table.update().where(and_(*(table.c[c] == full[c] for c in key_columns))).values(full))
    append_entries(manifest, entries)  # after the commit: a kill in between is found "same" next time
    report.inserted += len(inserts)
    report.updated += len(updates)


def _old_rows(old: Engine, table: Table, rewrite: dict[str, str]) -> list[dict[str, Any]]:
    present = {c["name"] for c in inspect(old).get_columns(table.name)} if inspect(old).has_table(table.name) else set()
    columns = [c.name for c in table.columns if c.name != "id" and c.name in present]
    if not columns:
        return []
    with old.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(*(table.c[c] for c in columns))).mappings()]
    for row in rows:
        for column, value in row.items():
            if isinstance(value, str):
                for before, after in rewrite.items():
                    value = value.replace(before, after)
                row[column] = value
    return rows


def copy_database(old_url: str, new: Engine, manifest: Path, rewrite: dict[str, str]) -> DbReport:
    """Copy every table of :data:`KEYS` from OLD's database (``old_url``, read-only) into NEW's; OLD's root in
    text values (log paths) is written as NEW's (``rewrite``: old -> new prefixes)."""
    report = DbReport()
    old = read_only_engine(old_url)
    try:
        for name, (table, _) in KEYS.items():
            upsert_rows(new, name, _old_rows(old, table, rewrite), manifest, report)
    finally:
        old.dispose()
    return report
