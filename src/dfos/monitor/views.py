"""The monitor's pages and JSON: what each GET shows, gathered from the page models (:mod:`.facts`,
:mod:`.abmonitor`), the queries (:mod:`.queries`) and the steps, and laid out by the templates.

Every handler is a plain function wrapped by :func:`~dfos.monitor.security.access.readable`: it runs
in a worker thread after the access check, so its database and file work never blocks the event
loop.  The context builders (:func:`monitor_context`, :func:`health_context`, :func:`history_rows`)
serve the static export too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response

from dfos.ab.format import parse
from dfos.config.secrets import mask_url
from dfos.config.settings import Flavour
from dfos.errors import ConfigError, DfosError, FormatError, UnsafeName, UsageError, WorkspaceError
from dfos.keys import BatchId, Mode, ProcessingKey
from dfos.monitor import facts, honest, panels, rerun
from dfos.monitor.ab_files import ab_explain, ab_products
from dfos.monitor.abmonitor import STATES, ab_page, address
from dfos.monitor.background import Sample
from dfos.monitor.campaign import CERTIFICATION, VERDICTS, campaign_json, campaign_page
from dfos.monitor.certification import ab_certification_context, certify_context, history_certification_context
from dfos.monitor.jobs import ACTIONS, Job
from dfos.monitor.queries import ab_records, key_tallies, shown_text, superseded_lines, tail
from dfos.monitor.security.access import readable
from dfos.monitor.security.guard import IMAGE_CSP
from dfos.monitor.security.paths import FITS, IMAGES, OutsideWorkspace, shown_file
from dfos.monitor.web import MonitorState, Refused, batch_arg, page, state_of, user_of
from dfos.naming import safe_name
from dfos.status.machine import flags_by_key
from dfos.steps.certify import certification_rows
from dfos.steps.create_ab import explain_text, supersession_log
from dfos.steps.rejected_inputs import rejected_inputs
from dfos.steps.sharing import WARN, Finding, sharing_findings
from dfos.steps.status import ab_count
from dfos.workspace import Workspace

__all__ = ["ab_detail", "ab_monitor", "api_abs", "api_campaign", "api_dates", "api_job", "certify_page", "compare_body",
           "compare_page", "dates_page",
           "dfo_monitor", "file_view", "health_context", "health_page", "history_page", "history_rows", "job_page",
           "migration_page", "migration_report",
           "monitor_context", "todo_page"]

#: The scores the AB monitor filters by.
SCORES = ("green", "red", "grey")


def _rel(ws: Workspace, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ws.root.resolve()))
    except ValueError:
        return ""


# --- dfoMonitor -----------------------------------------------------------------------------------------

def _sharing(ws: Workspace) -> list[Finding]:
    """What the workspace shares with another (docs/migration.md); a database fault is said, not raised."""
    try:
        return sharing_findings(ws)
    except DfosError as exc:
        return [Finding("database", WARN, f"sharing not checked: {exc.message}")]


def _table_state(ws: Workspace, rows: list[facts.DateRow]
                 ) -> tuple[dict[str, dict[str, dict[str, int]]], dict[str, dict[str, dict[str, Any]]], str]:
    """The DATE table's failed/blocked/incomplete counts, its abort/reset buttons, and the fingerprint the open
    page compares with ``/api/dates`` to know when to redraw (one computation for both, so they always agree)."""
    trouble = honest.date_trouble(ws, rows)
    date_actions = rerun.date_buttons(ws, rows)  # abort now, reset (dfos.monitor.rerun)
    return trouble, date_actions, honest.trouble_fingerprint(facts.dates_state(rows) + rerun.running_mark(date_actions),
                                                             trouble)


def monitor_context(state: MonitorState) -> dict[str, Any]:
    """Everything the dfoMonitor page shows."""
    ws = state.workspace
    today, rows = facts.date_rows(ws)
    trouble, date_actions, fingerprint = _table_state(ws, rows)
    xdm, xdm_age = state.facts.xdm.get()
    archive, archive_age = state.facts.archive.get()
    cron, _ = state.facts.cron.get()
    install, _ = state.facts.install.get()
    history = state.system.history()
    return {
        "today": today, "rows": rows, "date_actions": date_actions,
        "dates_state": fingerprint,
        "trouble": trouble, "xdm": xdm, "xdm_age": xdm_age,
        "archive": archive,
        "archive_age": archive_age, "cron": cron, "install": install, "n_abs": facts.ab_count_in_dir(ws),
        "database": mask_url(ws.db_url), "ab_limit": ws.settings.AB_WARN_LIMIT, "last": facts.last_abs(ws),
        "todos": facts.todo_lists(ws), "postit": shown_text(ws.mon_dir / "DFO_POSTIT"),
        "links": facts.link_bar(ws.settings.MONITOR_LINKS), "system": history[-1] if history else None,
        "spark": _sparkline(history), "jobs": state.jobs.recent(5), "actions": ACTIONS,
        "sharing": _sharing(ws),
        **panels.context(state),
    }


@readable
def dfo_monitor(request: Request) -> Response:
    """The front page: the phoenixMonitor in the phoenix flavour, the dfoMonitor otherwise."""
    state = state_of(request)
    if state.workspace.settings.FLAVOUR is Flavour.PHOENIX:
        return page(request, "campaign.html", {"campaign": campaign_page(state.workspace), "states": STATES,
                                               "certification": CERTIFICATION, "verdicts": VERDICTS})
    if state.workspace.settings.FLAVOUR is Flavour.OPSHUB:  # the projects (docs/opshub.md)
        from dfos.monitor.projects import projects_front

        return projects_front(request)
    return page(request, "monitor.html", monitor_context(state))


@readable
def dates_page(request: Request) -> Response:
    """The dfoMonitor (panels and the DATE table) in every flavour; the phoenixMonitor links to it."""
    state = state_of(request)
    if state.workspace.settings.FLAVOUR is Flavour.OPSHUB:  # passive: no actions, no XDM (docs/opshub.md)
        from dfos.monitor.projects import passive

        return page(request, "monitor.html", passive(monitor_context(state)))
    return page(request, "monitor.html", monitor_context(state))


@readable
def api_campaign(request: Request) -> Response:
    return JSONResponse(campaign_json(campaign_page(state_of(request).workspace)))


def _sparkline(history: list[Sample]) -> str:
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


@readable
def api_dates(request: Request) -> Response:
    ws = state_of(request).workspace
    today, rows = facts.date_rows(ws)
    trouble, _, fingerprint = _table_state(ws, rows)
    return JSONResponse({"today": today, "state": fingerprint,
                         "dates": [{**r.view.to_json(), "n_cal_abs": r.n_cal_abs, "n_sci_abs": r.n_sci_abs,
                                    "trouble": trouble.get(r.key, {})}
                                   for r in rows]})


# --- AB monitor -----------------------------------------------------------------------------------------

def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    state = q.get("state") or None
    score = q.get("score") or None
    page_text = q.get("page", "1")
    page_number = int(page_text) if page_text.isdigit() and len(page_text) < 9 else 1
    raw_type = (q.get("raw_type") or "")[:100] or None
    return {"state": state if state in STATES else None, "raw_type": raw_type,
            "score": score if score in SCORES else None, "page": max(1, page_number)}


def _ab_batch(request: Request) -> BatchId:
    """The batch of an AB monitor URL: of a date, or of a phoenix run that has an AB list (404 otherwise)."""
    batch = batch_arg(request, runs=True)
    if batch.key.day is None and not state_of(request).workspace.ab_list(batch.mode, batch.key).is_file():
        raise Refused(404, f"no ABs of the run {batch.key} yet: 'dfos phoenix -r {batch.key} -C' creates them")
    return batch


@readable
def ab_monitor(request: Request) -> Response:
    batch = _ab_batch(request)
    chosen = _filters(request)
    found = ab_page(state_of(request).workspace, batch.key, batch.mode, **chosen)

    def url(number: int) -> str:
        query = {k: v for k, v in chosen.items() if v and k != "page"}
        return f"/abs/{found.address}?" + urlencode({**query, "page": number})

    extras = honest.ab_extras(state_of(request).workspace, found.date, found.rows)
    return page(request, "abs.html", {"page": found, "chosen": chosen, "states": STATES, "extras": extras,
                                      "buttons": rerun.batch_buttons(state_of(request).workspace, batch),
                                      "rerun_states": rerun.RERUN_STATES,
                                      "first_url": url(1) if found.page > 1 else "",
                                      "prev_url": url(found.page - 1) if found.page > 1 else "",
                                      "next_url": url(found.page + 1) if found.page < found.pages else "",
                                      "last_url": url(found.pages) if found.page < found.pages else ""})


@readable
def api_abs(request: Request) -> Response:
    batch = _ab_batch(request)
    found = ab_page(state_of(request).workspace, batch.key, batch.mode, **_filters(request))
    extras = honest.ab_extras(state_of(request).workspace, found.date, found.rows)
    return JSONResponse({"date": found.date, "mode": found.mode.value, "batch": found.batch.render(),
                         "counts": found.counts, "total": found.total, "matching": found.matching,
                         "page": found.page, "pages": found.pages,
                         "abs": [{**r.to_json(), **extras[r.name].to_json()} for r in found.rows]})


# --- one AB ---------------------------------------------------------------------------------------------

def _safe(value: str) -> str | None:
    try:
        return safe_name(value)
    except UnsafeName:
        return None


def _ab_file(ws: Workspace, name: str) -> Path:
    """The AB file of ``name``: in ``$DFO_AB_DIR``, or of a moved date in ``$DFO_LOG_DIR/<DATE>`` (404)."""
    if not name.endswith(".ab"):
        raise Refused(404, f"no AB {name}")
    ab_path = ws.ab_dir / name
    if not ab_path.is_file():
        ab_path = next(iter(sorted(ws.log_dir.glob(f"*/{name}"))), ab_path)
    if not ab_path.is_file():
        raise Refused(404, f"no AB {name}")
    return ab_path


def _explain(ws: Workspace, name: str) -> str:
    try:
        return explain_text(ws, name)
    except DfosError as exc:
        return exc.message


def _superseded(ws: Workspace, batch: str | None, name: str) -> list[str]:
    """The supersession log's lines about this AB (none for a batch id that is no safe name)."""
    return superseded_lines(supersession_log(ws, batch), name) if batch else []


def _batch_of(batch_id: str) -> BatchId | None:
    """The batch an AB file names (None for an id that is none: the page shows the AB without it)."""
    try:
        return BatchId.parse(batch_id).base
    except DfosError:
        return None


@readable
def ab_detail(request: Request) -> Response:
    state = state_of(request)
    ws = state.workspace
    name = safe_name(request.path_params["name"], "AB name")  # UnsafeName: 400
    ab_path = _ab_file(ws, name)
    text = ab_path.read_text(encoding="utf-8", errors="replace")
    ab = parse(text, str(ab_path))  # FormatError: 400
    log_name, prod_root, day = _safe(ab.log_name), _safe(ab.prod_root), _safe(ab.date)
    log = ab_path.parent / log_name if log_name else None
    log_tail = tail(log, 8000)[0] if log is not None and log.is_file() else ""
    products = ab_products(ws, ab, ab_path)  # where they are now: certified names after move (issue 20)
    plots = sorted((ws.path("DFO_PLT_DIR") / day).glob(f"{prod_root}_*.png")) if day and prod_root else []
    records = ab_records(ws, name)
    sof = "".join(f"{ws.expand(path)} {tag}\n" for path, tag in ab.sof)
    batch = _batch_of(ab.batch_id)
    rejected = rejected_inputs(ws, batch.mode, batch.key, [name]).get(name, ()) if batch else ()
    return page(request, "ab.html", {
        "batch": batch, "address": address(batch) if batch else _safe(ab.date) or "", "rejected": rejected,
        "ab": ab, "text": state.mask(text), "sof": state.mask(sof), "log_tail": state.mask(log_tail),
        "log_rel": _rel(ws, log) if log is not None and log.is_file() else "",
        "products": [(p.name, _rel(ws, p)) for p in products], "plots": [_rel(ws, p) for p in plots],
        "qclog": state.mask(shown_text(ab_path.parent / f"{name.removesuffix('.ab')}.qclog")),
        "explain": state.mask(ab_explain(ws, ab_path)), "runs": records.runs, "qc": records.qc,
        "decisions": records.decisions, "superseded": _superseded(ws, _safe(ab.batch_id), name),
        **ab_certification_context(ws, name)})


# --- files ----------------------------------------------------------------------------------------------

@readable
def file_view(request: Request) -> Response:
    state = state_of(request)
    ws = state.workspace
    try:
        path = shown_file(ws, request.query_params.get("path", ""))
    except OutsideWorkspace as exc:
        return PlainTextResponse(str(exc), status_code=404)
    suffix = path.suffix.lower()
    if suffix in IMAGES:
        return FileResponse(path, media_type=IMAGES[suffix], headers={"Content-Security-Policy": IMAGE_CSP})
    if path.name.lower().endswith(FITS):
        return PlainTextResponse(f"{path.name}: FITS file, {path.stat().st_size} bytes", status_code=200)
    text, cut = tail(path)
    return page(request, "file.html", {"path": _rel(ws, path), "text": state.mask(text), "cut": cut,
                                       "log_lines": honest.log_lines(state.mask(text))})


# --- health and history ---------------------------------------------------------------------------------

def health_context(state: MonitorState, days: int = 7) -> dict[str, Any]:
    """The health page: the trends of the last ``days`` days from the plot cache (:mod:`dfos.steps.health_plots`)."""
    from dfos.monitor.health import health_page_context

    return health_page_context(state.workspace, days)


@readable
def health_page(request: Request) -> Response:
    from dfos.monitor.health import days_arg

    return page(request, "health.html", health_context(state_of(request), days_arg(request.query_params.get("days"))))


def migration_context(ws: Workspace) -> dict[str, Any]:
    """The migration page: shadow mode's reference, the phases of the migration plan, the compared dates."""
    from dfos.steps.shadow import phases, read_state

    state = read_state(ws)
    return {"state": state, "phases": phases(state, baseline=(ws.root / ".migrate").is_dir(), here=str(ws.root)),
            "entries": list(reversed(state.entries))}


@readable
def migration_page(request: Request) -> Response:
    return page(request, "migration.html", migration_context(state_of(request).workspace))


@readable
def migration_report(request: Request) -> Response:
    """One date's compare report of shadow mode (the text report, as ``dfos compare`` prints it)."""
    from dfos.dates import parse_date
    from dfos.steps.shadow import shadow_dir

    key = parse_date(request.path_params["key"]).isoformat()
    ws = state_of(request).workspace
    report = shadow_dir(ws) / f"compare_{key}.txt"
    if not report.is_file():
        raise Refused(404, f"no compare report for {key}")
    return page(request, "migration_report.html", {"key": key, "text": shown_text(report)})


@readable
def history_page(request: Request) -> Response:
    ws = state_of(request).workspace
    return page(request, "history.html", {"rows": history_rows(ws), **history_certification_context(ws)})


def _abs_of(ws: Workspace, mode: Mode, key: str) -> int | None:
    """ABs in the AB list of a mode and DFO_STATUS key (None: no list)."""
    try:
        path = ws.ab_list(mode, key)
    except (UsageError, FormatError):  # not a processing key: it has no AB list
        return None
    return ab_count(path)


def history_rows(ws: Workspace) -> list[dict[str, Any]]:
    """One line per date of DFO_STATUS: flags, AB counts per mode, failures, certification, comments."""
    flags = flags_by_key(ws.status_log.read())
    tallies = key_tallies(ws)
    rows = []
    for key in sorted(flags, reverse=True):
        n_sci = _abs_of(ws, Mode.SCIENCE, key)
        rows.append({"date": key, "flags": flags[key], "finished": "finished" in flags[key],
                     "n_abs": _abs_of(ws, Mode.CALIB, key), "n_sci_abs": n_sci,
                     "sci_address": address(BatchId.of(Mode.SCIENCE, key)) if n_sci is not None else "",
                     "failed": tallies.failed.get(key, 0), "certified": tallies.certified.get(key, 0),
                     "comments": tallies.comments.get(key, [])})
    return rows


# --- jobs, ToDo lists, certification ---------------------------------------------------------------------

def _job(request: Request) -> Job:
    text = str(request.path_params["id"])
    job = state_of(request).jobs.get(int(text)) if text.isdigit() and len(text) < 12 else None
    if job is None:
        raise Refused(404, "no such job")
    return job


@readable
def job_page(request: Request) -> Response:
    job = _job(request)
    log = state_of(request).mask(tail(job.log)[0])
    return page(request, "job.html", {"job": job, "log": log, "log_lines": honest.log_lines(log)})


@readable
def api_job(request: Request) -> Response:
    job = _job(request)
    return JSONResponse({"id": job.id, "state": job.state, "label": job.label,
                         "log": state_of(request).mask(tail(job.log)[0]), "returncodes": job.returncodes,
                         "problems": [state_of(request).mask(p) for p in job.problems]})


@readable
def todo_page(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in facts.TODO_LISTS:
        raise Refused(404, "unknown ToDo list")
    path = state_of(request).workspace.job_dir / name
    return page(request, "todo.html", {"name": name, "text": shown_text(path), "exists": path.is_file()})


@readable
def certify_page(request: Request) -> Response:
    batch = batch_arg(request)
    ws = state_of(request).workspace
    rows = certification_rows(ws, batch.mode, batch.key)
    rejected = rejected_inputs(ws, batch.mode, batch.key, [row.ab for row in rows])
    return page(request, "certify.html", {"day": batch.key.text, "mode": batch.mode.value, "address": address(batch),
                                          "rows": rows, "rejected": rejected,
                                          **certify_context(ws, batch, [row.ab for row in rows]),
                                          "light": request.query_params.get("light") == "1",
                                          "message": request.query_params.get("message", "")[:1000]})


def compare_body(ws: Workspace, other: str, key: str = "", mode: str = "") -> str:
    """The HTML of ``dfos compare`` of this workspace (A) against the workspace at ``other`` (B), for a page body
    (the compare page; a migration page that shows compare results).  Only reads both workspaces."""
    from dfos.steps.compare import compare_workspaces, render_html_body
    from dfos.workspace import read_workspace

    b = read_workspace(Path(other))
    if b.root == ws.root:
        raise UsageError("B is this workspace: name another workspace's root")
    report = compare_workspaces(read_workspace(ws.root), b, keys=[key] if key else None,
                                mode=mode.upper() or None)
    return render_html_body(report)


@readable
def compare_page(request: Request) -> Response:
    """``/compare?b=ROOT[&d=DATE][&mode=CALIB|SCIENCE]``: this workspace against another one (read-only)."""
    q = request.query_params
    other, key, mode = q.get("b", "")[:1000], q.get("d", "")[:80], q.get("mode", "")[:16]
    if mode and mode.upper() not in ("CALIB", "SCIENCE"):
        raise Refused(400, "mode must be CALIB or SCIENCE")
    if key:
        try:
            key = ProcessingKey.parse(key).text
        except UsageError as exc:
            raise Refused(400, exc.message) from None
    body = ""
    if other and user_of(request) is None:  # MONITOR_PUBLIC shows pages, not other workspaces of this machine
        raise Refused(403, "log in to compare with another workspace")
    if other:
        try:
            body = compare_body(state_of(request).workspace, other, key, mode)
        except (WorkspaceError, UsageError, ConfigError) as exc:
            raise Refused(400, exc.message) from None
    return page(request, "compare.html", {"other": other, "key": key, "mode": mode.upper(), "body": body})
