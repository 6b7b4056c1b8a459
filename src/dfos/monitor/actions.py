"""The monitor's state-changing routes: actions (background jobs), ToDo lists, POSTIT notes and
certification decisions.  (Login and logout: :mod:`dfos.monitor.security.access`.)

Each is wrapped by :func:`~dfos.monitor.security.access.changing` (logged in, CSRF token checked; the
handler runs in a worker thread).  Every form field is validated with limits before anything runs (a
bad value: 400 with a message); every edit and launch is written to the audit log with its user
(:func:`~dfos.monitor.security.audit.audit`).
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from dfos.dates import parse_date
from dfos.errors import DfosError
from dfos.fsutil import write_text_atomic
from dfos.keys import BatchId, Mode, Stage, mode_flag
from dfos.monitor import facts
from dfos.monitor.abmonitor import address
from dfos.monitor.confirm import DESTRUCTIVE, ask, confirmed
from dfos.monitor.jobs import ACTIONS, DATE_ACTIONS, MODE_ACTIONS, action_label, action_steps, rerun_names
from dfos.monitor.rerun import descendants_field, rerun_field
from dfos.monitor.security.access import changing
from dfos.monitor.security.audit import audit
from dfos.monitor.web import Refused, batch_arg, client_of, state_of, user_of
from dfos.steps.certify import ACCEPT, REJECT, Decision, certification_rows, certify
from dfos.steps.sharing import job_file_roots

__all__ = ["certify_submit", "save_postit", "save_todo", "start_action"]

#: The longest POSTIT note and ToDo list (characters).
MAX_POSTIT = 20_000
MAX_TODO = 100_000
MAX_COMMENT = 2000


def _text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise Refused(400, f"{name}: text expected")
    if len(value) > limit:
        raise Refused(400, f"{name}: at most {limit} characters, not {len(value)}")
    return value


def _target(action: str, day: date | None, mode: Mode, todo: str) -> str:
    """What the audit log names: the batch (``SCIENCE_2013-02-12``), the date, or the ToDo list."""
    if day is None:
        return todo
    return BatchId.of(mode, day).render() if action in MODE_ACTIONS else day.isoformat()


@changing
def start_action(request: Request, form: FormData) -> Response:
    state = state_of(request)
    action = request.path_params["action"]
    if state.workspace.settings.FLAVOUR.value == "opshub":  # the OPSHUB monitor is passive (docs/opshub.md)
        return PlainTextResponse("the OPSHUB monitor has no actions: 'dfos project run NAME' processes a project",
                                 status_code=403)
    if action not in ACTIONS:
        return PlainTextResponse(f"unknown action {action[:100]!r}", status_code=404)
    day = None
    try:
        if action in DATE_ACTIONS:
            day = parse_date(_text(form, "date", 20))
        mode = Mode.parse(_text(form, "mode", 20) or Mode.CALIB) if action in MODE_ACTIONS else Mode.CALIB
        names = rerun_names(state.workspace, day, mode, rerun_field(form)) \
            if action == "rerun" and day is not None else ()
        descendants = descendants_field(form) if action == "rerun" else False
    except DfosError as exc:
        return PlainTextResponse(exc.message, status_code=400)
    todo = _text(form, "todo", 40)
    if action == "launch_todo" and todo not in facts.TODO_LISTS:
        return PlainTextResponse("unknown ToDo list", status_code=400)
    if action == "launch_todo" and (others := job_file_roots(state.workspace, todo)):
        return PlainTextResponse(f"{todo} names another workspace (--root {others[0]}): launching it would change "
                                 "that workspace; run 'dfos sharing relocate' first", status_code=409)
    if action in DESTRUCTIVE and not confirmed(form.get("confirm")):  # ask first, naming what will happen
        return ask(request, state.workspace, action, day, mode, todo, action_label(action, day, mode, todo or None),
                   {"abs": " ".join(names), "descendants": "1" if descendants else ""})
    steps = action_steps(state.workspace, action, day, todo or None, mode, names, descendants)
    audit(state.workspace, user_of(request) or "-", client_of(request), action, _target(action, day, mode, todo))
    job = state.jobs.start(action, action_label(action, day, mode, todo or None), steps,
                           BatchId.of(mode, day).render() if action in ("process", "rerun") and day else "")
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
    batch = batch_arg(request)
    day = batch.key.day
    if day is None:  # batch_arg takes DFO dates only
        raise Refused(404, f"{batch} is not a batch of a DFO date")
    count = _count(form)  # the form first: nothing is read for a request that cannot be right
    ws = state_of(request).workspace
    names = {row.ab for row in certification_rows(ws, batch.mode, day)}
    if count > len(names):
        raise Refused(400, f"count {count} is more than the {len(names)} AB(s) of the date")
    decisions = []
    alone = []  # a comment typed without accept or reject: never dropped in silence
    for index in range(count):
        name, choice = _text(form, f"ab_{index}", 300), _text(form, f"decision_{index}", 10)
        if choice not in ("accept", "reject", ""):
            raise Refused(400, f"decision_{index} must be accept or reject, not {choice!r}")
        if choice and name not in names:
            raise Refused(400, f"ab_{index}: {name[:100]!r} is not a successful AB of {day}")
        if choice:
            decisions.append(Decision(name, ACCEPT if choice == "accept" else REJECT,
                                      _text(form, f"comment_{index}", MAX_COMMENT)))
        elif _text(form, f"comment_{index}", MAX_COMMENT).strip():
            alone.append(name[:100])
    light = form.get("light") == "1"
    if alone:
        message = (f"nothing recorded: a comment needs accept or reject ({', '.join(alone)}); "
                   "choose one and record again")
        return RedirectResponse(f"/certify/{address(batch)}?message={quote(message[:1000])}"
                                + ("&light=1" if light else ""), status_code=303)
    user = user_of(request) or "operator"
    audit(ws, user, client_of(request), "certify", f"{batch.render()}:{len(decisions)}")
    try:
        result = certify(ws, batch.mode, day, decisions, form.get("accept_green") == "1", light, user)
    except DfosError as exc:
        message = exc.message
    else:
        message = (f"{len(result.recorded)} decision(s) recorded; "
                   + (f"{len(result.undecided)} AB(s) still undecided" if result.undecided else
                      f"certified ({mode_flag(batch.mode, Stage.CERTIF)})" if result.certified_flag else "all decided"))
    back = f"/certify/{address(batch)}?message={quote(message[:1000])}" + ("&light=1" if light else "")
    return RedirectResponse(back, status_code=303)
