"""The monitor web application (Starlette, Jinja2 templates, plain CSS, a little JavaScript of our own),
put together: the server's state, its URLs (:mod:`.routes`), the session middleware and the error
answers, all inside the security guard.

Where things are: pages :mod:`.views`, state changes :mod:`.actions`, the page models :mod:`.facts`
and :mod:`.abmonitor`, SQL and log parsing :mod:`.queries`, request plumbing :mod:`.web`, login,
CSRF, CSP, sessions, access rules and the file allow-list :mod:`.security`.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dfos.config.secrets import url_password
from dfos.errors import DfosError
from dfos.monitor import facts
from dfos.monitor.background import SystemSampler
from dfos.monitor.jobs import JobRunner
from dfos.monitor.routes import routes
from dfos.monitor.security.guard import Guard
from dfos.monitor.security.login import LoginLimiter, LoginSecret, without_password
from dfos.monitor.security.sessions import LIFETIME, RotatingSessionMiddleware, SessionTable, load_secret
from dfos.monitor.web import MonitorState, Refused, error_response
from dfos.workspace import Workspace

__all__ = ["MonitorApp", "create_app"]

#: Secrets shorter than this are not masked (masking "ab" would garble every page).
MIN_MASKED = 4


async def _error(request: Request, exc: Exception) -> Response:
    return error_response(request, exc)


class MonitorApp(Starlette):
    """The Starlette application inside :class:`~dfos.monitor.security.guard.Guard` (headers and size
    limits on every response, errors and 404s included)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Guard(super().__call__)(scope, receive, send)


def create_app(workspace: Workspace, token: str | None = None,
               clock: Callable[[], float] | None = None) -> MonitorApp:
    """The monitor of a workspace.  ``token`` logs in via ``/login?token=`` when no password is set;
    ``clock`` (monotonic seconds) drives the login rate limit (tests)."""
    secret = LoginSecret.of(workspace, token)
    workspace = without_password(workspace)  # the clear-text password is not kept
    db_password = url_password(workspace.db_url)
    state = MonitorState(workspace, facts.MonitorFacts.for_workspace(workspace), JobRunner(workspace),
                         SystemSampler(str(workspace.root)), secret.printed, secret.hash, SessionTable(workspace.root),
                         LoginLimiter(clock) if clock is not None else LoginLimiter(), secret.by_token,
                         (db_password,) if len(db_password) >= MIN_MASKED else ())
    load_secret(workspace.root)  # made at start (mode 600), not at the first request
    middleware = [Middleware(RotatingSessionMiddleware, root=workspace.root, session_cookie="dfos_monitor",
                             same_site="strict", max_age=LIFETIME)]
    app = MonitorApp(routes=routes(), middleware=middleware,
                     exception_handlers={Refused: _error, DfosError: _error, Exception: _error})
    app.state.monitor = state
    # built now, not at the first request on the event loop: the session middleware reads the key file
    app.middleware_stack = app.build_middleware_stack()
    state.system.start()
    return app
