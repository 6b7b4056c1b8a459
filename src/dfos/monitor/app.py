"""The monitor web application (Starlette, Jinja2 templates, plain CSS, a little JavaScript of our own).

Pages: ``/`` dfoMonitor, ``/abs/<DATE>`` AB monitor, ``/ab/<AB>`` one AB, ``/health`` the health
check, ``/history`` the processing history, ``/file?path=`` a workspace file (text tail or image),
``/jobs/<id>`` an action's live log.  JSON for live updates: ``/api/abs/<DATE>``, ``/api/dates``,
``/api/jobs/<id>``.  State changes are POSTs that need a login and the session's CSRF token.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import pass_context
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from dfos import __version__
from dfos.dates import parse_date
from dfos.db import ab_qc, ab_runs, certifications, comments, engine_for_url
from dfos.errors import DfosError
from dfos.fsutil import write_text_atomic
from dfos.monitor import facts
from dfos.monitor.abmonitor import STATES, ab_page
from dfos.monitor.auth import csrf_token, load_secret, password_ok, valid_csrf
from dfos.monitor.background import SystemSampler
from dfos.monitor.files import OutsideWorkspace, inside, tail
from dfos.monitor.jobs import ACTIONS, DATE_ACTIONS, JobRunner, action_steps
from dfos.workspace import Workspace

__all__ = ["TEMPLATES", "MonitorState", "base_context", "create_app", "health_context", "history_rows",
           "monitor_context"]

HERE = Path(__file__).resolve().parent


@dataclass
class MonitorState:
    workspace: Workspace
    facts: facts.MonitorFacts
    jobs: JobRunner
    system: SystemSampler
    token: str
    """The login token when no MONITOR_PASSWORD is configured ('' otherwise)."""


@pass_context
def href(context: Any, kind: str, arg: str = "", page: int | None = None) -> str:
    """A link to a page: a server route, or in the static export the exported file."""
    from urllib.parse import quote

    if context.get("static"):
        exported = f"abs_{arg}.html" if not page or page == 1 else f"abs_{arg}_p{page}.html"
        return {"monitor": "index.html", "abs": exported,
                "health": "health.html", "history": "history.html", "image": f"img/{Path(arg).name}"}.get(kind, "")
    return {"monitor": "/", "abs": f"/abs/{quote(arg)}" + (f"?page={page}" if page else ""), "ab": f"/ab/{quote(arg)}",
            "health": "/health", "history": "/history", "file": f"/file?path={quote(arg)}",
            "image": f"/file?path={quote(arg)}", "todo": f"/todo/{quote(arg)}"}.get(kind, "")


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["version"] = __version__
    templates.env.globals["href"] = href
    templates.env.filters["gb"] = lambda n: f"{(n or 0) / 1e9:.1f}"
    templates.env.filters["hours"] = lambda h: "-" if h is None else f"{h:.1f} h"
    return templates


TEMPLATES = _templates()


def _state(request: Request) -> MonitorState:
    state: MonitorState = request.app.state.monitor
    return state


def logged_in(request: Request) -> bool:
    return bool(request.session.get("user"))


def _can_read(request: Request) -> bool:
    return logged_in(request) or _state(request).workspace.settings.MONITOR_PUBLIC


def base_context(ws: Workspace) -> dict[str, Any]:
    return {"ws": ws, "instrument": ws.settings.INSTRUMENT, "flavour": ws.settings.FLAVOUR.value.upper(),
            "now": facts.now_text(ws)}


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    state = _state(request)
    base = {**base_context(state.workspace), "request": request, "logged_in": logged_in(request),
            "csrf": csrf_token(request.session), "static": False}
    response = TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; style-src 'self' "
                                                   "'unsafe-inline'; frame-ancestors 'none'")
    response.headers["Referrer-Policy"] = "same-origin"
    return response


Handler = Callable[[Request], Awaitable[Response]]


def readable(handler: Handler) -> Handler:
    """Pages anyone may read when MONITOR_PUBLIC is on; otherwise after login."""

    async def wrapped(request: Request) -> Response:
        if not _can_read(request):
            if request.url.path.startswith("/api/"):
                return JSONResponse({"error": "login required"}, status_code=401)
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return await handler(request)

    return wrapped


def changing(handler: Handler) -> Handler:
    """State-changing requests: POST, logged in, with the session's CSRF token."""

    async def wrapped(request: Request) -> Response:
        if not logged_in(request):
            return PlainTextResponse("login required", status_code=401)
        form = await request.form()
        given = request.headers.get("x-csrf-token") or form.get("csrf")
        if not valid_csrf(request.session, given if isinstance(given, str) else None):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        return await handler(request)

    return wrapped


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
        "ab_limit": ws.settings.AB_WARN_LIMIT, "last": facts.last_abs(ws), "todos": facts.todo_lists(ws),
        "postit": postit.read_text(encoding="utf-8", errors="replace") if postit.is_file() else "",
        "links": facts.link_bar(ws.settings.MONITOR_LINKS), "system": history[-1] if history else None,
        "spark": _sparkline(history), "jobs": state.jobs.recent(5), "actions": ACTIONS,
    }


@readable
async def dfo_monitor(request: Request) -> Response:
    return _page(request, "monitor.html", monitor_context(_state(request)))


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


def _date_arg(request: Request) -> date:
    try:
        return parse_date(request.path_params["day"])
    except DfosError as exc:
        raise _NotFound(exc.message) from None


class _NotFound(Exception):
    pass


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    state = q.get("state") or None
    score = q.get("score") or None
    try:
        page = max(1, int(q.get("page", "1")))
    except ValueError:
        page = 1
    mode = q.get("mode", "CALIB").upper()
    return {"state": state if state in STATES else None, "raw_type": q.get("raw_type") or None,
            "score": score if score in ("green", "red", "grey") else None, "page": page,
            "mode": mode if mode in ("CALIB", "SCIENCE") else "CALIB"}


@readable
async def ab_monitor(request: Request) -> Response:
    day = _date_arg(request)
    chosen = _filters(request)
    page = ab_page(_state(request).workspace, day, **chosen)

    def url(number: int) -> str:
        from urllib.parse import urlencode

        query = {k: v for k, v in chosen.items() if v and k != "page" and not (k == "mode" and v == "CALIB")}
        return f"/abs/{page.date}?" + urlencode({**query, "page": number})

    return _page(request, "abs.html", {"page": page, "chosen": chosen, "states": STATES,
                                       "prev_url": url(page.page - 1) if page.page > 1 else "",
                                       "next_url": url(page.page + 1) if page.page < page.pages else ""})


@readable
async def api_abs(request: Request) -> Response:
    day = _date_arg(request)
    page = ab_page(_state(request).workspace, day, **_filters(request))
    return JSONResponse({"date": page.date, "counts": page.counts, "total": page.total, "matching": page.matching,
                         "page": page.page, "pages": page.pages, "abs": [r.to_json() for r in page.rows]})


@readable
async def api_dates(request: Request) -> Response:
    today, rows = facts.date_rows(_state(request).workspace)
    return JSONResponse({"today": today, "dates": [{**r.view.to_json(), "n_cal_abs": r.n_cal_abs} for r in rows]})


@readable
async def ab_detail(request: Request) -> Response:
    ws = _state(request).workspace
    name = Path(request.path_params["name"]).name
    ab_path = ws.ab_dir / name
    if not ab_path.is_file():  # a moved date's ABs are in $DFO_LOG_DIR/<DATE>
        ab_path = next(iter(sorted(ws.path("DFO_LOG_DIR").glob(f"*/{name}"))), ab_path)
    if not name.endswith(".ab") or not ab_path.is_file():
        raise _NotFound(f"no AB {name}")
    from dfos.ab.format import parse
    from dfos.steps.create_ab import explain_text

    text = ab_path.read_text(encoding="utf-8", errors="replace")
    ab = parse(text, str(ab_path))
    log = ab_path.parent / ab.log_name
    log_tail = tail(log, 8000)[0] if log.is_file() else ""
    product_dir = ws.expand(ab.prod_path)
    products = sorted(product_dir.glob(f"{ab.prod_root}_*")) if product_dir.is_dir() else []
    plots = sorted((ws.path("DFO_PLT_DIR") / ab.date).glob(f"{ab.prod_root}_*.png"))
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
    from dfos.steps.create_ab import supersession_log

    history = supersession_log(ws, ab.batch_id)
    superseded = [line for line in (history.read_text(encoding="utf-8").splitlines() if history.is_file() else [])
                  if line.split()[1:2] == [name]]
    return _page(request, "ab.html", {
        "ab": ab, "text": text, "sof": sof, "log_tail": log_tail, "log_rel": _rel(ws, log) if log.is_file() else "",
        "products": [(p.name, _rel(ws, p)) for p in products], "plots": [_rel(ws, p) for p in plots],
        "qclog": qclog.read_text(encoding="utf-8", errors="replace") if qclog.is_file() else "",
        "explain": explain, "runs": runs, "qc": qc, "decisions": decisions, "superseded": superseded})


@readable
async def file_view(request: Request) -> Response:
    ws = _state(request).workspace
    try:
        path = inside(ws.root, request.query_params.get("path", ""))
    except OutsideWorkspace as exc:
        return PlainTextResponse(str(exc), status_code=404)
    if path.suffix.lower() in (".png", ".svg"):
        return FileResponse(path, media_type="image/png" if path.suffix.lower() == ".png" else "image/svg+xml",
                            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})
    if path.suffix.lower() in (".fits", ".fz"):
        return PlainTextResponse(f"{path.name}: FITS file, {path.stat().st_size} bytes", status_code=200)
    text, cut = tail(path)
    return _page(request, "file.html", {"path": _rel(ws, path), "text": text, "cut": cut})


def health_context(state: MonitorState) -> dict[str, Any]:
    from dfos.steps.trend import health_report

    ws = state.workspace
    try:
        items = health_report(ws, days=7)
    except DfosError as exc:
        return {"items": [], "problem": exc.message}
    return {"items": [(i, _rel(ws, i.png)) for i in items], "problem": ""}


@readable
async def health_page(request: Request) -> Response:
    return _page(request, "health.html", health_context(_state(request)))


@readable
async def history_page(request: Request) -> Response:
    return _page(request, "history.html", {"rows": history_rows(_state(request).workspace)})


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


# --- login and actions -------------------------------------------------------------------------------------

async def login(request: Request) -> Response:
    state = _state(request)
    target = request.query_params.get("next", "/")
    target = target if target.startswith("/") and not target.startswith("//") else "/"
    token = request.query_params.get("token")
    if token and state.token and secrets.compare_digest(token, state.token):
        request.session.clear()
        request.session["user"] = "token"
        return RedirectResponse(target, status_code=303)
    if request.method == "POST":
        form = await request.form()
        given = form.get("password")
        expected = state.workspace.settings.MONITOR_PASSWORD or state.token
        if isinstance(given, str) and password_ok(given, expected):
            request.session.clear()
            request.session["user"] = "operator"
            return RedirectResponse(target, status_code=303)
        return _page(request, "login.html", {"failed": True, "next": target}, status=401)
    return _page(request, "login.html", {"failed": False, "next": target})


@changing
async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@changing
async def start_action(request: Request) -> Response:
    state = _state(request)
    form = await request.form()
    action = request.path_params["action"]
    if action not in ACTIONS:
        return PlainTextResponse(f"unknown action {action}", status_code=404)
    day = None
    if action in DATE_ACTIONS:
        try:
            day = parse_date(str(form.get("date", "")))
        except DfosError as exc:
            return PlainTextResponse(exc.message, status_code=400)
    todo = str(form.get("todo", ""))
    if action == "launch_todo" and todo not in facts.TODO_LISTS:
        return PlainTextResponse("unknown ToDo list", status_code=400)
    steps = action_steps(state.workspace, action, day, todo or None)
    label = f"{ACTIONS[action]}" + (f" {day}" if day else f" {todo}" if todo else "")
    job = state.jobs.start(action, label, steps)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@readable
async def job_page(request: Request) -> Response:
    job = _job(request)
    return _page(request, "job.html", {"job": job, "log": tail(job.log)[0]})


@readable
async def api_job(request: Request) -> Response:
    job = _job(request)
    return JSONResponse({"id": job.id, "state": job.state, "label": job.label, "log": tail(job.log)[0],
                         "returncodes": job.returncodes})


def _job(request: Request) -> Any:
    try:
        job = _state(request).jobs.get(int(request.path_params["id"]))
    except ValueError:
        job = None
    if job is None:
        raise _NotFound("no such job")
    return job


@changing
async def save_postit(request: Request) -> Response:
    form = await request.form()
    text = str(form.get("text", ""))[:20000]
    write_text_atomic(_state(request).workspace.mon_dir / "DFO_POSTIT", text.replace("\r\n", "\n"))
    return RedirectResponse("/#postit", status_code=303)


@readable
async def todo_page(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in facts.TODO_LISTS:
        raise _NotFound("unknown ToDo list")
    path = _state(request).workspace.job_dir / name
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    return _page(request, "todo.html", {"name": name, "text": text, "exists": path.is_file()})


@changing
async def save_todo(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in facts.TODO_LISTS:
        return PlainTextResponse("unknown ToDo list", status_code=404)
    form = await request.form()
    text = str(form.get("text", "")).replace("\r\n", "\n")
    write_text_atomic(_state(request).workspace.job_dir / name, text, mode=0o755)
    return RedirectResponse(f"/todo/{name}", status_code=303)


@readable
async def certify_page(request: Request) -> Response:
    from dfos.steps.certify import certification_rows

    day = _date_arg(request)
    rows = certification_rows(_state(request).workspace, "CALIB", day)
    return _page(request, "certify.html", {"day": day.isoformat(), "rows": rows,
                                           "light": request.query_params.get("light") == "1",
                                           "message": request.query_params.get("message", "")})


@changing
async def certify_submit(request: Request) -> Response:
    from urllib.parse import quote

    from starlette.concurrency import run_in_threadpool

    from dfos.steps.certify import ACCEPT, REJECT, Decision, certify

    day = _date_arg(request)
    form = await request.form()
    decisions = []
    for index in range(int(str(form.get("count", "0")) or 0)):
        name, choice = str(form.get(f"ab_{index}", "")), str(form.get(f"decision_{index}", ""))
        if choice in ("accept", "reject"):
            decisions.append(Decision(name, ACCEPT if choice == "accept" else REJECT,
                                      str(form.get(f"comment_{index}", ""))[:2000]))
    light = form.get("light") == "1"
    user = str(request.session.get("user", "operator"))
    try:
        result = await run_in_threadpool(certify, _state(request).workspace, "CALIB", day, decisions,
                                         form.get("accept_green") == "1", light, user)
    except DfosError as exc:
        message = exc.message
    else:
        message = (f"{len(result.recorded)} decision(s) recorded; "
                   + (f"{len(result.undecided)} AB(s) still undecided" if result.undecided else
                      "certified (cal_Certif)" if result.certified_flag else "all decided"))
    return RedirectResponse(f"/certify/{day.isoformat()}?message={quote(message)}" + ("&light=1" if light else ""),
                            status_code=303)


async def _not_found(request: Request, exc: Exception) -> Response:
    return HTMLResponse(f"<!doctype html><title>not found</title><p>{html.escape(str(exc))}</p>", status_code=404)


def create_app(workspace: Workspace, token: str | None = None) -> Starlette:
    """The monitor of a workspace.  ``token`` logs in via ``/login?token=`` when no password is set."""
    state = MonitorState(workspace, facts.MonitorFacts.for_workspace(workspace), JobRunner(workspace),
                         SystemSampler(str(workspace.root)),
                         token if token is not None else ("" if workspace.settings.MONITOR_PASSWORD
                                                          else secrets.token_urlsafe(24)))
    routes = [
        Route("/", dfo_monitor),
        Route("/abs/{day}", ab_monitor),
        Route("/ab/{name}", ab_detail),
        Route("/file", file_view),
        Route("/health", health_page),
        Route("/history", history_page),
        Route("/todo/{name}", todo_page),
        Route("/todo/{name}", save_todo, methods=["POST"]),
        Route("/jobs/{id}", job_page),
        Route("/certify/{day}", certify_page),
        Route("/certify/{day}", certify_submit, methods=["POST"]),
        Route("/api/abs/{day}", api_abs),
        Route("/api/dates", api_dates),
        Route("/api/jobs/{id}", api_job),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/action/{action}", start_action, methods=["POST"]),
        Route("/postit", save_postit, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=load_secret(workspace.root), session_cookie="dfos_monitor",
                             same_site="strict", max_age=12 * 3600)]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={_NotFound: _not_found})
    app.state.monitor = state
    state.system.start()
    return app
