"""``dfos migrate setup OLD NEW``: a new workspace made from an old one (or from a DFOS installation tree).

NEW gets OLD's instrument, flavour and configuration: every key OLD's ``dfos.toml`` sets, with its directories
placed as OLD places them (a relative directory stays relative; an absolute one inside OLD becomes the same place
inside NEW; an absolute one outside OLD must be given with ``--dir KEY=PATH``, never shared silently), its rules
(``$DFO_CONFIG_DIR`` and the rule files ``OCA_RULES`` names inside OLD) and its own database (``DB_URL`` is never
OLD's unless asked with ``--share-db``).  The relation is written to ``NEW/.migrate/origin``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfos.clock import system_now
from dfos.config.load import render_toml
from dfos.config.settings import key_specs
from dfos.dates import format_timestamp
from dfos.errors import UsageError, WorkspaceError
from dfos.fsutil import write_text_atomic
from dfos.steps.migrate.dfos_tree import is_dfos_tree, open_dfos_tree
from dfos.steps.migrate.manifest import FILE_MANIFEST, MIGRATE_DIR, Origin, read_origin, write_origin
from dfos.steps.migrate.sync import Unit, sync
from dfos.workspace import CONFIG_FILE, DIRECTORY_KEYS, init_workspace, open_workspace

__all__ = ["SetupResult", "place_directory", "setup"]

#: ``NEW/.migrate/setting_up``: OLD's root while a setup runs (a killed setup of the same pair may start again).
_SETTING_UP = "setting_up"


@dataclass
class SetupResult:
    new_root: Path
    kind: str
    lines: list[str] = field(default_factory=list)
    """What was done and what to do next, one line each."""


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def place_directory(value: str, old_root: Path, new_root: Path) -> str | None:
    """Where NEW keeps a directory OLD configures as ``value``: relative stays; absolute inside OLD moves to the same
    place inside NEW; None: absolute outside OLD (the user must say where; pure)."""
    path = Path(value)
    if not path.is_absolute():
        return value
    if _inside(path, old_root):
        return str(new_root / path.relative_to(old_root))
    return None


def _file_values(toml: Path) -> dict[str, Any]:
    """The keys OLD's dfos.toml sets (tables flattened), as written."""
    data = tomllib.loads(toml.read_text(encoding="utf-8"))
    flat: dict[str, Any] = {}
    for name, value in data.items():
        flat.update(value if isinstance(value, dict) else {name: value})
    return flat


def _check_places(old: Path, new: Path) -> None:
    if old == new or _inside(new, old) or _inside(old, new):
        raise UsageError(f"NEW ({new}) and OLD ({old}) must be apart (neither inside the other)")
    origin = read_origin(new) if new.is_dir() else None
    marker = new / MIGRATE_DIR / _SETTING_UP
    if origin is None and marker.is_file() and marker.read_text(encoding="utf-8").strip() == str(old):
        return  # a setup of this pair was killed: it starts again
    if origin is None and (new / CONFIG_FILE).exists():
        raise WorkspaceError(f"{new} is already a dfos workspace not set up from {old}; choose a new directory")
    if origin is None and new.is_dir() and any(new.iterdir()):
        raise WorkspaceError(f"{new} is not empty; 'dfos migrate setup' makes a new workspace: choose a new directory")
    if origin is not None and origin.root != old:
        raise WorkspaceError(f"{new} was set up from {origin.root}, not from {old}")


def _directories(values: dict[str, Any], old: Path, new: Path, given: Mapping[str, str],
                 result: SetupResult) -> dict[str, str]:
    specs = key_specs()
    placed: dict[str, str] = {}
    outside: list[str] = []
    for key in DIRECTORY_KEYS:
        value = str(values.get(key, specs[key].default))
        if key in given:
            placed[key] = given[key]
            if Path(given[key]).resolve() == (old / value).resolve():
                result.lines.append(f"warning: {key} = {given[key]} is OLD's own directory: both workspaces "
                                    "write there")
            continue
        if key == "DFO_ARCHIVE_DIR":  # the archive (NGAS) is the one thing both installations share
            placed[key] = str(Path(value) if Path(value).is_absolute() else (old / value).resolve())
            result.lines.append(f"archive: NEW reads (and ingests into) OLD's archive {placed[key]}, as both would "
                                "use NGAS; --dir DFO_ARCHIVE_DIR=PATH for another")
            continue
        where = place_directory(value, old, new)
        if where is None:
            outside.append(f"{key} = {value}")
        elif where != str(specs[key].default) or key in values:
            placed[key] = where
    if outside:
        raise UsageError(f"OLD's {'; '.join(outside)} lies outside OLD: say where NEW keeps it with --dir KEY=PATH "
                         "(a directory of its own: sharing it would make steps done in one look done in the other)")
    return placed


def _rules(values: dict[str, Any], old: Path, new: Path, result: SetupResult) -> str | None:
    rules = str(values.get("OCA_RULES", ""))
    if not rules:
        return None
    parts = []
    for part in (p for p in rules.split(":") if p.strip()):
        path = Path(part)
        if path.is_absolute() and _inside(path, old):
            parts.append(str(new / path.relative_to(old)))
        else:
            if path.is_absolute():
                result.lines.append(f"rules: {part} is read where it is installed (outside OLD, not copied)")
            parts.append(part)
    return ":".join(parts)


def _database(values: dict[str, Any], db_url: str | None, share_db: bool, result: SetupResult) -> str | None:
    old_url = str(values.get("DB_URL", ""))
    if db_url and old_url and db_url == old_url and not share_db:
        raise UsageError("--db-url is OLD's database: test runs in NEW would overwrite OLD's QC1 values and "
                         "decisions; give NEW a database of its own, or --share-db if you mean it")
    if db_url:
        shared = " (SHARED with OLD)" if db_url == old_url else ""
        result.lines.append(f"database: NEW uses the --db-url given{shared}")
        return db_url
    if share_db and old_url:
        result.lines.append("database: NEW SHARES OLD's DB_URL (--share-db)")
        return old_url
    if old_url:
        result.lines.append("database: OLD uses a DB_URL; NEW gets its own SQLite file dfos.sqlite. For a server "
                            "database of its own set DB_URL in NEW/dfos.toml (or DFOS_DB_URL) before 'migrate -I'")
    else:
        result.lines.append("database: NEW has its own SQLite file dfos.sqlite; 'dfos migrate -I|-A' copies OLD's rows")
    return None


def _setup_dfos(old: Path, new: Path, given: Mapping[str, str], db_url: str | None, share_db: bool,
                result: SetupResult) -> str:
    values = _file_values(old / CONFIG_FILE)
    overrides: dict[str, Any] = {k: v for k, v in values.items() if k not in DIRECTORY_KEYS and k != "DB_URL"}
    overrides.update(_directories(values, old, new, given, result))
    rules = _rules(values, old, new, result)
    if rules is not None:
        overrides["OCA_RULES"] = rules
    url = _database(values, db_url, share_db, result)
    if url:
        overrides["DB_URL"] = url
    notes = {k: [f"from {old}/{CONFIG_FILE} (dfos migrate setup)"] for k in overrides}
    write_text_atomic(new / CONFIG_FILE, render_toml(overrides, notes))
    new_ws, _ = init_workspace(new, env={})
    old_ws = open_workspace(old, env={})
    units = [Unit("DFO_CONFIG_DIR", old_ws.path("DFO_CONFIG_DIR"), new_ws.path("DFO_CONFIG_DIR")),
             *(Unit(k, old_ws.path(k), new_ws.path(k)) for k in DIRECTORY_KEYS if k != "DFO_CONFIG_DIR"),
             Unit("ROOT", old, new)]
    # the rules now: the configuration directory and files at OLD's root (rule files); the data with -I/-A
    report = sync([units[0], units[-1]], new, new / MIGRATE_DIR / FILE_MANIFEST, None, None,
                  skip_dirs={old / MIGRATE_DIR, *(u.source for u in units[1:-1])})
    result.lines.append(f"rules and configuration: {len(report.copied)} files copied from OLD")
    return str(values.get("INSTRUMENT", key_specs()["INSTRUMENT"].default))


def setup(old: Path, new: Path, instrument: str | None = None, given: Mapping[str, str] | None = None,
          db_url: str | None = None, share_db: bool = False) -> SetupResult:
    """Make NEW from OLD (a dfos workspace or a DFOS tree); see the module.  Run again on the same pair it only
    checks."""
    old, new = old.expanduser().resolve(), new.expanduser().resolve()
    if not old.is_dir():
        raise UsageError(f"OLD {old} is not a directory")
    _check_places(old, new)
    done = read_origin(new) if new.is_dir() else None
    if done is not None:
        return SetupResult(new, done.kind, [f"{new} was set up from {old} already ({done.set_up}); "
                                            f"sync with 'dfos migrate -I {old} {new}'"])
    unknown = sorted(set(given or {}) - set(DIRECTORY_KEYS))
    if unknown:
        raise UsageError(f"--dir {unknown[0]}=...: not a directory key (one of {', '.join(DIRECTORY_KEYS)})")
    write_text_atomic(new / MIGRATE_DIR / _SETTING_UP, f"{old}\n")
    if (old / CONFIG_FILE).is_file():
        result = SetupResult(new, "dfos")
        name = _setup_dfos(old, new, given or {}, db_url, share_db, result)
        directories: tuple[tuple[str, str], ...] = ()
    elif is_dfos_tree(old):
        tree = open_dfos_tree(old)
        name = instrument or tree.instrument
        if not name:
            raise UsageError(f"{old} is a DFOS tree whose .dfosrc names no DFO_INSTRUMENT: give --instrument NAME")
        result = SetupResult(new, "DFOS")
        init_workspace(new, env={}, instrument=name)
        directories = tuple((k, str(p)) for k, p in sorted(tree.local.items()))
        result.lines.append(f"DFOS tree: {len(tree.local)} directories found "
                            f"({', '.join(sorted(tree.local))}); its files are imported by 'dfos migrate -I|-A'")
        if db_url:
            result.lines.append("database: --db-url is ignored for a DFOS tree; set DB_URL in NEW/dfos.toml")
    else:
        raise UsageError(f"{old} is neither a dfos workspace (no {CONFIG_FILE}) nor a DFOS tree (no .dfosrc, "
                         "monitor/DFO_STATUS or AB/*.ab)")
    if instrument and result.kind == "dfos" and instrument.upper() != name.upper():
        result.lines.append(f"warning: OLD's instrument is {name}; --instrument {instrument} is ignored")
    write_origin(new, Origin(old, result.kind, format_timestamp(system_now()), name.upper(), directories))
    (new / MIGRATE_DIR / _SETTING_UP).unlink(missing_ok=True)
    result.lines.append(f"recorded in {new / MIGRATE_DIR / 'origin'}; next: dfos migrate -I {old} {new}")
    return result
