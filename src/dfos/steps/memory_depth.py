"""The calibration memory as the dfoMonitor's CAL row shows it, its depth (``N_MCAL_LIST``,
``N_VCAL_LIST``) edited in the workspace's ``dfos.toml``, and refreshVCAL.

* :func:`memory_summary`: the MCAL and VCAL date folders createAB of TODAY associates from (the newest
  ``N_MCAL_LIST`` / ``N_VCAL_LIST`` up to TODAY), each with its number of headers, and the older ones;
* :func:`set_memory_depth`: writes the new values into ``dfos.toml`` (only their lines change; a
  commented-out default line becomes the value), checked (whole numbers in ``1..MAX_DEPTH``, the file
  still parses), under a lock, atomically;
* :func:`refresh_vcal` (``dfos refresh-vcal``): the VCAL memory checked against the ABs that make it.  A
  virtual product whose AB no longer exists (neither in ``$DFO_AB_DIR`` nor in its date's AB list), whose
  AB a person or scoring rejected, that says not where its product will be (no ``DFOS.FILE``), or whose
  header cannot be read, is offered to no AB any more: its header is removed (it is made again by
  ``dfos create-ab`` of its date, never lost).  Dates whose CALIB ABs exist but which have no VCAL folder
  are named (``dfos create-ab -m CALIB -d DATE`` writes them).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dfos import clock
from dfos.dates import dfo_date
from dfos.errors import DfosError, FormatError, UsageError
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.keys import Mode
from dfos.workspace import CONFIG_FILE, Workspace

__all__ = ["DEPTH_KEYS", "MAX_DEPTH", "MemoryRow", "RefreshResult", "memory_summary", "refresh_vcal",
           "set_memory_depth"]

#: The keys the CAL row edits.
DEPTH_KEYS = ("N_MCAL_LIST", "N_VCAL_LIST")
#: The deepest memory the CAL row accepts (dates).
MAX_DEPTH = 365


@dataclass(frozen=True)
class MemoryRow:
    kind: str
    """``MCAL`` or ``VCAL``."""
    depth: int
    """``N_MCAL_LIST`` or ``N_VCAL_LIST``."""
    source: str
    """Where the value comes from (``file``, ``environment`` ...)."""
    used: tuple[tuple[str, int], ...]
    """(date, headers) of the folders createAB of TODAY reads, newest first."""
    older: int
    """Date folders beyond the depth."""


def _folders(base: Path) -> list[str]:
    return sorted(p.name for p in base.iterdir() if p.is_dir() and len(p.name) == 10) if base.is_dir() else []


def memory_summary(workspace: Workspace, today: date | None = None) -> list[MemoryRow]:
    s = workspace.settings
    day = (today or dfo_date(clock.now(s), s.DFO_OFFSET)).isoformat()
    rows = []
    for kind, key in (("MCAL", "N_MCAL_LIST"), ("VCAL", "N_VCAL_LIST")):
        depth = int(getattr(s, key))
        base = workspace.cal_dir / kind
        dates = [d for d in _folders(base) if d <= day]
        used = [(d, sum(1 for _ in (base / d).glob("*.hdr"))) for d in reversed(dates[-depth:])]
        origin = workspace.config.origins.get(key)
        rows.append(MemoryRow(kind, depth, origin.source.value if origin else "default", tuple(used),
                              max(len(dates) - depth, 0)))
    return rows


def _depth(key: str, raw: object) -> int:
    text = str(raw).strip()
    if key not in DEPTH_KEYS:
        raise UsageError(f"{key[:40]!r} is not a calibration-memory depth ({', '.join(DEPTH_KEYS)})")
    if not re.fullmatch(r"\d{1,6}", text):
        raise UsageError(f"{key} must be a whole number of dates, not {text[:40]!r}")
    value = int(text)
    if not 1 <= value <= MAX_DEPTH:
        raise UsageError(f"{key} must be between 1 and {MAX_DEPTH}, not {value}")
    return value


def _with_value(text: str, key: str, value: int) -> str:
    """``text`` (a dfos.toml) with ``key = value``: its active line replaced, else its commented-out line,
    else a new line under ``[association]`` (at the top when there is no such table)."""
    line = f"{key} = {value}"
    for pattern in (rf"^[ \t]*{key}[ \t]*=[^\n]*$", rf"^[ \t]*#[ \t]*{key}[ \t]*=[^\n]*$"):
        found = re.search(pattern, text, re.M)
        if found:
            return text[:found.start()] + line + text[found.end():]
    table = re.search(r"^\[association\][^\n]*$", text, re.M)
    if table:
        return text[:table.end()] + "\n" + line + text[table.end():]
    return line + "\n" + text


def set_memory_depth(workspace: Workspace, values: Mapping[str, object]) -> dict[str, int]:
    """Write ``N_MCAL_LIST`` / ``N_VCAL_LIST`` into the workspace's dfos.toml; returns the values written.
    :class:`UsageError` for a bad value (nothing written)."""
    checked = {key: _depth(key, raw) for key, raw in values.items()}
    path = workspace.root / CONFIG_FILE
    with exclusive_lock(workspace.root / f".{CONFIG_FILE}.lock"):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FormatError(f"cannot read {path}: {exc}") from None
        for key, value in checked.items():
            text = _with_value(text, key, value)
        try:
            parsed = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise FormatError(f"{path}: the edited file would not parse ({exc}); nothing written") from None
        flat = {k: v for table in parsed.values() if isinstance(table, dict) for k, v in table.items()}
        flat.update({k: v for k, v in parsed.items() if not isinstance(v, dict)})
        if any(flat.get(key) != value for key, value in checked.items()):
            raise FormatError(f"{path}: the edit did not take (a key set twice?); nothing written")
        write_text_atomic(path, text)
    return checked


@dataclass
class RefreshResult:
    kept: int = 0
    removed: list[tuple[str, str]] = field(default_factory=list)
    """(``<DATE>/<name>.hdr``, why)."""
    missing_dates: list[str] = field(default_factory=list)
    """Dates with CALIB ABs but no VCAL folder."""


def _rejected(workspace: Workspace, names: set[str]) -> set[str]:
    from dfos.db import engine_for_url
    from dfos.steps.certify import REJECT
    from dfos.steps.score import latest_decisions

    if not names:
        return set()
    with engine_for_url(workspace.db_url).begin() as db:
        return {ab for ab, (decision, _) in latest_decisions(db, names).items() if decision == REJECT}


def _listed(workspace: Workspace, day: str) -> set[str]:
    path = workspace.ab_list(Mode.CALIB, day)
    if not path.is_file():
        return set()
    return {line.split()[0] for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.strip() and not line.lstrip().startswith("#")}


def _why(header: Mapping[str, object] | None, known: bool, rejected: bool) -> str | None:
    if header is None:
        return "unreadable header"
    if not header.get("DFOS.FILE"):
        return "no DFOS.FILE (where the product will be)"
    if not known:
        return f"its AB {header.get('DFOS.AB') or '?'} no longer exists"
    return "its AB was rejected" if rejected else None


def refresh_vcal(workspace: Workspace) -> RefreshResult:
    """Check the VCAL memory against its ABs (see the module docstring); remove what no AB makes."""
    from dfos.headers.io import read_header

    result = RefreshResult()
    entries: list[tuple[str, Path, dict[str, object] | None]] = []
    for day in _folders(workspace.vcal_dir):
        for path in sorted((workspace.vcal_dir / day).glob("*.hdr")):
            if not path.is_file():
                continue
            try:
                header: dict[str, object] | None = dict(read_header(path).cards)
            except (DfosError, OSError, ValueError):
                header = None
            entries.append((day, path, header))
    producers = {str(h.get("DFOS.AB")) for _, _, h in entries if h and h.get("DFOS.AB")}
    rejected = _rejected(workspace, producers)
    listed = {day: _listed(workspace, day) for day in {d for d, _, _ in entries}}
    for day, path, header in entries:
        ab = str(header.get("DFOS.AB") or "") if header else ""
        known = bool(ab) and ((workspace.ab_dir / ab).is_file() or ab in listed[day])
        why = _why(header, known, ab in rejected)
        if why is None:
            result.kept += 1
            continue
        path.unlink(missing_ok=True)
        result.removed.append((f"{day}/{path.name}", why))
    vcal_dates = set(_folders(workspace.vcal_dir))
    for ab_list in sorted(workspace.mon_dir.glob(f"AB_list_{Mode.CALIB.value}_*")):
        day = ab_list.name.rsplit("_", 1)[-1]
        if len(day) == 10 and day not in vcal_dates and _listed(workspace, day):
            result.missing_dates.append(day)
    return result
