"""Replacing a processing release: hide what it supersedes in the archive catalog, undo that, and the
raw2raw window createAB honours meanwhile (``dfos release``; docs/releases.md).

State lives in the workspace database (``archive_catalog.hidden_by``/``hidden_at``, ``release_windows``); every
change is also appended to ``$DFO_MON_DIR/RELEASE_LOG`` (:class:`dfos.archive.releases.ReleaseEvent` lines),
under the log's lock, which also serialises the changes: one release change at a time.  The lines are written
inside the database transaction, before it commits: a log that cannot be written leaves the database as it
was.  The rules are pure (:mod:`dfos.archive.releases`); this module reads and writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Connection, insert, select, update

from dfos import clock
from dfos.archive.releases import (
    NO_RELEASE,
    Action,
    MemoryPolicy,
    ReleaseEvent,
    Window,
    is_static,
    parse_log,
    release_id,
    releases,
)
from dfos.dates import format_timestamp
from dfos.db import archive_catalog, engine_for_url, release_windows
from dfos.errors import NotFound, StateError, UsageError
from dfos.fsutil import exclusive_lock, fsync_dir, read_utf8
from dfos.keys import Mode
from dfos.workspace import Workspace

__all__ = ["KINDS", "Entry", "HideResult", "UndoResult", "WindowRecord", "catalog_entries", "hidden_by",
           "hidden_counts", "hidden_names", "hide", "lift_window",
           "memory_policy", "open_window", "read_events", "release_log", "static_sets", "undo", "window",
           "windows"]

#: ``--kind``: which catalog entries a hide takes.
KINDS = ("CALIB", "SCIENCE", "ALL")
LOG_NAME = "RELEASE_LOG"
#: Names per UPDATE (SQLite allows 999 parameters in older builds).
_CHUNK = 500


@dataclass(frozen=True)
class Entry:
    """A catalog entry and its state."""

    name: str
    date: str
    mode: str
    pro_catg: str
    hidden_by: str | None = None
    static: bool = False

    @property
    def state(self) -> str:
        """``static`` | ``visible`` | ``hidden by <release>``."""
        if self.hidden_by:
            return f"hidden by {self.hidden_by}"
        return "static" if self.static else "visible"


@dataclass(frozen=True)
class HideResult:
    release: str
    hidden: tuple[Entry, ...]
    """Hidden by this call (or, dry run: that it would hide)."""
    already: tuple[Entry, ...]
    """Of the range, hidden before (by this release or another): left as they are."""
    static: tuple[Entry, ...]
    """Static calibrations of the range: never hidden."""
    dry_run: bool = False


@dataclass(frozen=True)
class UndoResult:
    release: str
    shown: tuple[Entry, ...]
    lifted: Window | None = None


def release_log(workspace: Workspace) -> Path:
    """``$DFO_MON_DIR/RELEASE_LOG``: one :class:`ReleaseEvent` line per change, appended, never rewritten."""
    return workspace.mon_dir / LOG_NAME


def read_events(workspace: Workspace) -> list[ReleaseEvent]:
    log = release_log(workspace)
    return parse_log(read_utf8(log), str(log)) if log.is_file() else []


@contextmanager
def _locked(workspace: Workspace) -> Iterator[None]:
    log = release_log(workspace)
    with exclusive_lock(log.with_name(f".{LOG_NAME}.lock")):
        yield


def _append(workspace: Workspace, events: list[ReleaseEvent]) -> None:
    """Append events to the log (the caller holds its lock and the transaction of the change), flushed to disk."""
    if not events:
        return
    log = release_log(workspace)
    new = not log.exists()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write("".join(event.render() + "\n" for event in events))
        handle.flush()
        os.fsync(handle.fileno())
    if new:
        fsync_dir(log.parent)


def static_sets(workspace: Workspace) -> tuple[frozenset[str], frozenset[str]]:
    """The static calibrations' file names (``$DFO_CAL_DIR/GEN``) and the PRO.CATGs the instrument makes
    static calibrations of: what a hide never touches."""
    from dfos.steps.static_calib import gen_dir

    folder = gen_dir(workspace)
    names = frozenset(p.with_suffix(".fits").name for p in folder.iterdir()
                      if p.suffix in (".fits", ".hdr")) if folder.is_dir() else frozenset()
    return names, frozenset(s.pro_catg for s in workspace.instrument.static_calibrations())


def _entries(db: Connection, workspace: Workspace, first: date, last: date, kind: str) -> list[Entry]:
    c = archive_catalog.c
    query = select(c.name, c.date, c.mode, c.pro_catg, c.hidden_by).where(
        c.date >= first.isoformat(), c.date <= last.isoformat()).order_by(c.date, c.name)
    if kind != "ALL":
        query = query.where(c.mode == Mode.parse(kind).value)
    names, catgs = static_sets(workspace)
    return [Entry(r.name, r.date, r.mode, r.pro_catg, r.hidden_by, is_static(r.name, r.pro_catg, names, catgs))
            for r in db.execute(query)]


def catalog_entries(workspace: Workspace, first: date, last: date, kind: str = "ALL") -> list[Entry]:
    """The catalog entries of the DFO dates ``first`` .. ``last`` with their state (hidden ones included)."""
    with engine_for_url(workspace.db_url).begin() as db:
        return _entries(db, workspace, first, last, _kind(kind))


def _kind(kind: str) -> str:
    if kind.upper() not in KINDS:
        raise UsageError(f"--kind {kind[:40]!r} is none of {', '.join(KINDS)}")
    return kind.upper()


def hide(workspace: Workspace, release: str, first: date, last: date, kind: str = "CALIB",
         dry_run: bool = False) -> HideResult:
    """Hide the catalog entries of the DFO dates ``first`` .. ``last`` (of ``kind``) for ``release``: never
    static calibrations, never an entry hidden already (a repeated hide changes nothing)."""
    release, kind = release_id(release), _kind(kind)
    Window(first, last)  # the dates in order
    with _locked(workspace), engine_for_url(workspace.db_url).begin() as db:
        found = _entries(db, workspace, first, last, kind)
        static = tuple(e for e in found if e.static and not e.hidden_by)
        already = tuple(e for e in found if e.hidden_by)
        todo = tuple(e for e in found if not e.static and not e.hidden_by)
        if dry_run or not todo:
            return HideResult(release, todo, already, static, dry_run)
        now = clock.now(workspace.settings)
        c = archive_catalog.c
        names = [e.name for e in todo]
        for start in range(0, len(names), _CHUNK):  # a year of masters: more names than SQL parameters
            db.execute(update(archive_catalog)
                       .where(c.name.in_(names[start:start + _CHUNK]), c.hidden_by.is_(None))
                       .values(hidden_by=release, hidden_at=format_timestamp(now)))
        _append(workspace, [ReleaseEvent(now, Action.HIDE, release, e.name, (e.date, e.mode)) for e in todo])
    return HideResult(release, tuple(Entry(e.name, e.date, e.mode, e.pro_catg, release) for e in todo), already,
                      static)


def undo(workspace: Workspace, release: str) -> UndoResult:
    """Show again every entry ``release`` hides, and lift its raw2raw window if one is open.  NotFound for a
    release neither the log nor the database knows; nothing left to undo changes nothing."""
    release = release_id(release)
    with _locked(workspace), engine_for_url(workspace.db_url).begin() as db:
        c = archive_catalog.c
        rows = db.execute(select(c.name, c.date, c.mode, c.pro_catg).where(c.hidden_by == release)
                          .order_by(c.date, c.name)).all()
        current = _open_window(db)
        lifted = current if current is not None and current.release == release else None
        if not rows and lifted is None and release not in releases(read_events(workspace)):
            raise NotFound(f"no release {release} in {release_log(workspace)}: "
                           "'dfos release status' lists the releases")
        now = clock.now(workspace.settings)
        db.execute(update(archive_catalog).where(c.hidden_by == release).values(hidden_by=None, hidden_at=None))
        if lifted is not None:
            _lift(db, now)
        events = [ReleaseEvent(now, Action.SHOW, release, r.name, (r.date, r.mode)) for r in rows]
        if lifted is not None:
            events.append(ReleaseEvent(now, Action.RAW2MASTER, release, lifted.render(), ("undo",)))
        _append(workspace, events)
    return UndoResult(release, tuple(Entry(r.name, r.date, r.mode, r.pro_catg) for r in rows), lifted)


def _open_window(db: Connection) -> Window | None:
    w = release_windows.c
    row = db.execute(select(w.release, w.first, w.last).where(w.lifted.is_(None)).order_by(w.id.desc())).first()
    return Window(date.fromisoformat(row.first), date.fromisoformat(row.last), row.release) if row else None


def _lift(db: Connection, now: datetime) -> None:
    db.execute(update(release_windows).where(release_windows.c.lifted.is_(None))
               .values(lifted=format_timestamp(now)))


def window(workspace: Workspace) -> Window | None:
    """The open raw2raw window (None: raw2master)."""
    with engine_for_url(workspace.db_url).begin() as db:
        return _open_window(db)


def open_window(workspace: Workspace, first: date, last: date, release: str | None = None) -> Window:
    """Open the raw2raw window ``first`` .. ``last``; StateError while another one is open."""
    wanted = Window(first, last, release_id(release) if release else NO_RELEASE)
    with _locked(workspace), engine_for_url(workspace.db_url).begin() as db:
        current = _open_window(db)
        if current is not None:
            raise StateError(f"a raw2raw window is already set ({current.render()}, release "
                             f"{current.release}): lift it first with 'dfos release raw2raw --lift'")
        now = clock.now(workspace.settings)
        db.execute(insert(release_windows).values(release=wanted.release, first=first.isoformat(),
                                                  last=last.isoformat(), opened=format_timestamp(now)))
        _append(workspace, [ReleaseEvent(now, Action.RAW2RAW, wanted.release, wanted.render())])
    return wanted


def lift_window(workspace: Workspace) -> Window:
    """Lift the open raw2raw window (raw2master again); StateError when none is open."""
    with _locked(workspace), engine_for_url(workspace.db_url).begin() as db:
        current = _open_window(db)
        if current is None:
            raise StateError("no raw2raw window is set: nothing to lift ('dfos release status' shows them)")
        now = clock.now(workspace.settings)
        _lift(db, now)
        _append(workspace, [ReleaseEvent(now, Action.RAW2MASTER, current.release, current.render())])
    return current


def _hidden(db: Connection, mode: Mode) -> dict[str, str]:
    c = archive_catalog.c
    rows = db.execute(select(c.name, c.hidden_by).where(c.hidden_by.is_not(None), c.mode == mode.value)).all()
    return {r.name: r.hidden_by for r in rows}


def hidden_by(workspace: Workspace, name: str) -> str | None:
    """The release that hides the catalog entry ``name`` (None: visible, or not in the catalog)."""
    c = archive_catalog.c
    with engine_for_url(workspace.db_url).begin() as db:
        found = db.execute(select(c.hidden_by).where(c.name == name)).scalar()
    return str(found) if found else None


def hidden_names(workspace: Workspace, mode: Mode = Mode.CALIB) -> dict[str, str]:
    """The hidden catalog entries of ``mode``: file name -> the release that hides it."""
    with engine_for_url(workspace.db_url).begin() as db:
        return _hidden(db, mode)


def memory_policy(workspace: Workspace) -> MemoryPolicy:
    """What createAB may not take from its MCAL memory now (the open window, the hidden masters): one read."""
    with engine_for_url(workspace.db_url).begin() as db:
        return MemoryPolicy(_open_window(db), _hidden(db, Mode.CALIB))


@dataclass(frozen=True)
class WindowRecord:
    window: Window
    opened: str
    lifted: str | None


def windows(workspace: Workspace) -> list[WindowRecord]:
    """Every raw2raw window, oldest first (the open one has ``lifted`` None)."""
    w = release_windows.c
    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(w.release, w.first, w.last, w.opened, w.lifted).order_by(w.id)).all()
    return [WindowRecord(Window(date.fromisoformat(r.first), date.fromisoformat(r.last), r.release), r.opened,
                         r.lifted) for r in rows]


def hidden_counts(workspace: Workspace) -> dict[str, int]:
    """Release -> how many catalog entries it hides now (releases of the log that hide nothing: 0)."""
    from sqlalchemy import func

    c = archive_catalog.c
    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(c.hidden_by, func.count()).where(c.hidden_by.is_not(None))
                          .group_by(c.hidden_by)).all()
    counts = dict.fromkeys(sorted(releases(read_events(workspace))), 0)
    counts.update({str(r[0]): int(r[1]) for r in rows})
    return counts
