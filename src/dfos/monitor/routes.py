"""The monitor's URLs.

Pages (:mod:`.views`): ``/`` dfoMonitor (the phoenixMonitor in the phoenix flavour, :mod:`.campaign`; the projects
in the opshub flavour, :mod:`.projects`, and ``/opshub/<INSTRUMENT>`` another instrument of the OPSHUB root),
``/dates`` the dfoMonitor in every flavour, ``/abs/<BATCH>`` AB monitor, ``/ab/<AB>`` one AB, ``/health``
the health check, ``/history`` the processing history, ``/migration`` the migration (shadow mode: phases, compare per
date) and ``/migration/<DATE>`` a date's compare report, ``/file?path=`` a workspace file on the
allow-list (:mod:`.security.paths`), ``/todo/<LIST>`` a ToDo list, ``/certify/<BATCH>`` certification,
``/jobs/<id>`` an action's live log.  JSON for live updates: ``/api/abs/<BATCH>``, ``/api/dates``, ``/api/campaign``,
``/api/jobs/<id>``.  State changes (:mod:`.actions`, :mod:`.security.access`) are POSTs that need a
login and the session's CSRF token.

``<BATCH>`` is a mode's batch of a DFO date: its batch id (``SCIENCE_2013-02-12``, ``CALIB_2013-02-12``),
or the bare date for CALIB (``2013-02-12``; ``?mode=SCIENCE`` chooses the other mode):
:func:`~dfos.monitor.web.batch_arg`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from dfos.monitor import actions, panels, projects, views
from dfos.monitor.security import access
from dfos.monitor.web import HERE

__all__ = ["routes"]


def routes() -> list[BaseRoute]:
    return [
        Route("/", views.dfo_monitor),
        Route("/dates", views.dates_page),
        Route("/abs/{batch}", views.ab_monitor),
        Route("/ab/{name}", views.ab_detail),
        Route("/file", views.file_view),
        Route("/health", views.health_page),
        Route("/history", views.history_page),
        Route("/compare", views.compare_page),
        Route("/migration", views.migration_page),
        Route("/migration/{key}", views.migration_report),
        Route("/todo/{name}", views.todo_page),
        Route("/todo/{name}", actions.save_todo, methods=["POST"]),
        Route("/jobs/{id}", views.job_page),
        Route("/certify/{batch}", views.certify_page),
        Route("/certify/{batch}", actions.certify_submit, methods=["POST"]),
        Route("/api/abs/{batch}", views.api_abs),
        Route("/api/dates", views.api_dates),
        Route("/api/campaign", views.api_campaign),
        Route("/api/jobs/{id}", views.api_job),
        Route("/login", access.login, methods=["GET", "POST"]),
        Route("/logout", access.logout, methods=["POST"]),
        Route("/action/{action}", actions.start_action, methods=["POST"]),
        Route("/postit", actions.save_postit, methods=["POST"]),
        *panels.routes(),
        Route("/opshub/{instrument}", projects.other_instrument),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
