"""The monitor web application (Starlette, Jinja2 templates, plain CSS, a little JavaScript of our own).

Pages: ``/`` dfoMonitor, ``/abs/<DATE>`` AB monitor, ``/ab/<AB>`` one AB, ``/health`` the health
check, ``/history`` the processing history, ``/file?path=`` a workspace file on the allow-list
(:mod:`.files`), ``/jobs/<id>`` an action's live log.  JSON for live updates: ``/api/abs/<DATE>``,
``/api/dates``, ``/api/jobs/<id>``.  State changes (:mod:`.actions`) are POSTs that need a login and
the session's CSRF token.  Plumbing and access rules: :mod:`.web`; sessions: :mod:`.sessions`;
headers, size limits and the login rate limit: :mod:`.security`.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from dfos.config.secrets import mask_url, monitor_password, url_password
from dfos.db import ab_qc, ab_runs, certifications, comments, engine_for_url
from dfos.errors import DfosError, UnsafeName
from dfos.monitor import actions, facts
from dfos.monitor.abmonitor import STATES, ab_page
from dfos.monitor.auth import PasswordHash, load_secret
from dfos.monitor.background import SystemSampler
from dfos.monitor.files import FITS, IMAGES, OutsideWorkspace, shown_file, tail
from dfos.monitor.jobs import ACTIONS, JobRunner
from dfos.monitor.security import Guard, LoginLimiter
from dfos.monitor.sessions import LIFETIME, RotatingSessionMiddleware, SessionTable
from dfos.monitor.web import (
    HERE,
    TEMPLATES,
    MonitorState,
    Refused,
    base_context,
    date_arg,
    error_response,
    page,
    readable,
    state_of,
)
from dfos.naming import safe_name
from dfos.workspace import Workspace

__all__ = ["HERE", "TEMPLATES", "MonitorApp", "MonitorState", "base_context", "create_app", "health_context",
           "history_rows", "monitor_context"]


def _rel(ws: Workspace, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ws.root.resolve()))
    except ValueError:
        return ""


# --- pages ----------------------------------------------------------------------------------------------

def monitor_context(state: MonitorState) -> dict[str, Any]:
    """Everything the dfoMonitor page shows."""
    ws = state.workspace
    today, rows = facts.date_rows(ws)
    xdm, xdm_age = state.facts.xdm.get()
    archive, archive_age = state.facts.archive.get()
    cron, _ = state.facts.cron.get()
    install, _ = state.facts.install.get()
    postit = ws.mon_dir / "DFO_POSTIT"
    history = state.system.history()
    return {
        "today": today, "rows": rows, "xdm": xdm, "xdm_age": xdm_age, "archive": archive,
        "archive_age": archive_age, "cron": cron, "install": install, "n_abs": facts.ab_count_in_dir(ws),
        "database": mask_url(ws.db_url), "ab_limit": ws.settings.AB_WARN_LIMIT, "last": facts.last_abs(ws),
        "todos": facts.todo_lists(ws),
        "postit": postit.read_text(encoding="utf-8", errors="replace") if postit.is_file() else "",
        "links": facts.link_bar(ws.settings.MONITOR_LINKS), "system": history[-1] if history else None,
        "spark": _sparkline(history), "jobs": state.jobs.recent(5), "actions": ACTIONS,
    }


@readable
def dfo_monitor(request: Request) -> Response:
    return page(request, "monitor.html", monitor_context(state_of(request)))


def _sparkline(history: list[Any]) -> str:
    """A small SVG of the last hour (CPU and memory per cent), drawn on the server."""
    if len(history) < 2:
        return ""
    width, height = 240, 40
    t0, t1 = history[0].at, history[-1].at
    span = max(t1 - t0, 1.0)

    def line(attr: str) -> str:
        return " ".join(f"{(s.at - t0) / span * width:.1f},{height - getattr(s, attr) / 100 * height:.1f}"
                        for s in history)

    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="CPU and memory, last hour"><polyline fill="none" stroke="#1f77b4" points="{line("cpu")}"/>'
            f'<polyline fill="none" stroke="#ff7f0e" points="{line("memory")}"/></svg>')


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    state = q.get("state") or None
    score = q.get("score") or None
    page_text = q.get("page", "1")
    page_number = int(page_text) if page_text.isdigit() and len(page_text) < 9 else 1
    mode = q.get("mode", "CALIB").upper()
    raw_type = (q.get("raw_type") or "")[:100] or None
    return {"state": state if state in STATES else None, "raw_type": raw_type,
            "score": score if score in ("green", "red", "grey") else None, "page": max(1, page_number),
            "mode": mode if mode in ("CALIB", "SCIENCE") else "CALIB"}


@readable
def ab_monitor(request: Request) -> Response:
    from urllib.parse import urlencode

    day = date_arg(request)
    chosen = _filters(request)
    found = ab_page(state_of(request).workspace, day, **chosen)

    def url(number: int) -> str:
        query = {k: v for k, v in chosen.items() if v and k != "page" and not (k == "mode" and v == "CALIB")}
        return f"/abs/{found.date}?" + urlencode({**query, "page": number})

    return page(request, "abs.html", {"page": found, "chosen": chosen, "states": STATES,
                                      "prev_url": url(found.page - 1) if found.page > 1 else "",
                                      "next_url": url(found.page + 1) if found.page < found.pages else ""})


@readable
def api_abs(request: Request) -> Response:
    found = ab_page(state_of(request).workspace, date_arg(request), **_filters(request))
    return JSONResponse({"date": found.date, "counts": found.counts, "total": found.total, "matching": found.matching,
                         "page": found.page, "pages": found.pages, "abs": [r.to_json() for r in found.rows]})


@readable
def api_dates(request: Request) -> Response:
    today, rows = facts.date_rows(state_of(request).workspace)
    return JSONResponse({"today": today, "dates": [{**r.view.to_json(), "n_cal_abs": r.n_cal_abs} for r in rows]})


def _safe(value: str) -> str | None:
    try:
        return safe_name(value)
    except UnsafeName:
        return None


@readable
def ab_detail(request: Request) -> Response:
    from dfos.ab.format import parse
    from dfos.steps.create_ab import explain_text, supersession_log

    state = state_of(request)
    ws = state.workspace
    name = safe_name(request.path_params["name"], "AB name")  # UnsafeName: 400
    if not name.endswith(".ab"):
        raise Refused(404, f"no AB {name}")
    ab_path = ws.ab_dir / name
    if not ab_path.is_file():  # a moved date's ABs are in $DFO_LOG_DIR/<DATE>
        ab_path = next(iter(sorted(ws.log_dir.glob(f"*/{name}"))), ab_path)
    if not ab_path.is_file():
        raise Refused(404, f"no AB {name}")
    text = ab_path.read_text(encoding="utf-8", errors="replace")
    ab = parse(text, str(ab_path))  # FormatError: 400
    log_name, prod_root, day, batch = _safe(ab.log_name), _safe(ab.prod_root), _safe(ab.date), _safe(ab.batch_id)
    log = ab_path.parent / log_name if log_name else None
    log_tail = tail(log, 8000)[0] if log is not None and log.is_file() else ""
    product_dir = ws.expand(ab.prod_path)
    products = sorted(product_dir.glob(f"{prod_root}_*")) if prod_root and product_dir.is_dir() else []
    plots = sorted((ws.path("DFO_PLT_DIR") / day).glob(f"{prod_root}_*.png")) if day and prod_root else []
    qclog = ab_path.parent / f"{name.removesuffix('.ab')}.qclog"
    try:
        explain = explain_text(ws, name)
    except DfosError as exc:
        explain = exc.message
    with engine_for_url(ws.db_url).begin() as db:
        runs = db.execute(select(ab_runs).where(ab_runs.c.ab == name).order_by(ab_runs.c.id.desc()).limit(10)
                          ).mappings().all()
        qc = db.execute(select(ab_qc).where(ab_qc.c.ab == name)).mappings().first()
        decisions = db.execute(select(certifications).where(certifications.c.ab == name)
                               .order_by(certifications.c.id.desc()).limit(10)).mappings().all()
    sof = "".join(f"{ws.expand(path)} {tag}\n" for path, tag in ab.sof)
    history = supersession_log(ws, batch) if batch else None
    superseded = [line for line in (history.read_text(encoding="utf-8", errors="replace").splitlines()
                                    if history is not None and history.is_file() else [])
                  if line.split()[1:2] == [name]]
    return page(request, "ab.html", {
        "ab": ab, "text": state.mask(text), "sof": state.mask(sof), "log_tail": state.mask(log_tail),
        "log_rel": _rel(ws, log) if log is not None and log.is_file() else "",
        "products": [(p.name, _rel(ws, p)) for p in products], "plots": [_rel(ws, p) for p in plots],
        "qclog": state.mask(qclog.read_text(encoding="utf-8", errors="replace")) if qclog.is_file() else "",
        "explain": state.mask(explain), "runs": runs, "qc": qc, "decisions": decisions, "superseded": superseded})


@readable
def file_view(request: Request) -> Response:
    state = state_of(request)
    ws = state.workspace
    try:
        path = shown_file(ws, request.query_params.get("path", ""))
    except OutsideWorkspace as exc:
        return PlainTextResponse(str(exc), status_code=404)
    suffix = path.suffix.lower()
    if suffix in IMAGES:
        return FileResponse(path, media_type=IMAGES[suffix],
                            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                                "frame-ancestors 'none'"})
    if path.name.lower().endswith(FITS):
        return PlainTextResponse(f"{path.name}: FITS file, {path.stat().st_size} bytes", status_code=200)
    text, cut = tail(path)
    return page(request, "file.html", {"path": _rel(ws, path), "text": state.mask(text), "cut": cut})


def health_context(state: MonitorState) -> dict[str, Any]:
    from dfos.steps.trend import health_report

    ws = state.workspace
    try:
        items = health_report(ws, days=7)
    except DfosError as exc:
        return {"items": [], "problem": exc.message}
    return {"items": [(i, _rel(ws, i.png)) for i in items], "problem": ""}


@readable
def health_page(request: Request) -> Response:
    return page(request, "health.html", health_context(state_of(request)))


@readable
def history_page(request: Request) -> Response:
    return page(request, "history.html", {"rows": history_rows(state_of(request).workspace)})


def history_rows(ws: Workspace) -> list[dict[str, Any]]:
    """One line per date of DFO_STATUS: flags, AB counts, failures, certification, comments."""
    from dfos.status.machine import flags_by_key
    from dfos.steps.status import ab_count

    flags = flags_by_key(ws.status_log.read())
    with engine_for_url(ws.db_url).begin() as db:
        newest = select(ab_runs.c.ab, func.max(ab_runs.c.id).label("id")).group_by(ab_runs.c.ab).subquery()
        failed: dict[str, int] = {}
        for row in db.execute(select(ab_runs.c.batch_id).join(newest, ab_runs.c.id == newest.c.id)
                              .where(ab_runs.c.status == "FAILED")):
            day = row.batch_id.partition("_")[2]
            failed[day] = failed.get(day, 0) + 1
        last = select(certifications.c.ab, func.max(certifications.c.id).label("id")) \
            .group_by(certifications.c.ab).subquery()
        certified: dict[str, int] = {}
        for row in db.execute(select(ab_qc.c.date).join(last, ab_qc.c.ab == last.c.ab)
                              .join(certifications, certifications.c.id == last.c.id)
                              .where(certifications.c.decision == "certified")):
            certified[row.date] = certified.get(row.date, 0) + 1
        notes: dict[str, list[str]] = {}
        for row in db.execute(select(comments.c.subject, comments.c.text).where(comments.c.scope == "date")):
            notes.setdefault(row.subject, []).append(row.text)
    rows = []
    for key in sorted(flags, reverse=True):
        rows.append({"date": key, "flags": flags[key], "finished": "finished" in flags[key],
                     "n_abs": ab_count(ws.mon_dir / f"AB_list_CALIB_{key}"), "failed": failed.get(key, 0),
                     "certified": certified.get(key, 0), "comments": notes.get(key, [])})
    return rows


@readable
def job_page(request: Request) -> Response:
    job = _job(request)
    return page(request, "job.html", {"job": job, "log": state_of(request).mask(tail(job.log)[0])})


@readable
def api_job(request: Request) -> Response:
    job = _job(request)
    return JSONResponse({"id": job.id, "state": job.state, "label": job.label,
                         "log": state_of(request).mask(tail(job.log)[0]), "returncodes": job.returncodes})


def _job(request: Request) -> Any:
    text = str(request.path_params["id"])
    job = state_of(request).jobs.get(int(text)) if text.isdigit() and len(text) < 12 else None
    if job is None:
        raise Refused(404, "no such job")
    return job


@readable
def todo_page(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in facts.TODO_LISTS:
        raise Refused(404, "unknown ToDo list")
    path = state_of(request).workspace.job_dir / name
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    return page(request, "todo.html", {"name": name, "text": text, "exists": path.is_file()})


@readable
def certify_page(request: Request) -> Response:
    from dfos.steps.certify import certification_rows

    day = date_arg(request)
    rows = certification_rows(state_of(request).workspace, "CALIB", day)
    return page(request, "certify.html", {"day": day.isoformat(), "rows": rows,
                                          "light": request.query_params.get("light") == "1",
                                          "message": request.query_params.get("message", "")[:1000]})


async def _error(request: Request, exc: Exception) -> Response:
    return error_response(request, exc)


class MonitorApp(Starlette):
    """The Starlette application inside :class:`~dfos.monitor.security.Guard` (headers and size
    limits on every response, errors and 404s included)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Guard(super().__call__)(scope, receive, send)


def create_app(workspace: Workspace, token: str | None = None,
               clock: Callable[[], float] | None = None) -> MonitorApp:
    """The monitor of a workspace.  ``token`` logs in via ``/login?token=`` when no password is set;
    ``clock`` (monotonic seconds) drives the login rate limit (tests)."""
    password = monitor_password(workspace.settings, workspace.root)
    token_login = not password
    login_secret = password or token or secrets.token_urlsafe(24)
    login = PasswordHash.of(login_secret)
    printed = "" if password else login_secret
    del password, login_secret
    # the clear-text password is not kept: the monitor's workspace forgets it
    settings = dataclasses.replace(workspace.settings, MONITOR_PASSWORD="")
    workspace = dataclasses.replace(workspace, config=dataclasses.replace(workspace.config, settings=settings))
    db_password = url_password(workspace.db_url)
    state = MonitorState(workspace, facts.MonitorFacts.for_workspace(workspace), JobRunner(workspace),
                         SystemSampler(str(workspace.root)), printed, login, SessionTable(workspace.root),
                         LoginLimiter(clock) if clock is not None else LoginLimiter(), token_login,
                         (db_password,) if len(db_password) >= 4 else ())
    routes = [
        Route("/", dfo_monitor),
        Route("/abs/{day}", ab_monitor),
        Route("/ab/{name}", ab_detail),
        Route("/file", file_view),
        Route("/health", health_page),
        Route("/history", history_page),
        Route("/todo/{name}", todo_page),
        Route("/todo/{name}", actions.save_todo, methods=["POST"]),
        Route("/jobs/{id}", job_page),
        Route("/certify/{day}", certify_page),
        Route("/certify/{day}", actions.certify_submit, methods=["POST"]),
        Route("/api/abs/{day}", api_abs),
        Route("/api/dates", api_dates),
        Route("/api/jobs/{id}", api_job),
        Route("/login", actions.login, methods=["GET", "POST"]),
        Route("/logout", actions.logout, methods=["POST"]),
        Route("/action/{action}", actions.start_action, methods=["POST"]),
        Route("/postit", actions.save_postit, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    load_secret(workspace.root)  # made at start (mode 600), not at the first request
    middleware = [Middleware(RotatingSessionMiddleware, root=workspace.root, session_cookie="dfos_monitor",
                             same_site="strict", max_age=LIFETIME)]
    app = MonitorApp(routes=routes, middleware=middleware,
                     exception_handlers={Refused: _error, DfosError: _error, Exception: _error})
    app.state.monitor = state
    state.system.start()
    return app
