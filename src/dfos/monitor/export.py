"""``dfos monitor export DIR``: the monitor's pages as static HTML without actions (the version
published to a web server): ``index.html`` (dfoMonitor), ``abs_<DATE>.html`` (CALIB AB monitor, every
page; ``abs_SCIENCE_<DATE>.html`` for a date with SCIENCE ABs), ``health.html`` with its images in
``img/``, ``history.html``, and the style sheet.

Written into a temporary directory beside ``DIR`` and swapped into place at the end (one atomic
``renameat2(RENAME_EXCHANGE)``, where the file system has it; else two renames), so a web server never
shows half an export: a failing or killed export leaves the previous one as it was.  One export at a time
(``$DFO_MON_DIR/.export.lock``); the next one removes what a killed one left beside ``DIR``.

``EXPORT_COMMAND`` publishes the export (:func:`publish`): an argument list (``rsync -a {dir}/
host:/qc/web/``) split like a shell line and run without one, ``{dir}`` replaced by the export's path
inside its argument.
"""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from dfos.fsutil import exclusive_lock
from dfos.keys import Mode
from dfos.monitor.abmonitor import STATES, ab_page
from dfos.monitor.background import SystemSampler
from dfos.monitor.certification import history_certification_context
from dfos.monitor.facts import MonitorFacts
from dfos.monitor.honest import ab_extras
from dfos.monitor.jobs import JobRunner
from dfos.monitor.views import health_context, history_rows, monitor_context
from dfos.monitor.web import HERE, TEMPLATES, MonitorState, base_context
from dfos.workspace import Workspace

__all__ = ["Published", "command_argv", "export_dir", "export_site", "publish"]


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
    with exclusive_lock(workspace.mon_dir / ".export.lock"):
        for stale in target.parent.glob(f".{target.name}.*"):  # left by a killed export
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            pages = _write(state, work)
            os.chmod(work, 0o755)  # mkdtemp's 700 would hide the export from a web server
            _swap(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return pages


def export_dir(workspace: Workspace) -> Path:
    """``EXPORT_DIR`` (relative to the workspace), or ``$DFO_MON_DIR/export``."""
    chosen = workspace.settings.EXPORT_DIR
    return workspace.root / chosen if chosen else workspace.mon_dir / "export"


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); False where the system or file system cannot."""
    import ctypes

    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _swap(work: Path, target: Path) -> None:
    """Put the finished export ``work`` at ``target``; the previous export goes."""
    if not target.exists():
        work.rename(target)
        return
    if _exchange(work, target):
        shutil.rmtree(work, ignore_errors=True)  # now the previous export
        return
    old = target.with_name(f".{target.name}.old")
    target.rename(old)
    work.rename(target)
    shutil.rmtree(old, ignore_errors=True)


@dataclass(frozen=True)
class Published:
    """What ``EXPORT_COMMAND`` did: its arguments, exit status and last line of output."""

    argv: list[str]
    code: int
    said: str


def command_argv(template: str, directory: Path) -> list[str]:
    """The arguments of ``EXPORT_COMMAND`` for an export in ``directory``: split like a shell line, ``{dir}``
    replaced inside each argument (a path with spaces stays one argument)."""
    return [arg.replace("{dir}", str(directory)) for arg in shlex.split(template)]


def publish(workspace: Workspace, directory: Path, timeout: float = 3600.0) -> Published | None:
    """Run ``EXPORT_COMMAND`` (None when there is none) on an export; never raises for the command's failure."""
    template = workspace.settings.EXPORT_COMMAND.strip()
    if not template:
        return None
    argv = command_argv(template, directory)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL,
                              cwd=workspace.root, timeout=timeout, check=False)
    except FileNotFoundError:
        return Published(argv, 127, f"no program {argv[0]!r}")
    except PermissionError:
        return Published(argv, 126, f"{argv[0]} cannot be run (permission denied)")
    except subprocess.TimeoutExpired:
        return Published(argv, 124, f"stopped after {timeout:.0f} s")
    lines = [line.strip() for line in (done.stderr.strip() or done.stdout).splitlines() if line.strip()]
    return Published(argv, done.returncode, lines[-1][:300] if lines else "")


def _ab_pages(ws: Workspace, out: Path, day: date, mode: Mode) -> int:
    """Every page of the AB monitor of a mode's ABs of a date; how many."""
    first = ab_page(ws, day, mode)
    stem = f"abs_{first.address}"
    for number in range(1, first.pages + 1):
        page = first if number == 1 else ab_page(ws, day, mode, page=number)
        name = f"{stem}.html" if number == 1 else f"{stem}_p{number}.html"
        _render(out / name, "abs.html", ws, {
            "page": page, "chosen": {}, "states": STATES, "extras": ab_extras(ws, page.date, page.rows),
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
    _render(out / "history.html", "history.html", ws, {"rows": history_rows(ws), **history_certification_context(ws)})
    return pages + 2
