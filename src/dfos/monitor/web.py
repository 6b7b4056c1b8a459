"""Request plumbing shared by the monitor's pages and actions: the server state, the templates, who is
logged in, access rules (:func:`readable`, :func:`changing`), form limits, error answers, the audit log.

Handlers wrapped by :func:`readable` and :func:`changing` are plain functions run in a worker thread
(``run_in_threadpool``): file and database work never blocks the event loop.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import pass_context
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from dfos import __version__, clock
from dfos.dates import parse_date
from dfos.errors import DfosError, FormatError, InvalidDate, NotFound, UsageError
from dfos.monitor import facts
from dfos.monitor.auth import PasswordHash, csrf_token, valid_csrf
from dfos.monitor.background import SystemSampler
from dfos.monitor.files import AUDIT_LOG
from dfos.monitor.jobs import JobRunner
from dfos.monitor.security import LoginLimiter, TooLarge
from dfos.monitor.sessions import SessionTable
from dfos.workspace import Workspace

__all__ = ["HERE", "TEMPLATES", "MonitorState", "Refused", "audit", "base_context", "changing", "client_of",
           "date_arg", "error_response", "href", "page", "read_form", "readable", "state_of", "user_of"]

HERE = Path(__file__).resolve().parent
#: Form fields a request may carry at most (certification: three per AB).
MAX_FIELDS = 3 * 20_000 + 10


@dataclass
class MonitorState:
    workspace: Workspace
    facts: facts.MonitorFacts
    jobs: JobRunner
    system: SystemSampler
    token: str
    """The login token to print when no password is configured ('' otherwise; cleared once printed)."""
    login: PasswordHash | None = None
    """The hash of the password (or the token); None: nobody can log in (the static export)."""
    sessions: SessionTable | None = None
    limiter: LoginLimiter | None = None
    token_login: bool = False
    """Whether the login secret is the printed token (no password configured): ``/login?token=``."""
    masks: tuple[str, ...] = ()
    """Secret strings (the database password) masked in every text the monitor shows."""

    def mask(self, text: str) -> str:
        for secret in self.masks:
            text = text.replace(secret, "***")
        return text


class Refused(Exception):
    """A request answered with a status and a one-line plain message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@pass_context
def href(context: Any, kind: str, arg: str = "", page: int | None = None) -> str:
    """A link to a page: a server route, or in the static export the exported file."""
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


def state_of(request: Request) -> MonitorState:
    found: MonitorState = request.app.state.monitor
    return found


def user_of(request: Request) -> str | None:
    """The logged-in user of this request (set by the access wrappers), or None."""
    return getattr(request.state, "user", None)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "-"


def base_context(ws: Workspace) -> dict[str, Any]:
    return {"ws": ws, "instrument": ws.settings.INSTRUMENT, "flavour": ws.settings.FLAVOUR.value.upper(),
            "now": facts.now_text(ws)}


def page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    base = {**base_context(state_of(request).workspace), "request": request, "logged_in": bool(user_of(request)),
            "csrf": csrf_token(request.session), "static": False}
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status)


async def _resolve_user(request: Request) -> str | None:
    sessions = state_of(request).sessions
    sid = request.session.get("sid")
    user = await run_in_threadpool(sessions.user, sid) if sessions is not None and sid else None
    request.state.user = user
    return user


def readable(handler: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
    """Pages anyone may read when MONITOR_PUBLIC is on; otherwise after login."""

    async def wrapped(request: Request) -> Response:
        user = await _resolve_user(request)
        if not user and not state_of(request).workspace.settings.MONITOR_PUBLIC:
            if request.url.path.startswith("/api/"):
                return JSONResponse({"error": "login required"}, status_code=401)
            return RedirectResponse(f"/login?next={quote(request.url.path[:2000])}", status_code=303)
        return await run_in_threadpool(handler, request)

    return wrapped


async def read_form(request: Request) -> FormData:
    """The request's form, within limits (413 for a body too large, 400 for a malformed one)."""
    try:
        return await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=1024 * 1024)
    except TooLarge as exc:
        raise Refused(413, str(exc)) from None
    except MultiPartException as exc:
        raise Refused(400, f"malformed form: {exc.message}") from None


def changing(handler: Callable[[Request, FormData], Response]) -> Callable[[Request], Awaitable[Response]]:
    """State-changing requests: POST, logged in, with the session's CSRF token."""

    async def wrapped(request: Request) -> Response:
        if not await _resolve_user(request):
            return PlainTextResponse("login required", status_code=401)
        form = await read_form(request)
        given = request.headers.get("x-csrf-token") or form.get("csrf")
        if not valid_csrf(request.session, given if isinstance(given, str) else None):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        return await run_in_threadpool(handler, request, form)

    return wrapped


def error_response(request: Request, exc: Exception) -> Response:
    """A plain one-line answer: 404 for unknown names, 400 for bad input, 503 when the workspace fails."""
    if isinstance(exc, Refused):
        status, message = exc.status, exc.message
    elif isinstance(exc, DfosError):
        status = 404 if isinstance(exc, (NotFound, InvalidDate)) else \
            400 if isinstance(exc, (UsageError, FormatError)) else 503
        message = exc.message
    else:
        status, message = 500, "internal error (see the server's log)"
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    return PlainTextResponse(message, status_code=status)


def date_arg(request: Request) -> date:
    """The ``{day}`` of the URL as a DFO date (404 when it is not one)."""
    try:
        return parse_date(str(request.path_params["day"])[:40])
    except DfosError as exc:
        raise Refused(404, exc.message) from None


def _field(value: str) -> str:
    return "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in value)[:300] or "-"


def audit(ws: Workspace, user: str, client: str, action: str, target: str = "") -> None:
    """Append one line to ``$DFO_MON_DIR/monitor_audit.log``: time, user, client, action, target."""
    line = (f"{clock.system_now().isoformat(timespec='seconds')} user={_field(user)} client={_field(client)} "
            f"action={_field(action)} target={_field(target)}\n")
    path = ws.mon_dir / AUDIT_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
