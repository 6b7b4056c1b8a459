"""The dfoMonitor's DFOS panels beyond the date table (docs/monitor.md, ``## Panels``): the CAL row
(calibration memory, its depth edited, refreshVCAL), calChecker, the live autoDaily state, the log
links, the cron checks (HC jobs, calChecker, forced refresh, whose workspace), the transfer panel
(CALIB and any-DPR.CATG delays, the archive queries) and the XDM refresh; the per-date status and CAL
pages.

Each panel is a template ``panel_<name>.html`` the dfoMonitor includes; :func:`context` gathers what
they show.  The actions are POSTs under ``/panel/`` wrapped by :func:`~dfos.monitor.security.access.changing`
(login, CSRF), each validated and audited; the archive and VCAL actions run as monitor jobs (argument
lists, never shell strings).
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from dfos import clock
from dfos.config import LoadedConfig, Origin, Source
from dfos.dates import dfo_date, parse_date
from dfos.errors import DfosError
from dfos.keys import Mode
from dfos.monitor.background import Cached
from dfos.monitor.security.access import changing, readable
from dfos.monitor.security.audit import audit
from dfos.monitor.web import MonitorState, Refused, client_of, page, state_of, user_of
from dfos.steps.auto_state import read_state
from dfos.steps.cal_checker import age_seconds, read_cal_checker
from dfos.steps.memory_depth import DEPTH_KEYS, MAX_DEPTH, memory_summary, set_memory_depth
from dfos.workspace import CONFIG_FILE, Workspace

__all__ = ["classify_cron", "context", "date_cal_entries", "date_status_lines", "routes", "transfer_facts"]

#: How long the XDM refresh waits for the new scan before answering (it goes on in the background).
XDM_WAIT = 30.0


# --- facts -------------------------------------------------------------------------------------------------

def _rel(ws: Workspace, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ws.root.resolve()))
    except ValueError:
        return ""


def _newest(folder: Path, pattern: str) -> str:
    try:
        found = sorted(folder.glob(pattern), key=lambda p: p.name)
    except OSError:
        return ""
    return found[-1].name if found else ""


def log_links(ws: Workspace) -> dict[str, Any]:
    """The AUTO_DAILY log, the newest CRON_LOGS log and DFO_STATUS (paths for ``/file?path=``; '' for none)."""
    auto, cron = ws.mon_dir / "AUTO_DAILY", ws.mon_dir / "CRON_LOGS"
    auto_log, cron_log = _newest(auto, "auto_daily_*.log"), _newest(cron, "*.log")
    status = ws.mon_dir / "DFO_STATUS"
    return {"auto_daily": _rel(ws, auto / auto_log) if auto_log else "",
            "cron": _rel(ws, cron / cron_log) if cron_log else "",
            "cron_count": sum(1 for _ in cron.glob("*.log")) if cron.is_dir() else 0,
            "dfo_status": _rel(ws, status) if status.is_file() else ""}


def _root_of(line: str) -> str | None:
    """The ``--root`` a crontab line names (None: none)."""
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    for index, word in enumerate(words):
        if word == "--root" and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--root="):
            return word.removeprefix("--root=")
    return None


def _cadence(line: str) -> str:
    return " ".join(line.split()[:5])


def _same_root(named: str, root: Path) -> bool:
    try:
        return Path(named).expanduser().resolve() == root.resolve()
    except (OSError, RuntimeError):
        return False


def classify_crontab_lines(lines: list[str], root: Path) -> dict[str, Any]:
    """The cron checks of the seed's checkboxes on the crontab's active ``lines``: the HC (trend) job, the
    calChecker every half hour, the per-minute forced refresh, and whose workspace each dfos line runs on."""
    dfos = [line for line in lines if re.search(r"\bdfos\b", line)]
    owners = []
    for line in dfos:
        named = _root_of(line)
        whose = "this" if named and _same_root(named, root) else "other" if named else "unknown"
        owners.append({"line": line, "root": named or "", "whose": whose})
    mine = [o["line"] for o in owners if o["whose"] == "this"]
    hc = next((x for x in mine if re.search(r"\b(health|trend)\b", x)), None)
    cal = next((x for x in mine if re.search(r"\bcal-?checker\b", x, re.I)), None)
    forced = next((x for x in mine if "--if-requested" in x), None)
    export = next((x for x in mine if re.search(r"-t export\b|\bmonitor export\b", x)), None)
    half_hour = bool(cal) and _cadence(cal or "").split(" ")[0] in ("*/30", "0,30", "30,0", "15,45", "*/15", "*/10",
                                                                    "*/5", "*")
    return {"hc": hc, "calchecker": cal, "calchecker_ok": half_hour, "forced": forced,
            "forced_ok": bool(forced) and _cadence(forced or "") == "* * * * *", "export": export,
            "owners": owners, "others": [o for o in owners if o["whose"] != "this"]}


def classify_cron(cron: Any, root: Path) -> dict[str, Any] | None:
    """The cron panel from the monitor's cached crontab fact (None while it is checked)."""
    if not isinstance(cron, dict) or "available" not in cron:
        return cron if isinstance(cron, dict) else None
    if not cron["available"]:
        return {"available": False}
    return {"available": True, **classify_crontab_lines(list(cron.get("lines", [])), root)}


def transfer_facts(ws: Workspace) -> dict[str, Any]:
    """The transfer panel's delay lines (computed in the background: it asks the archive)."""
    from dfos.steps.transfer import longest_delays

    found = longest_delays(ws)
    return {k: (v.__dict__ if hasattr(v, "__dict__") else v) for k, v in found.items()}


def _transfer_cache(state: MonitorState) -> Cached:
    cache = state.facts.extra.get("transfer")
    if not isinstance(cache, Cached):
        ws = state.workspace
        cache = Cached(lambda: transfer_facts(ws), ttl=120.0, timeout=60.0)
        state.facts.extra["transfer"] = cache
    return cache


def _auto_json(ws: Workspace) -> dict[str, Any]:
    auto = read_state(ws)
    return {"state": auto.state, "step": auto.step, "started": auto.started, "updated": auto.updated,
            "log": auto.log, "log_href": f"/file?path={auto.log}" if auto.log else ""}


def context(state: MonitorState) -> dict[str, Any]:
    """What the panels show (one key, ``panels``, for the dfoMonitor's context)."""
    ws = state.workspace
    cron, _ = state.facts.cron.get()
    transfer, transfer_age = _transfer_cache(state).get()
    checker = read_cal_checker(ws)
    return {"panels": {
        "memory": memory_summary(ws), "max_depth": MAX_DEPTH,
        "calchecker": checker,
        "calchecker_age": age_seconds(checker, clock.now(ws.settings)) if checker else None,
        "auto": _auto_json(ws), "links": log_links(ws),
        "cron": classify_cron(cron, ws.root), "transfer": transfer, "transfer_age": transfer_age,
        "today": dfo_date(clock.now(ws.settings), ws.settings.DFO_OFFSET).isoformat(),
    }}


# --- per-date pages -----------------------------------------------------------------------------------------

def date_status_lines(ws: Workspace, key: str) -> list[str]:
    """The DFO_STATUS lines of one date, oldest first, as the file says them."""
    return [f"{line.flag} {line.key} {line.timestamp.isoformat(timespec='seconds')}"
            for line in ws.status_log.read() if line.key == key]


def _ab_path(ws: Workspace, name: str, key: str) -> Path | None:
    for folder in (ws.ab_dir, ws.log_dir / key):
        if (folder / name).is_file():
            return folder / name
    return None


def date_cal_entries(ws: Workspace, key: str) -> list[dict[str, Any]]:
    """The calibration memory entries (MCAL, VCAL, GEN headers) the ABs of a date use, with those ABs."""
    from dfos.ab.format import parse
    from dfos.ab.lists import read_ab_list

    used: dict[str, list[str]] = {}
    for mode in (Mode.CALIB, Mode.SCIENCE):
        try:
            entries = read_ab_list(ws.ab_list(mode, key))
        except DfosError:
            continue
        for entry in entries:
            path = _ab_path(ws, entry.name, key)
            if path is None:
                continue
            try:
                ab = parse(path.read_text(encoding="utf-8", errors="replace"), str(path))
            except DfosError:
                continue
            for calib in ab.mcalib:
                if calib.ref.startswith("$DFO_CAL_DIR/"):
                    used.setdefault(calib.ref, []).append(entry.name)
    rows = []
    for ref, abs_ in sorted(used.items()):
        kind = ref.removeprefix("$DFO_CAL_DIR/").split("/", 1)[0]
        rows.append({"ref": ref, "kind": kind if kind in ("MCAL", "VCAL", "GEN") else "CAL", "abs": abs_,
                     "exists": ws.expand(ref).is_file()})
    return rows


def _key(request: Request) -> str:
    try:
        return parse_date(str(request.path_params["date"])[:20]).isoformat()
    except DfosError as exc:
        raise Refused(404, exc.message) from None


@readable
def date_status_page(request: Request) -> Response:
    key = _key(request)
    lines = date_status_lines(state_of(request).workspace, key)
    return page(request, "panel_date.html", {"key": key, "what": "status", "lines": lines, "entries": []})


@readable
def date_cal_page(request: Request) -> Response:
    key = _key(request)
    entries = date_cal_entries(state_of(request).workspace, key)
    return page(request, "panel_date.html", {"key": key, "what": "CAL", "lines": [], "entries": entries})


@readable
def api_auto_daily(request: Request) -> Response:
    return JSONResponse(_auto_json(state_of(request).workspace))


# --- actions ------------------------------------------------------------------------------------------------

def _field(form: FormData, name: str, limit: int = 40) -> str:
    value = form.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        raise Refused(400, f"{name}: at most {limit} characters of text")
    return value.strip()


def _with_settings(ws: Workspace, values: dict[str, int]) -> Workspace:
    """The workspace with the new depths of its dfos.toml (those not overridden by the environment)."""
    changed: dict[str, Any] = {k: v for k, v in values.items()
                               if ws.config.origins[k].source in (Source.DEFAULT, Source.FILE)}
    settings = replace(ws.settings, **changed)
    origins = dict(ws.config.origins)
    for key in values:
        if origins[key].source in (Source.DEFAULT, Source.FILE):
            origins[key] = Origin(Source.FILE, str(ws.root / CONFIG_FILE))
    return Workspace(root=ws.root, config=LoadedConfig(settings=settings, origins=origins))


@changing
def save_memory_depth(request: Request, form: FormData) -> Response:
    """The CAL row's form: N_MCAL_LIST and N_VCAL_LIST into dfos.toml."""
    state = state_of(request)
    ws = state.workspace
    values = {key: _field(form, key, 12) for key in DEPTH_KEYS if key in form}
    if not values:
        raise Refused(400, f"nothing to change: send {' or '.join(DEPTH_KEYS)}")
    try:
        written = set_memory_depth(ws, values)
    except DfosError as exc:
        raise Refused(400, exc.message) from None
    audit(ws, user_of(request) or "-", client_of(request), "edit_memory_depth",
          " ".join(f"{k}={v}" for k, v in written.items()))
    state.workspace = _with_settings(ws, written)
    return RedirectResponse("/#cal-memory", status_code=303)


def _dfos(ws: Workspace, *args: str) -> list[str]:
    return [sys.executable, "-m", "dfos.cli.main", "--root", str(ws.root), *args]


def _job(request: Request, action: str, label: str, argv: list[str], target: str = "") -> Response:
    state = state_of(request)
    audit(state.workspace, user_of(request) or "-", client_of(request), action, target)
    job = state.jobs.start(action, label, [argv])
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@changing
def refresh_vcal_action(request: Request, form: FormData) -> Response:
    ws = state_of(request).workspace
    return _job(request, "refresh_vcal", "refreshVCAL", _dfos(ws, "refresh-vcal"))


@changing
def cal_checker_action(request: Request, form: FormData) -> Response:
    ws = state_of(request).workspace
    return _job(request, "cal_checker", "calChecker", _dfos(ws, "cal-checker"))


@changing
def transfer_query(request: Request, form: FormData) -> Response:
    """The transfer panel's buttons: the archive's frames of a date, pending (red) or arrived (green)."""
    which = _field(form, "query", 10) or "pending"
    if which not in ("pending", "arrived", "all"):
        raise Refused(400, f"query must be pending, arrived or all, not {which!r}")
    try:
        day: date = parse_date(_field(form, "date", 20))
    except DfosError as exc:
        raise Refused(400, exc.message) from None
    ws = state_of(request).workspace
    return _job(request, "transfer_query", f"transfer query {which} {day}",
                _dfos(ws, "transfer", "-d", day.isoformat(), "--query", which), f"{which}:{day}")


@changing
def xdm_refresh(request: Request, form: FormData) -> Response:
    """Scan the disk usage again now (the XDM is otherwise at most 5 minutes old)."""
    state = state_of(request)
    audit(state.workspace, user_of(request) or "-", client_of(request), "xdm_refresh", "XDM")
    state.facts.xdm.refresh(XDM_WAIT)
    return RedirectResponse("/#xdm", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/panel/memory-depth", save_memory_depth, methods=["POST"]),
        Route("/panel/refresh-vcal", refresh_vcal_action, methods=["POST"]),
        Route("/panel/cal-checker", cal_checker_action, methods=["POST"]),
        Route("/panel/transfer", transfer_query, methods=["POST"]),
        Route("/panel/xdm-refresh", xdm_refresh, methods=["POST"]),
        Route("/date-status/{date}", date_status_page),
        Route("/date-cal/{date}", date_cal_page),
        Route("/api/auto-daily", api_auto_daily),
    ]
