"""OPSHUB (DFOS distillery): processing projects instead of dates (docs/opshub.md).

An OPSHUB root is a directory holding one workspace per instrument (``<ROOT>/<INSTRUMENT>``, each of the
``opshub`` flavour) and the file ``<ROOT>/OPSHUB`` that lists them, one a line: ``dfos init ROOT --flavour
opshub --instrument NACO --instrument UVES`` makes it; the monitor's jump menu links the instruments.

A project is a processing key (:mod:`dfos.keys`: a letter, then letters, digits and ``_ - . +``) of one
instrument's workspace, stored as ``$DFO_MON_DIR/PROJECTS/<NAME>/project.conf`` (:func:`render_project`):

.. code-block:: text

    # OPSHUB project: written by dfos project create; one KEY VALUE a line
    PROJECT_NAME  NGC253_followup
    INSTRUMENT    NACO
    CREATED       2013-03-02T14:00:00
    DATE          2013-02-11
    DATE          2013-02-12
    SCIENCE_FILE  NACO.2013-02-12T01:20:00.000.fits

The ``DATE`` lines are the project's science dates; ``SCIENCE_FILE`` lines (from ``--science-list``) narrow
a date's science to the ABs that read one of the named frames.  ``dfos project run NAME``
(:func:`run_project`) associates the science of those dates and the calibrations it needs from any date
(within ``PROJECT_CALIB_DAYS``), and runs CALIB and SCIENCE ABs in one cascade, ``PROJECT_<NAME>``: the
calibrations first, through the dependencies.  What the project holds is written to
``$DFO_MON_DIR/PROJECTS/<NAME>/ABs`` (``<MODE> <DATE> <AB>`` a line, the date being the AB's own) and each
run's outcome appended to ``.../runs``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from dfos import clock
from dfos.ab.lists import read_ab_list
from dfos.ab.model import AB, Completeness
from dfos.ab.store import ab_reader
from dfos.config.settings import Flavour
from dfos.dates import dfo_date, format_timestamp, parse_date
from dfos.errors import DfosError, FormatError, InvalidDate, NotFound, StateError, UsageError
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.instruments.registry import get_instrument
from dfos.keys import BatchId, KeyKind, Mode, ProcessingKey, Stage, mode_flag
from dfos.naming import RawName
from dfos.status.machine import flags_by_key
from dfos.workspace import CONFIG_FILE, Workspace, init_workspace

if TYPE_CHECKING:
    from dfos.cascade.events import CascadeProgress

__all__ = ["HUB_FILE", "PROJECTS", "Project", "ProjectRun", "create_project", "download_all", "hub_instruments",
           "init_opshub", "load_project", "parse_project", "parse_science_list", "project_abs", "project_dag",
           "project_dir", "project_name", "projects", "raw_wanted", "render_project", "run_project", "siblings"]

#: At an OPSHUB root: the instruments it serves, one a line.
HUB_FILE = "OPSHUB"
#: Under $DFO_MON_DIR: one directory per project.
PROJECTS = "PROJECTS"
CONF = "project.conf"
_INSTRUMENT = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")

Note = Callable[[str], None]


# -- the OPSHUB root: one workspace per instrument -----------------------------------------------------------

def hub_instruments(root: Path) -> list[str]:
    """The instruments an OPSHUB root lists (``<ROOT>/OPSHUB``); empty when ``root`` is no OPSHUB root."""
    path = Path(root) / HUB_FILE
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    names = [line.strip().upper() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return [name for name in names if _INSTRUMENT.match(name)]  # never a path: a name of a directory beside


def init_opshub(directory: Path, env: Mapping[str, str], instruments: Sequence[str]) -> list[tuple[Workspace, bool]]:
    """``dfos init DIR --flavour opshub --instrument I [...]``: ``DIR/OPSHUB`` (the instruments, old ones kept)
    and a workspace ``DIR/<I>`` of the opshub flavour for each; (workspace, newly created) each."""
    directory = Path(directory).expanduser().resolve()
    names = [get_instrument(name).name for name in (instruments or ("UVES",))]  # an unknown name: one line
    if (directory / CONFIG_FILE).is_file():
        raise StateError(f"{directory} is a workspace already; an OPSHUB root holds one workspace per instrument: "
                         "choose another directory")
    known = hub_instruments(directory)
    made = [init_workspace(directory / name, env, name, Flavour.OPSHUB.value) for name in names]
    listed = [*known, *(n for n in dict.fromkeys(names) if n not in known)]
    header = "# OPSHUB root (dfos init --flavour opshub): one workspace per instrument, <ROOT>/<INSTRUMENT>\n"
    write_text_atomic(directory / HUB_FILE, header + "".join(f"{n}\n" for n in listed))
    return made


def siblings(workspace: Workspace) -> list[tuple[str, Path]]:
    """The instruments of the OPSHUB root this workspace lies in, with their workspaces' roots (this one
    included); empty when it lies in none."""
    hub = workspace.root.parent
    return [(name, hub / name) for name in hub_instruments(hub) if (hub / name / CONFIG_FILE).is_file()]


# -- projects: names, files (pure) ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Project:
    """One OPSHUB project (``project.conf``)."""

    name: str
    instrument: str
    dates: tuple[date, ...]
    files: tuple[str, ...] = ()
    """Science raw files named by a science list (empty: every science frame of the dates)."""
    created: str = ""

    @property
    def dag(self) -> str:
        return project_dag(self.name)


def project_dag(name: str) -> str:
    """The project's cascade id: ``PROJECT_<NAME>`` (QC: ``QC_PROJECT_<NAME>``)."""
    return f"PROJECT_{name}"


def project_name(text: str) -> str:
    """A project name (a processing key of the project kind); UsageError naming the rule otherwise."""
    try:
        key = ProcessingKey.parse(text)
    except (UsageError, FormatError):
        key = None
    if key is None or key.kind is not KeyKind.PROJECT:
        shown = str(text)[:60]
        raise UsageError(f"project name {shown!r} is not a letter followed by letters, digits and _ - . + "
                         "(at most 80 characters, not a date or a run ID)")
    return key.text


def render_project(project: Project) -> str:
    lines = ["# OPSHUB project: written by dfos project create; one KEY VALUE a line (docs/opshub.md)",
             f"PROJECT_NAME  {project.name}", f"INSTRUMENT    {project.instrument}"]
    if project.created:
        lines.append(f"CREATED       {project.created}")
    lines += [f"DATE          {day.isoformat()}" for day in project.dates]
    lines += [f"SCIENCE_FILE  {name}" for name in project.files]
    return "\n".join(lines) + "\n"


def parse_project(text: str, source: str) -> Project:
    """Read ``project.conf``; FormatError naming the file and line otherwise."""
    values: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.strip().partition(" ")
        if key not in ("PROJECT_NAME", "INSTRUMENT", "CREATED", "DATE", "SCIENCE_FILE") or not value.strip():
            raise FormatError(f"{source}:{number}: not a project line (KEY VALUE): {line[:80]!r}")
        values.setdefault(key, []).append(value.strip())
    try:
        name = project_name(values["PROJECT_NAME"][0])
        instrument = values["INSTRUMENT"][0].upper()
        dates = tuple(parse_date(d) for d in values.get("DATE", []))
        files = tuple(_raw_file(f) for f in values.get("SCIENCE_FILE", []))
    except KeyError as exc:
        raise FormatError(f"{source}: no {exc.args[0]} line") from None
    except (UsageError, InvalidDate, FormatError) as exc:
        raise FormatError(f"{source}: {exc.message}") from None
    if not dates:
        raise FormatError(f"{source}: no DATE line")
    return Project(name, instrument, dates, files, values.get("CREATED", [""])[0])


def _raw_file(name: str) -> str:
    RawName.parse(Path(name).name)  # FormatError for anything else
    if Path(name).name != name:
        raise FormatError(f"{name!r} is not a raw file name (no directories)")
    return name


def parse_science_list(text: str, source: str, offset: float = 0.0) -> tuple[list[date], list[str]]:
    """A science list: one DFO date (YYYY-MM-DD) or one science raw file name (``NACO.2013-02-12T01:20:00.000.fits``)
    a line; ``#`` comments and blank lines skipped.  (dates, files): a file adds its DFO date.  FormatError
    naming the line otherwise."""
    days: list[date] = []
    files: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            if entry[:1].isdigit():
                days.append(parse_date(entry))
                continue
            files.append(_raw_file(entry))
            days.append(dfo_date(RawName.parse(entry).moment, offset))
        except (InvalidDate, FormatError) as exc:
            raise FormatError(f"{source}:{number}: {exc.message}") from None
    if not days:
        raise FormatError(f"{source}: no date and no raw file name in it")
    return sorted(set(days)), list(dict.fromkeys(files))


# -- projects in a workspace ---------------------------------------------------------------------------------

def project_dir(workspace: Workspace, name: str) -> Path:
    return workspace.mon_dir / PROJECTS / project_name(name)


def _opshub_only(workspace: Workspace) -> None:
    settings = workspace.settings
    if settings.FLAVOUR is not Flavour.OPSHUB:
        raise StateError(f"projects live in an OPSHUB workspace; this one is {settings.FLAVOUR.value}: make one with "
                         f"'dfos init DIR --flavour opshub --instrument {settings.INSTRUMENT}'")


def create_project(workspace: Workspace, name: str, instrument: str, dates: Iterable[date],
                   files: Iterable[str] = ()) -> Project:
    """``dfos project create``: write ``project.conf`` (refused when the project exists with other dates)."""
    _opshub_only(workspace)
    name = project_name(name)
    wanted = get_instrument(instrument).name
    if wanted != workspace.settings.INSTRUMENT:
        raise UsageError(f"this workspace ({workspace.root}) is for {workspace.settings.INSTRUMENT}, not {wanted}")
    days = tuple(sorted(set(dates)))
    if not days:
        raise UsageError("a project needs science dates: --dates D1,D2,... or --science-list FILE")
    project = Project(name, wanted, days, tuple(dict.fromkeys(files)),
                      format_timestamp(clock.now(workspace.settings)))
    folder = project_dir(workspace, name)
    with exclusive_lock(folder.parent / f".{name}.lock"):
        if (folder / CONF).is_file():
            old = load_project(workspace, name)
            if (old.dates, old.files) != (project.dates, project.files):
                raise StateError(f"project {name} exists with other dates or files ({folder / CONF}); "
                                 "choose another name")
            return old
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(folder / CONF, render_project(project))
    return project


def load_project(workspace: Workspace, name: str) -> Project:
    path = project_dir(workspace, name) / CONF
    if not path.is_file():
        raise NotFound(f"no project {name} in {path.parent.parent}: 'dfos project create {name} --instrument "
                       f"{workspace.settings.INSTRUMENT} --dates ...' first")
    return parse_project(path.read_text(encoding="utf-8", errors="replace"), str(path))


def projects(workspace: Workspace) -> list[str]:
    """The names of the workspace's projects (those with a ``project.conf``), sorted."""
    base = workspace.mon_dir / PROJECTS
    return sorted(p.parent.name for p in base.glob(f"*/{CONF}")) if base.is_dir() else []


def project_abs(workspace: Workspace, name: str) -> list[tuple[Mode, str, str]]:
    """The project's ABs as its run recorded them: (mode, the AB's own date, AB)."""
    path = project_dir(workspace, name) / "ABs"
    if not path.is_file():
        return []
    found = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in ("CALIB", "SCIENCE"):
            found.append((Mode(parts[0]), parts[1], parts[2]))
    return found


# -- project run -----------------------------------------------------------------------------------------------

@dataclass
class ProjectRun:
    """What one ``dfos project run`` did."""

    project: str
    calib: list[str] = field(default_factory=list)
    science: list[str] = field(default_factory=list)
    downloaded: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.counts.get("failed") or self.counts.get("blocked"))


def run_project(workspace: Workspace, name: str, note: Note, dots: Callable[[int, int], None] | None = None,
                progress: Callable[[str, CascadeProgress], None] | None = None, jobs_only: bool = False) -> ProjectRun:
    """``dfos project run NAME`` (see the module docstring): headers of the science dates and the dates around
    them, createAB CALIB and SCIENCE, the project's ABs (its science, the calibrations they need, from any
    date), one cascade ``PROJECT_<NAME>`` with its execution files; every raw file, one at a time (``dots``:
    told ``(done, total)`` after each), before the cascade (FULL_RAWDOWNLOAD) or while it runs; QC and the
    ``<mode>_QC`` flag of each batch.  ``jobs_only``: stop once the ABs and execution files are written."""
    from dfos.steps.create_job import create_group_job

    _opshub_only(workspace)
    project = load_project(workspace, name)
    if project.instrument != workspace.settings.INSTRUMENT:
        raise StateError(f"project {project.name} is for {project.instrument}, this workspace for "
                         f"{workspace.settings.INSTRUMENT}")
    result = ProjectRun(project.name)
    calib, science = _associate(workspace, project, note)
    _record(workspace, project, calib + science)
    result.calib, result.science = [ab.name for ab in calib], [ab.name for ab in science]
    runnable = [ab for ab in calib + science if not _done(workspace, ab)]
    note(f"{project.name}: {len(calib)} CALIB AB(s) from {_dates_of(calib) or 'no date'}, {len(science)} SCIENCE "
         f"AB(s) of {', '.join(d.isoformat() for d in project.dates)}; {len(runnable)} to run")
    if not runnable:
        return result
    files = create_group_job(workspace, project.dag, runnable, f"OPSHUB project {project.name}")
    if jobs_only:
        _log(workspace, project.name, f"jobs written: {files.exec_ab.name} ({len(runnable)} ABs)")
        return result
    result.downloaded, result.counts = _download_and_run(workspace, project, runnable, files.exec_ab, dots, progress)
    if files.exec_qc is not None:
        _cascade(workspace, f"QC_{project.dag}", files.exec_qc, progress)
    _qc_flags(workspace, calib + science)
    said = ", ".join(f"{n} {state}" for state, n in result.counts.items() if n) or "nothing ran"
    note(f"{project.name}: {project.dag}: {said}")
    _log(workspace, project.name, f"{project.dag}: {said}; {result.downloaded} raw file(s) downloaded")
    return result


def _associate(workspace: Workspace, project: Project, note: Note) -> tuple[list[AB], list[AB]]:
    """The project's (CALIB ABs, SCIENCE ABs): createAB CALIB on every archive date around the science dates,
    oldest first, then createAB SCIENCE of each science date with the memory reaching as far ahead; the CALIB
    ABs are those that make what the science takes (and what those take), whatever their date."""
    from dfos.steps.complete_mode import producers, window
    from dfos.steps.fetch import archive_client
    from dfos.steps.phoenix import intake

    reach = workspace.settings.PROJECT_CALIB_DAYS
    held = archive_client(workspace).list_dates()
    missing = [d.isoformat() for d in project.dates if d not in held]
    if missing:
        raise StateError(f"project {project.name}: the archive holds no frame of {', '.join(missing)}")
    for day in window(project.dates, held, reach):
        intake(workspace, day, note)
        _create(workspace, day, Mode.CALIB, 0, note)
    science: list[AB] = []
    for day in project.dates:
        mine = [ab for ab in _create(workspace, day, Mode.SCIENCE, reach, note) if _named(workspace, ab, project.files)]
        science += [ab for ab in mine if ab.completeness is Completeness.COMPLETE]
        incomplete = [ab.name for ab in mine if ab.completeness is not Completeness.COMPLETE]
        if incomplete:
            note(f"{day}: {len(incomplete)} SCIENCE AB(s) INCOMPLETE, not in the project ('dfos explain AB' says what "
                 f"is missing): {', '.join(incomplete[:5])}{' ...' if len(incomplete) > 5 else ''}")
    read = ab_reader(workspace.ab_dir)
    calib = [ab for ab in (read(n) for n in producers(science, read)) if ab is not None]
    calib.sort(key=lambda ab: (BatchId.parse(ab.batch_id).key.text, ab.name))
    return calib, science


def _create(workspace: Workspace, day: date, mode: Mode, ahead: int, note: Note) -> list[AB]:
    from dfos.steps.create_ab import create_abs

    try:
        created = create_abs(workspace, day, mode, ahead=ahead, repeat_flag=False)
    except DfosError as exc:
        note(f"{day}: {mode} createAB: {exc.message}")
        return []
    if created.abs:
        note(f"{day}: {mode} createAB: {len(created.abs)} AB(s) ({len(created.written)} new or changed)")
    return list(created.abs)


def _named(workspace: Workspace, ab: AB, files: Sequence[str]) -> bool:
    """Whether a science AB belongs to the project: any, or one reading a named file."""
    return not files or any(Path(workspace.expand(r.ref)).name in files for r in ab.rawfiles)


def _done(workspace: Workspace, ab: AB) -> bool:
    batch = BatchId.parse(ab.batch_id)
    return any(e.done for e in read_ab_list(workspace.ab_list(batch.mode, batch.key)) if e.name == ab.name)


def _dates_of(abs_: Iterable[AB]) -> str:
    return ", ".join(sorted({BatchId.parse(ab.batch_id).key.text for ab in abs_}))


def _record(workspace: Workspace, project: Project, abs_: Sequence[AB]) -> None:
    lines = []
    for ab in abs_:
        batch = BatchId.parse(ab.batch_id)
        lines.append(f"{batch.mode.value} {batch.key.text} {ab.name}")
    header = "# the ABs of the project: MODE DATE AB (the AB's own date), written by dfos project run\n"
    write_text_atomic(project_dir(workspace, project.name) / "ABs", header + "".join(f"{line}\n" for line in lines))


def _log(workspace: Workspace, name: str, line: str) -> None:
    path = project_dir(workspace, name) / "runs"
    with exclusive_lock(path.with_name(".runs.lock")):
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        write_text_atomic(path, old + f"{format_timestamp(clock.now(workspace.settings))} {line}\n")


def raw_wanted(workspace: Workspace, abs_: Iterable[AB]) -> list[tuple[date, str]]:
    """Every raw file the ABs read that is not on disk, once each: (its date, its name), in cascade order."""
    wanted: dict[str, date] = {}
    for ab in abs_:
        day = date.fromisoformat(BatchId.parse(ab.batch_id).key.text)
        for raw in ab.rawfiles:
            path = workspace.expand(raw.ref)
            if not path.is_file():
                wanted.setdefault(path.name, day)
    return [(day, name) for name, day in wanted.items()]


def download_all(workspace: Workspace, wanted: Sequence[tuple[date, str]],
                 dots: Callable[[int, int], None] | None = None) -> int:
    """Every file, one after the other (OPSHUB: bandwidth-bound), each verified; ``dots(done, total)`` after each.
    The number fetched."""
    from dfos.steps.fetch import fetch_raw, raw_frame_name

    total = len(wanted)
    for done, (day, name) in enumerate(wanted, start=1):
        fetch_raw(workspace, day, raw_frame_name(name))
        if dots:
            dots(done, total)
    return total


def _download_and_run(workspace: Workspace, project: Project, abs_: Sequence[AB], jobs: Path,
                      dots: Callable[[int, int], None] | None,
                      progress: Callable[[str, CascadeProgress], None] | None) -> tuple[int, dict[str, int]]:
    """The raw files and the cascade: FULL_RAWDOWNLOAD waits for every file first; otherwise the files arrive
    one by one beside the cascade (an AB whose frames are not there yet fetches them itself when it starts)."""
    wanted = raw_wanted(workspace, abs_)
    if workspace.settings.FULL_RAWDOWNLOAD or not wanted:
        count = download_all(workspace, wanted, dots)
        return count, _cascade(workspace, project.dag, jobs, progress)
    failure: list[BaseException] = []

    def fetch() -> None:
        try:
            download_all(workspace, wanted, dots)
        except (DfosError, OSError) as exc:  # the ABs fetch what is still missing themselves
            failure.append(exc)

    worker = threading.Thread(target=fetch, name=f"rawDown {project.name}", daemon=True)
    worker.start()
    counts = _cascade(workspace, project.dag, jobs, progress)
    worker.join()
    if failure:
        _log(workspace, project.name, f"background download failed: {failure[0]}")
    return len(wanted), counts


def _cascade(workspace: Workspace, dag: str, jobs: Path,
             progress: Callable[[str, CascadeProgress], None] | None) -> dict[str, int]:
    """Run a cascade; MAX_JOBS bounds a CON cascade of the OPSHUB flavour (:mod:`dfos.cascade.run`)."""
    from dfos.steps.cascade import exec_cascade

    told = (lambda p: progress(dag, p)) if progress is not None else None
    return dict(exec_cascade(workspace, dag, jobs, progress=told).counts)


def _qc_flags(workspace: Workspace, abs_: Iterable[AB]) -> None:
    """``<mode>_QC`` for each batch of the project that has ABs that ran and is not QC'd yet."""
    flags = flags_by_key(workspace.status_log.read())
    for batch_id in sorted({ab.batch_id for ab in abs_}):
        batch = BatchId.parse(batch_id)
        ran = any(e.done for e in read_ab_list(workspace.ab_list(batch.mode, batch.key)))
        if ran and mode_flag(batch.mode, Stage.QC) not in flags.get(batch.key.text, []):
            workspace.status_log.append(mode_flag(batch.mode, Stage.QC), batch.key.text, clock.now(workspace.settings))
