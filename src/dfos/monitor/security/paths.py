"""The paths the monitor reads for its file view: an allow-list of workspace files, nothing else.

A requested path is relative to the workspace root.  It is shown only when it resolves (links
followed) to a regular file inside one of the directories below and its name fits that directory's
rule; every component must be a safe name (:func:`dfos.naming.safe_name`: no dot-files, no ``..``):

=================  ==============================================================================
directory          files
=================  ==============================================================================
``DFO_LOG_DIR``    logs, AB files, SOFs, ``.alog``, ``.qclog``, text, plots (``.png``, ``.svg``); the products
                   move kept of rejected ABs and finish of leftovers (``<DATE>/rejected``, ``<DATE>/leftover``;
                   FITS: only its size)
``DFO_AB_DIR``     the same, while processing
``DFO_PLT_DIR``    plots and text
``DFO_HDR_DIR``    headers (``.hdr``)
``DFO_MON_DIR``    ``DFO_STATUS``, ``AB_list_*``, ``DFO_POSTIT``, ``LAST_AB``, ``list_hdr_*``, action logs,
                   ``CAL_CHECKER``, ``AUTO_DAILY/auto_daily_*.log``, ``AUTO_DAILY/state``, ``CRON_LOGS/*.log``
``DFO_JOB_DIR``    execAB/execQC and job files
``DFO_LST_DIR``    reports and lists (``.txt``, ``.log``, ``.lis``)
``DFS_PRODUCT``    products (FITS: only its size), plots, text
``DFO_CAL_DIR``    calibrations (FITS: only its size), their headers (``.hdr``, after cleanup and MCAL)
``DFO_SCI_DIR``    certified science products (FITS: only its size), their headers
=================  ==============================================================================

Never shown, whatever the configuration: ``dfos.toml``, the database file, ``.monitor_secret``,
the session table, the audit log, the password file, the accounts file (``MONITOR_USERS``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from dfos.errors import UnsafeName
from dfos.monitor.security.accounts import accounts_path
from dfos.monitor.security.audit import AUDIT_LOG
from dfos.monitor.security.sessions import SECRET_FILE, SESSIONS_FILE
from dfos.naming import safe_name
from dfos.workspace import CONFIG_FILE, Workspace

__all__ = ["FITS", "IMAGES", "OutsideWorkspace", "inside", "shown_file"]

IMAGES = {".png": "image/png", ".svg": "image/svg+xml"}
FITS = (".fits", ".fz", ".fits.fz")
_TEXT = (".log", ".ab", ".sof", ".alog", ".qclog", ".txt", ".lis", ".hdr")
_MON_NAMES = re.compile(r"^(DFO_STATUS|DFO_POSTIT|LAST_AB|AB_list_[\w.+-]+|list_hdr_[\w-]+|last_run)$")


class OutsideWorkspace(ValueError):
    """A path the file view does not show (outside the allow-list, malformed, or missing)."""


def _suffix(*suffixes: str) -> Callable[[tuple[str, ...]], bool]:
    return lambda parts: parts[-1].lower().endswith(suffixes)


def _rules(ws: Workspace) -> list[tuple[Path, Callable[[tuple[str, ...]], bool]]]:
    logs = _suffix(*_TEXT, *IMAGES)
    return [
        (ws.log_dir, logs),
        (ws.log_dir, lambda p: len(p) == 3 and p[1] in ("rejected", "leftover") and p[2].lower().endswith(FITS)),
        (ws.ab_dir, logs),
        (ws.path("DFO_PLT_DIR"), _suffix(*IMAGES, ".txt", ".log")),
        (ws.hdr_dir, _suffix(".hdr")),
        (ws.mon_dir, lambda p: (len(p) == 1 and bool(_MON_NAMES.match(p[0])))
         or (len(p) == 2 and p[0] == "monitor_jobs" and p[1].endswith(".log"))
         or (len(p) == 2 and p[0] == "AUTO_DAILY" and p[1] == "last_run")),
        (ws.job_dir, lambda p: len(p) <= 2),
        (ws.lst_dir, _suffix(".txt", ".log", ".lis")),
        (ws.path("DFS_PRODUCT"), _suffix(*FITS, *IMAGES, ".txt", ".log")),
        (ws.cal_dir, _suffix(*FITS, ".hdr")),
        (ws.path("DFO_SCI_DIR"), _suffix(*FITS, ".hdr")),
        (ws.mon_dir, _panel_files),
    ]


def _panel_files(parts: tuple[str, ...]) -> bool:
    """The dfoMonitor panels' files in ``DFO_MON_DIR``: ``CAL_CHECKER``, autoDaily's logs and live state
    (``AUTO_DAILY/auto_daily_*.log``, ``AUTO_DAILY/state``), the cron jobs' logs (``CRON_LOGS/*.log``)."""
    if len(parts) == 1:
        return parts[0] == "CAL_CHECKER"
    if len(parts) == 2 and parts[0] == "AUTO_DAILY":
        return parts[1] == "state" or (parts[1].startswith("auto_daily_") and parts[1].endswith(".log"))
    return len(parts) == 2 and parts[0] == "CRON_LOGS" and parts[1].endswith(".log")


def _never(ws: Workspace) -> set[Path]:
    """The secrets: refused even where a rule would allow them."""
    root = ws.root.resolve()
    found = {root / CONFIG_FILE, root / SECRET_FILE, root / SESSIONS_FILE, root / "dfos.sqlite",
             (ws.mon_dir / AUDIT_LOG).resolve()}
    if ws.db_url.startswith("sqlite:///"):
        found.add(Path(ws.db_url.removeprefix("sqlite:///")).resolve())
    found.add(accounts_path(ws).resolve())
    if ws.settings.MONITOR_PASSWORD_FILE:
        found.add((ws.root / Path(ws.settings.MONITOR_PASSWORD_FILE).expanduser()).resolve())
    return found


def shown_file(ws: Workspace, requested: str) -> Path:
    """The real file the file view may show for ``requested``; raises :class:`OutsideWorkspace`."""
    target = inside(ws.root, requested)
    if target in _never(ws) or target.name.startswith(CONFIG_FILE) or ".sqlite" in target.name:
        raise OutsideWorkspace("this file is not shown")
    for directory, allowed in _rules(ws):
        base = directory.resolve()
        if not target.is_relative_to(base) or target == base:
            continue
        parts = target.relative_to(base).parts
        try:
            for part in parts:
                safe_name(part, "a path component")
        except UnsafeName:
            continue
        if allowed(parts):
            return target
    raise OutsideWorkspace("this file is not shown (the file view shows logs, AB files, SOFs, plots, headers "
                           "and status files)")


def inside(root: Path, requested: str) -> Path:
    """The real file a relative path names inside ``root``; raises :class:`OutsideWorkspace`."""
    if not requested or len(requested) > 4096 or "\x00" in requested or "\\" in requested:
        raise OutsideWorkspace("no such file")
    relative = PurePosixPath(requested)
    if relative.is_absolute() or any(part in ("..", "") for part in relative.parts) or requested.startswith("~"):
        raise OutsideWorkspace("only paths inside the workspace, relative to it, without '..'")
    base = root.resolve()
    try:
        target = (base / relative).resolve()
        if not target.is_relative_to(base):
            raise OutsideWorkspace("the path leads out of the workspace")
        if not target.is_file():
            raise OutsideWorkspace("no such file")
    except OSError:  # a name too long, a loop of links
        raise OutsideWorkspace("no such file") from None
    return target

