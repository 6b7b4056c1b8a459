"""``dfos migrate -I|-A OLD NEW``: copy what NEW should have of OLD (set up before by ``dfos migrate setup``).

``-A`` copies everything once; ``-I`` the recent set: dated subdirectories from ``since`` on and every file outside
dated directories (DFO_STATUS, AB lists, configuration, job files, ABs).  Files: :mod:`dfos.steps.migrate.sync`;
rows: :mod:`dfos.steps.migrate.database`; a DFOS tree: :mod:`dfos.steps.migrate.dfos_tree`.  Only from OLD to NEW:
NEW must have been set up from OLD, and a pair the other way round is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath

from dfos.clock import system_now
from dfos.dates import format_timestamp
from dfos.db import engine_for_url
from dfos.errors import StateError, UsageError, WorkspaceError
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.steps.migrate.database import DbReport, copy_database, upsert_rows
from dfos.steps.migrate.dfos_tree import (
    DfosTree,
    open_dfos_tree,
    qc1_exports,
    read_qc1_export,
    rewrite_text,
    tree_transform,
)
from dfos.steps.migrate.manifest import DB_MANIFEST, FILE_MANIFEST, MIGRATE_DIR, Origin, read_origin
from dfos.steps.migrate.sync import SyncReport, Transform, Transformed, Unit, sync
from dfos.steps.static_calib import GEN
from dfos.workspace import DIRECTORY_KEYS, Workspace, open_workspace

__all__ = ["MigrateReport", "check_direction", "migrate"]

_SHOWN = 20


@dataclass
class MigrateReport:
    old: Path
    new: Path
    everything: bool
    files: SyncReport
    db: DbReport
    refused_rows: list[str] = field(default_factory=list)
    report_file: Path | None = None

    def summary(self) -> str:
        f = self.files
        return (f"migrate {'-A' if self.everything else '-I'} {self.old} -> {self.new}: {len(f.copied)} files copied "
                f"({f.bytes} bytes), {f.skipped} skipped unchanged, {len(f.adopted)} found in place, "
                f"{len(f.conflicts)} conflicts (NEW's kept), {len(f.rewritten)} rewritten, {len(f.aside)} set aside, "
                f"{len(f.unmapped)} unmapped paths, {len(f.failed)} failed; {self.db.line()}")

    def sections(self) -> list[tuple[str, list[str]]]:
        f = self.files
        return [("failed (run again)", f.failed), ("conflicts: NEW changed these itself; NEW's version kept",
                                                   f.conflicts + self.db.conflicts),
                ("rewritten", f.rewritten), ("set aside in NEW/.migrate/aside", f.aside),
                ("paths that could not be mapped", f.unmapped), ("QC1 export lines refused", self.refused_rows),
                ("found in place (a killed run copied them)", f.adopted)]

    def render(self, limit: int | None = None) -> str:
        lines = [self.summary()]
        for title, items in self.sections():
            if items:
                lines.append(f"{title} ({len(items)}):")
                shown = items if limit is None else items[:limit]
                lines += [f"  {item}" for item in shown]
                if len(shown) < len(items):
                    lines.append(f"  ... {len(items) - len(shown)} more in {self.report_file}")
        return "\n".join(lines) + "\n"


def check_direction(old: Path, new: Path) -> Origin:
    """NEW's origin, when it is OLD; else the one line that says why not (a pair backwards, never set up)."""
    theirs = read_origin(old)
    mine = read_origin(new)
    if theirs is not None and theirs.root == new and (mine is None or mine.root != old):
        raise UsageError(f"refused: {old} was set up from {new}; migrate copies from the old installation to the new "
                         f"one only: dfos migrate -I {new} {old}")
    if mine is None:
        raise StateError(f"{new} was not set up from {old}: run 'dfos migrate setup {old} {new}' first")
    if mine.root != old:
        raise UsageError(f"refused: {new} was set up from {mine.root}, not from {old}")
    return mine


def _workspace_units(old: Workspace, new: Workspace) -> list[Unit]:
    units: list[Unit] = []
    seen: set[Path] = set()
    for key in DIRECTORY_KEYS:
        source = old.path(key)
        if source.resolve() == new.path(key).resolve():
            continue  # shared on purpose (the archive): nothing to copy
        if source not in seen:
            seen.add(source)
            units.append(Unit(key, source, new.path(key)))
    units.append(Unit("GEN_CALDIR", old.cal_dir / GEN, new.cal_dir / GEN, static_calibrations=True))
    units.append(Unit("ROOT", old.root, new.root))
    return units


def _root_rewrite(old: Workspace, new: Workspace) -> tuple[list[tuple[str, str]], Transform]:
    pairs = {(str(old.root), str(new.root))}
    pairs |= {(str(old.path(k)), str(new.path(k))) for k in DIRECTORY_KEYS if old.path(k) != new.path(k)}
    ordered = sorted(pairs, key=lambda pair: -len(pair[0]))

    def transform(_key: str, _rel: PurePosixPath, data: bytes) -> Transformed | None:
        made = rewrite_text(data, ordered)
        if made is None:
            return None
        return Transformed(made.data, (f"OLD's root {old.root} written as NEW's {new.root}",))

    return ordered, transform


def _from_workspace(old_root: Path, new: Workspace, since: date | None, progress: Callable[[int, int], None] | None,
                    old_db_url: str | None) -> tuple[SyncReport, DbReport]:
    old = open_workspace(old_root, env={}, cli={"DB_URL": old_db_url} if old_db_url else None)
    if old.db_url == new.db_url:
        raise UsageError(f"OLD and NEW use the same database ({'DB_URL' if new.settings.DB_URL else 'file'}); NEW "
                         "needs its own: set DB_URL in NEW/dfos.toml")
    pairs, transform = _root_rewrite(old, new)
    skip = {old.root / MIGRATE_DIR, old.work_root}
    files = sync(_workspace_units(old, new), new.root, new.root / MIGRATE_DIR / FILE_MANIFEST, since, transform,
                 progress, skip)
    db = DbReport()
    sqlite_file = old.db_url.removeprefix("sqlite:///") if old.db_url.startswith("sqlite:///") else None
    if sqlite_file is None or Path(sqlite_file).is_file():
        db = copy_database(old.db_url, engine_for_url(new.db_url), new.root / MIGRATE_DIR / DB_MANIFEST,
                           {f"{a}/": f"{b}/" for a, b in pairs})
    return files, db


def _tree_units(tree: DfosTree, new: Workspace) -> list[Unit]:
    units = [Unit(key, path, new.path(key)) for key, path in sorted(tree.local.items())]
    if tree.gen_caldir is not None:
        units.append(Unit("GEN_CALDIR", tree.gen_caldir, new.cal_dir / GEN, static_calibrations=True))
    return units


def _from_tree(old_root: Path, new: Workspace, since: date | None,
               progress: Callable[[int, int], None] | None) -> tuple[SyncReport, DbReport, list[str]]:
    tree = open_dfos_tree(old_root)
    new_dirs = {key: new.path(key) for key in DIRECTORY_KEYS}
    transform = tree_transform(tree, new_dirs)
    files = sync(_tree_units(tree, new), new.root, new.root / MIGRATE_DIR / FILE_MANIFEST, since, transform, progress)
    db, refused = DbReport(), []
    engine = engine_for_url(new.db_url)
    for export in qc1_exports(old_root):
        rows, bad = read_qc1_export(export, new.settings.INSTRUMENT)
        refused += bad
        upsert_rows(engine, "qc1_params", rows, new.root / MIGRATE_DIR / DB_MANIFEST, db)
    return files, db, refused


def _write_reports(report: MigrateReport) -> None:
    folder = report.new / MIGRATE_DIR
    stamp = format_timestamp(system_now())
    report.report_file = folder / "last_report"
    write_text_atomic(report.report_file, f"# dfos migrate report, {stamp}\n" + report.render())
    unmapped = folder / "unmapped_paths"
    before = unmapped.read_text(encoding="utf-8").splitlines() if unmapped.is_file() else []
    lines = list(dict.fromkeys([*(x for x in before if not x.startswith("#")), *report.files.unmapped]))
    if lines:
        write_text_atomic(unmapped, "# paths in OLD's files that dfos migrate could not map to NEW (<file>: <path>)\n"
                          + "".join(f"{line}\n" for line in lines))


def migrate(old: Path, new: Path, everything: bool, since: date | None = None,
            progress: Callable[[int, int], None] | None = None, old_db_url: str | None = None,
            env: Mapping[str, str] | None = None) -> MigrateReport:
    """Copy OLD into NEW (``everything``: -A, else -I with ``since``); see the module.  NEW is opened with ``env``
    (its ``DFOS_DB_URL``, say); OLD with its dfos.toml only (``old_db_url``: its database when that names none)."""
    old, new = old.expanduser().resolve(), new.expanduser().resolve()
    if not everything and since is None:
        raise UsageError("-I needs --since DATE or --months N: the dated directories it copies")
    origin = check_direction(old, new)
    if not old.is_dir():
        raise WorkspaceError(f"OLD {old} is not a directory (any more)")
    new_ws = open_workspace(new, env=dict(env or {}))
    try:
        with exclusive_lock(new / MIGRATE_DIR / ".lock", wait=0):
            refused: list[str] = []
            if origin.kind == "dfos":
                files, db = _from_workspace(old, new_ws, None if everything else since, progress, old_db_url)
            else:
                files, db, refused = _from_tree(old, new_ws, None if everything else since, progress)
    except BlockingIOError:
        raise StateError(f"another 'dfos migrate' copies into {new} now; wait for it") from None
    report = MigrateReport(old, new, everything, files, db, refused)
    _write_reports(report)
    return report
