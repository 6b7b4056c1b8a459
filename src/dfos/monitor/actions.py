"""The monitor's state-changing routes: login and logout, actions (background jobs), ToDo lists,
POSTIT notes and certification decisions.

Every form field is validated with limits before anything runs (a bad value: 400 with a message);
logins are rate-limited (:class:`~dfos.monitor.security.LoginLimiter`); every login, logout, edit
and launch is written to the audit log with its user (:func:`~dfos.monitor.web.audit`).
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from dfos.dates import parse_date
from dfos.errors import DfosError
from dfos.fsutil import write_text_atomic
from dfos.monitor import facts
from dfos.monitor.jobs import ACTIONS, DATE_ACTIONS, action_steps
from dfos.monitor.web import Refused, audit, changing, client_of, date_arg, page, read_form, state_of, user_of

__all__ = ["certify_submit", "login", "logout", "save_postit", "save_todo", "start_action"]

#: The longest POSTIT note and ToDo list (characters).
MAX_POSTIT = 20_000
MAX_TODO = 100_000
MAX_COMMENT = 2000


def _target(request: Request) -> str:
    target = request.query_params.get("next", "/")
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target and len(target) <= 2000
    return target if ok else "/"


def _text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise Refused(400, f"{name}: text expected")
    if len(value) > limit:
        raise Refused(400, f"{name}: at most {limit} characters, not {len(value)}")
    return value


async def login(request: Request) -> Response:
    state = state_of(request)
    target = _target(request)
    token = request.query_params.get("token") if state.token_login else None
    if request.method == "POST":
        given = (await read_form(request)).get("password")
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
    login_hash = state.login
    ok = login_hash is not None and isinstance(given, str) and await run_in_threadpool(login_hash.matches, given)
    ws = state.workspace
    if not ok or state.sessions is None:
        if limiter is not None:
            limiter.failed(client)
        await run_in_threadpool(audit, ws, "-", client, "login_failed", "")
        return await run_in_threadpool(page, request, "login.html", {"failed": True, "next": target}, 401)
    if limiter is not None:
        limiter.succeeded(client)
    user = "token" if state.token_login else "operator"
    sid = await run_in_threadpool(state.sessions.open, user, client)
    request.session.clear()
    request.session["sid"] = sid
    await run_in_threadpool(audit, ws, user, client, "login", "")
    return RedirectResponse(target, status_code=303)


@changing
def logout(request: Request, form: FormData) -> Response:
    state = state_of(request)
    if state.sessions is not None:
        state.sessions.close(request.session.get("sid"))
    audit(state.workspace, user_of(request) or "-", client_of(request), "logout", "")
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@changing
def start_action(request: Request, form: FormData) -> Response:
    state = state_of(request)
    action = request.path_params["action"]
    if action not in ACTIONS:
        return PlainTextResponse(f"unknown action {action[:100]!r}", status_code=404)
    day = None
    if action in DATE_ACTIONS:
        try:
            day = parse_date(_text(form, "date", 20))
        except DfosError as exc:
            return PlainTextResponse(exc.message, status_code=400)
    todo = _text(form, "todo", 40)
    if action == "launch_todo" and todo not in facts.TODO_LISTS:
        return PlainTextResponse("unknown ToDo list", status_code=400)
    steps = action_steps(state.workspace, action, day, todo or None)
    label = f"{ACTIONS[action]}" + (f" {day}" if day else f" {todo}" if todo else "")
    audit(state.workspace, user_of(request) or "-", client_of(request), action,
          day.isoformat() if day else todo)
    job = state.jobs.start(action, label, steps)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@changing
def save_postit(request: Request, form: FormData) -> Response:
    text = _text(form, "text", MAX_POSTIT)
    ws = state_of(request).workspace
    write_text_atomic(ws.mon_dir / "DFO_POSTIT", text.replace("\r\n", "\n"))
    audit(ws, user_of(request) or "-", client_of(request), "edit_postit", "DFO_POSTIT")
    return RedirectResponse("/#postit", status_code=303)


@changing
def save_todo(request: Request, form: FormData) -> Response:
    name = request.path_params["name"]
    if name not in facts.TODO_LISTS:
        return PlainTextResponse("unknown ToDo list", status_code=404)
    text = _text(form, "text", MAX_TODO).replace("\r\n", "\n")
    ws = state_of(request).workspace
    write_text_atomic(ws.job_dir / name, text, mode=0o755)
    audit(ws, user_of(request) or "-", client_of(request), "edit_todo", name)
    return RedirectResponse(f"/todo/{name}", status_code=303)


#: No date has more ABs to certify than this (the form is refused before the date is even read).
MAX_COUNT = 100_000


def _count(form: FormData) -> int:
    raw = _text(form, "count", 20).strip() or "0"
    if not raw.isdigit():
        raise Refused(400, f"count must be a whole number, not {raw[:20]!r}")
    count = int(raw)
    if count > MAX_COUNT:
        raise Refused(400, f"count {count} is more than any date's ABs ({MAX_COUNT})")
    return count


@changing
def certify_submit(request: Request, form: FormData) -> Response:
    from dfos.steps.certify import ACCEPT, REJECT, Decision, certification_rows, certify

    day: date = date_arg(request)
    count = _count(form)  # the form first: nothing is read for a request that cannot be right
    ws = state_of(request).workspace
    names = {row.ab for row in certification_rows(ws, "CALIB", day)}
    if count > len(names):
        raise Refused(400, f"count {count} is more than the {len(names)} AB(s) of the date")
    decisions = []
    for index in range(count):
        name, choice = _text(form, f"ab_{index}", 300), _text(form, f"decision_{index}", 10)
        if choice not in ("accept", "reject", ""):
            raise Refused(400, f"decision_{index} must be accept or reject, not {choice!r}")
        if choice and name not in names:
            raise Refused(400, f"ab_{index}: {name[:100]!r} is not a successful AB of {day}")
        if choice:
            decisions.append(Decision(name, ACCEPT if choice == "accept" else REJECT,
                                      _text(form, f"comment_{index}", MAX_COMMENT)))
    light = form.get("light") == "1"
    user = user_of(request) or "operator"
    audit(ws, user, client_of(request), "certify", f"{day.isoformat()}:{len(decisions)}")
    try:
        result = certify(ws, "CALIB", day, decisions, form.get("accept_green") == "1", light, user)
    except DfosError as exc:
        message = exc.message
    else:
        message = (f"{len(result.recorded)} decision(s) recorded; "
                   + (f"{len(result.undecided)} AB(s) still undecided" if result.undecided else
                      "certified (cal_Certif)" if result.certified_flag else "all decided"))
    back = f"/certify/{day.isoformat()}?message={quote(message[:1000])}" + ("&light=1" if light else "")
    return RedirectResponse(back, status_code=303)
