"""Who may read the monitor and who may change something, and the doors: login and logout.

- :func:`readable` pages: anyone when ``MONITOR_PUBLIC`` is on, otherwise after a login (a page
  redirects to the login form, ``/api/*`` answers 401);
- :func:`changing` requests: POST, logged in (401 otherwise), with the session's CSRF token (403
  otherwise), the form read within limits (:func:`read_form`: 413 for a body too large, 400 for a
  malformed one);
- :func:`login` is rate-limited (:class:`~dfos.monitor.security.login.LoginLimiter`); a login and a
  logout open and close a server-side session (:mod:`.sessions`); both are audited (:mod:`.audit`).

Handlers wrapped by :func:`readable` and :func:`changing` are plain functions run in a worker thread
(``run_in_threadpool``), and so is every session lookup, password hash, template and audit line of
the login: file and database work never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from dfos.monitor.security.accounts import named_user
from dfos.monitor.security.audit import audit
from dfos.monitor.security.guard import TooLarge
from dfos.monitor.security.login import safe_next
from dfos.monitor.security.sessions import valid_csrf
from dfos.monitor.web import MonitorState, Refused, client_of, page, state_of, user_of

__all__ = ["MAX_FIELDS", "changing", "login", "logout", "read_form", "readable"]

#: Form fields a request may carry at most (certification: three per AB).
MAX_FIELDS = 3 * 20_000 + 10


async def _resolve_user(request: Request) -> str | None:
    sessions = state_of(request).sessions
    sid = request.session.get("sid")
    user = await run_in_threadpool(sessions.user, sid) if sessions is not None and sid else None
    request.state.user = user
    return user


def readable(handler: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
    """Pages anyone may read when MONITOR_PUBLIC is on; otherwise after login."""

    @wraps(handler)
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

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        if not await _resolve_user(request):
            return PlainTextResponse("login required", status_code=401)
        form = await read_form(request)
        given = request.headers.get("x-csrf-token") or form.get("csrf")
        if not valid_csrf(request.session, given if isinstance(given, str) else None):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        return await run_in_threadpool(handler, request, form)

    return wrapped


async def _who(state: MonitorState, name: object, given: object) -> str | None:
    """Who logs in: a named account (``MONITOR_USERS``) when a name is given, else ``operator`` for the shared
    password or the printed token; None for a wrong name or password."""
    if not isinstance(given, str):
        return None
    if isinstance(name, str) and name.strip():
        return await run_in_threadpool(named_user, state.workspace, name.strip()[:64], given)
    login_hash = state.login
    ok = login_hash is not None and await run_in_threadpool(login_hash.matches, given)
    return "operator" if ok else None


async def login(request: Request) -> Response:
    """GET: the login form, or ``?token=`` (token login); POST: the password form."""
    state = state_of(request)
    target = safe_next(request.query_params.get("next"))
    token = request.query_params.get("token") if state.token_login else None
    name: object = ""
    if request.method == "POST":
        form = await read_form(request)
        given, name = form.get("password"), form.get("user", "")
    elif token:
        given = token
    else:
        return await run_in_threadpool(page, request, "login.html", {"failed": False, "next": target})
    client = client_of(request)
    limiter = state.limiter
    wait = limiter.wait(client) if limiter is not None else 0.0
    if limiter is not None and wait > 0:
        retry = limiter.retry_after(wait)
        return PlainTextResponse(f"too many failed logins; try again in {retry} s", status_code=429,
                                 headers={"Retry-After": retry})
    user = await _who(state, name, given)
    ws = state.workspace
    if user is None or state.sessions is None:
        if limiter is not None:
            limiter.failed(client)
        await run_in_threadpool(audit, ws, "-", client, "login_failed", "")
        return await run_in_threadpool(page, request, "login.html", {"failed": True, "next": target}, 401)
    if limiter is not None:
        limiter.succeeded(client)
    sid = await run_in_threadpool(state.sessions.open, user, client)
    request.session.clear()
    request.session["sid"] = sid
    await run_in_threadpool(audit, ws, user, client, "login", "")
    return RedirectResponse(target, status_code=303)


@changing
def logout(request: Request, form: FormData) -> Response:
    """End the session on the server (the cookie is worthless afterwards, even replayed)."""
    state = state_of(request)
    if state.sessions is not None:
        state.sessions.close(request.session.get("sid"))
    audit(state.workspace, user_of(request) or "-", client_of(request), "logout", "")
    request.session.clear()
    return RedirectResponse("/", status_code=303)
