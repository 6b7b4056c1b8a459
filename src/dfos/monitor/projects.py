"""The OPSHUB monitor: the front page in the opshub flavour, organised by PROJECT (docs/opshub.md).

A passive page (no action buttons, no XDM: DFOS disables the disk monitor on the OPSHUB).  Per project its
science dates and every date its ABs come from (a calibration's own date, whichever it is), each with its
CALIB and SCIENCE ABs, one of two states (:func:`date_state`: "ABs and processing jobs created", yellow; or
"processing jobs executing or executed", green), the counts of the cascade's states (failed ones in red)
and the products on disk.  A jump menu links the other instruments of the OPSHUB root
(``/opshub/<INSTRUMENT>``: their projects, read from their workspaces, read-only).

Where the numbers come from: ``$DFO_MON_DIR/PROJECTS/<NAME>/{project.conf,ABs,runs}``, one query of the
project cascade's nodes (``cascade_nodes`` of ``PROJECT_<NAME>``), and the AB files for their products.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from dfos.ab.store import read_ab
from dfos.db import cascade_nodes, engine_for_url
from dfos.errors import DfosError, NotFound
from dfos.keys import Mode
from dfos.monitor.security.access import readable
from dfos.monitor.web import Refused, page, state_of, user_of
from dfos.steps.opshub import load_project, project_abs, project_dag, project_dir, projects, siblings
from dfos.workspace import Workspace, read_workspace

__all__ = ["CREATED", "EXECUTING", "NO_ABS", "DateRow", "ProjectView", "ProjectsPage", "date_state", "other_instrument",
           "passive", "projects_front", "projects_page"]

CREATED = "ABs and processing jobs created"
EXECUTING = "executing or executed"
NO_ABS = "no ABs yet"
#: Cascade states that say a job started (or ended).
_STARTED = frozenset({"running", "succeeded", "failed", "blocked", "incomplete"})


def date_state(abs_: Sequence[str], nodes: Mapping[str, str]) -> str:
    """The state of a (project, date) (pure): no ABs yet; created (ABs and jobs, nothing started); or executing
    or executed (one of its ABs started)."""
    if not abs_:
        return NO_ABS
    return EXECUTING if any(nodes.get(ab) in _STARTED for ab in abs_) else CREATED


@dataclass(frozen=True)
class DateRow:
    date: str
    science_date: bool
    """A date the project names (else a date only its calibrations come from)."""
    calib: tuple[str, ...]
    science: tuple[str, ...]
    state: str
    counts: dict[str, int]
    products: tuple[str, ...]


@dataclass(frozen=True)
class ProjectView:
    name: str
    instrument: str
    dates: tuple[str, ...]
    rows: tuple[DateRow, ...]
    runs: tuple[str, ...] = ()
    """The project's run log, newest last."""

    @property
    def dag(self) -> str:
        return project_dag(self.name)


@dataclass(frozen=True)
class ProjectsPage:
    instrument: str
    root: str
    projects: tuple[ProjectView, ...]
    jump: tuple[tuple[str, str, bool], ...] = field(default_factory=tuple)
    """The OPSHUB root's instruments: (name, link, this one)."""


def _nodes(workspace: Workspace, dag: str) -> dict[str, str]:
    with engine_for_url(workspace.db_url).begin() as db:
        return {r.ab: r.state for r in db.execute(select(cascade_nodes.c.ab, cascade_nodes.c.state)
                                                   .where(cascade_nodes.c.dag_id == dag))}


def _products(workspace: Workspace, names: Iterable[str]) -> tuple[str, ...]:
    """The products on disk of the ABs (those whose AB file is still in $DFO_AB_DIR)."""
    found: list[str] = []
    for name in names:
        try:
            ab = read_ab(workspace.ab_dir, name)
        except DfosError:
            continue
        folder = workspace.expand(ab.prod_path)
        found += [p.name for p in ab.products if (folder / p.name).is_file()]
    return tuple(found)


def _view(workspace: Workspace, name: str) -> ProjectView:
    project = load_project(workspace, name)
    recorded = project_abs(workspace, name)
    nodes = _nodes(workspace, project.dag) if recorded else {}
    named = {d.isoformat() for d in project.dates}
    rows = []
    for day in sorted(named | {d for _, d, _ in recorded}):
        calib = tuple(ab for mode, d, ab in recorded if d == day and mode is Mode.CALIB)
        science = tuple(ab for mode, d, ab in recorded if d == day and mode is Mode.SCIENCE)
        counts: dict[str, int] = {}
        for ab in calib + science:
            state = nodes.get(ab, "queued")
            counts[state] = counts.get(state, 0) + 1
        rows.append(DateRow(day, day in named, calib, science, date_state(calib + science, nodes), counts,
                            _products(workspace, calib + science)))
    log = project_dir(workspace, name) / "runs"
    runs = tuple(log.read_text(encoding="utf-8", errors="replace").splitlines()[-5:]) if log.is_file() else ()
    return ProjectView(project.name, project.instrument, tuple(sorted(named)), tuple(rows), runs)


def projects_page(workspace: Workspace, current: Path | None = None) -> ProjectsPage:
    """The page model of a workspace's projects; ``current``: the root of the workspace the monitor serves (the
    jump menu's own entry links ``/``)."""
    here = (current or workspace.root).resolve()
    jump = tuple((instrument, "/" if root.resolve() == here else f"/opshub/{instrument}",
                  root.resolve() == workspace.root.resolve()) for instrument, root in siblings(workspace))
    return ProjectsPage(workspace.settings.INSTRUMENT, str(workspace.root),
                        tuple(_view(workspace, name) for name in projects(workspace)), jump)


def passive(context: dict[str, Any]) -> dict[str, Any]:
    """The dfoMonitor's context (``/dates``) made passive for the OPSHUB: no action buttons or edit forms (they
    show only to a logged-in person; the actions themselves are refused too).  (The XDM panel is left out in the
    opshub flavour and never scanned: DFOS disables it on the OPSHUB, ``du`` is too slow there.)"""
    return {**context, "logged_in": False}


def projects_front(request: Request) -> Response:
    """``/`` in the opshub flavour (called by :func:`dfos.monitor.views.dfo_monitor`)."""
    workspace = state_of(request).workspace
    return page(request, "projects.html", {"hub": projects_page(workspace)})


@readable
def other_instrument(request: Request) -> Response:
    """``/opshub/<INSTRUMENT>``: another instrument's projects of the same OPSHUB root, read-only."""
    workspace = state_of(request).workspace
    wanted = str(request.path_params["instrument"]).upper()
    for instrument, root in siblings(workspace):
        if instrument == wanted:
            other = read_workspace(root)
            if not user_of(request) and not other.settings.MONITOR_PUBLIC:  # its own monitor would ask for a login
                raise Refused(403, f"the {instrument} workspace's monitor is not public: log in to see its projects")
            return page(request, "projects.html", {"hub": projects_page(other, workspace.root),
                                                   "instrument": other.settings.INSTRUMENT})
    raise NotFound(f"no instrument {wanted[:40]} in this OPSHUB root")
