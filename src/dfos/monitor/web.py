"""Request plumbing shared by the monitor's pages and actions: the server state, the templates and
page rendering, who sent a request, error answers, the batch (mode and date) in a URL.

Who may read and who may change is :mod:`dfos.monitor.security.access`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import pass_context
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.templating import Jinja2Templates

from dfos import __version__
from dfos.errors import DfosError, FormatError, InvalidDate, NotFound, UsageError
from dfos.keys import BatchId, KeyKind, Mode, ProcessingKey
from dfos.monitor import facts
from dfos.monitor.background import SystemSampler
from dfos.monitor.jobs import JobRunner
from dfos.monitor.security.login import LoginLimiter, PasswordHash
from dfos.monitor.security.sessions import SessionTable, csrf_token
from dfos.workspace import Workspace

__all__ = ["HERE", "TEMPLATES", "MonitorState", "Refused", "base_context", "batch_arg", "client_of",
           "error_response", "href", "page", "state_of", "user_of"]

HERE = Path(__file__).resolve().parent


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
            "image": f"/file?path={quote(arg)}", "todo": f"/todo/{quote(arg)}",
            "certify": f"/certify/{quote(arg)}", "migration": f"/migration/{quote(arg)}" if arg else "/migration",
            }.get(kind, "")


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
            "user": user_of(request) or "",
            "csrf": csrf_token(request.session), "static": False}
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status)


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


def batch_arg(request: Request, runs: bool = False) -> BatchId:
    """The ``{batch}`` of the URL: a batch id of a DFO date (``SCIENCE_2013-02-12``), or a DFO date whose
    mode is the ``mode`` query parameter (any case; CALIB when absent or unknown).  With ``runs`` (the AB
    monitor) also the SCIENCE batch of a phoenix run (``SCIENCE_090.C-0456A``, or the bare run ID).  404
    otherwise (other keys, QC and sub-cascade ids)."""
    text = str(request.path_params["batch"])[:80]
    try:
        if text[:1].isdigit():
            key = ProcessingKey.parse(text)
            mode = Mode.SCIENCE if key.kind is KeyKind.RUN else _mode(request.query_params.get("mode", ""))
            batch = BatchId.of(mode, key)
        else:
            batch = BatchId.parse(text)
    except DfosError as exc:
        raise Refused(404, exc.message) from None
    run = runs and batch.key.kind is KeyKind.RUN and batch.mode is Mode.SCIENCE
    if batch.qc or batch.sub or (batch.key.day is None and not run):
        raise Refused(404, f"{text!r} is not a batch of a DFO date, like SCIENCE_2013-02-12"
                           + (", or of a run, like SCIENCE_090.C-0456A" if runs else ""))
    return batch


def _mode(text: str) -> Mode:
    try:
        return Mode.parse(text)
    except UsageError:
        return Mode.CALIB
