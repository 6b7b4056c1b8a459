"""``dfos monitor export DIR``: the monitor's pages as static HTML without actions (the version
published to a web server): ``index.html`` (dfoMonitor), ``abs_<DATE>.html`` (CALIB AB monitor, every
page; ``abs_SCIENCE_<DATE>.html`` for a date with SCIENCE ABs), ``health.html`` with its images in
``img/``, ``history.html``, and the style sheet.

Written into a temporary directory beside ``DIR`` and renamed into place at the end, so a web
server never shows half an export.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from dfos.keys import Mode
from dfos.monitor.abmonitor import STATES, ab_page
from dfos.monitor.background import SystemSampler
from dfos.monitor.facts import MonitorFacts
from dfos.monitor.jobs import JobRunner
from dfos.monitor.views import health_context, history_rows, monitor_context
from dfos.monitor.web import HERE, TEMPLATES, MonitorState, base_context
from dfos.workspace import Workspace

__all__ = ["export_site"]


def _render(path: Path, template: str, ws: Workspace, context: dict[str, Any]) -> None:
    page = TEMPLATES.get_template(template).render(
        {**base_context(ws), "request": None, "logged_in": False, "csrf": "", "static": True, **context})
    path.write_text(page, encoding="utf-8")


def export_site(workspace: Workspace, target: Path, wait: float = 30.0) -> int:
    """Write the static site; returns the number of pages.  Background facts are waited for (up to
    ``wait`` seconds) so that the export shows them."""
    state = MonitorState(workspace, MonitorFacts.for_workspace(workspace), JobRunner(workspace),
                         SystemSampler(str(workspace.root)), token="")
    for cached in (state.facts.xdm, state.facts.install, state.facts.cron, state.facts.archive):
        cached.get()  # start them all at once
    for cached in (state.facts.xdm, state.facts.install, state.facts.cron, state.facts.archive):
        cached.wait(wait)
    state.system.samples.append(state.system.sample())
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        pages = _write(state, work)
        old = target.with_name(f".{target.name}.old")
        if target.exists():
            target.rename(old)
        work.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return pages


def _ab_pages(ws: Workspace, out: Path, day: date, mode: Mode) -> int:
    """Every page of the AB monitor of a mode's ABs of a date; how many."""
    first = ab_page(ws, day, mode)
    stem = f"abs_{first.address}"
    for number in range(1, first.pages + 1):
        page = first if number == 1 else ab_page(ws, day, mode, page=number)
        name = f"{stem}.html" if number == 1 else f"{stem}_p{number}.html"
        _render(out / name, "abs.html", ws, {
            "page": page, "chosen": {}, "states": STATES,
            "prev_url": "" if number == 1 else (f"{stem}.html" if number == 2 else f"{stem}_p{number - 1}.html"),
            "next_url": f"{stem}_p{number + 1}.html" if number < page.pages else ""})
    return first.pages


def _write(state: MonitorState, out: Path) -> int:
    ws = state.workspace
    shutil.copyfile(HERE / "static" / "monitor.css", out / "monitor.css")
    context = monitor_context(state)
    _render(out / "index.html", "monitor.html", ws, context)
    pages = 1
    for row in context["rows"]:
        pages += _ab_pages(ws, out, row.view.date, Mode.CALIB)
        if row.n_sci_abs is not None:
            pages += _ab_pages(ws, out, row.view.date, Mode.SCIENCE)
    (out / "img").mkdir()  # the health plots are inline SVG; kept for links to images
    _render(out / "health.html", "health.html", ws, health_context(state))
    _render(out / "history.html", "history.html", ws, {"rows": history_rows(ws)})
    return pages + 2
