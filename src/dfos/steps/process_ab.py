"""processAB: run one AB's recipe with esorex and put its products in place.

For an AB: fetch raw inputs that are not on disk from the archive into
``$DFO_RAW_DIR/<DATE>`` and certified masters back into ``$DFO_CAL_DIR/<DATE>``
(the calibration memory keeps their headers); check every calibration input exists; write the SOF
in a fresh working directory; run ``esorex`` as an argument list (never a shell
string) with ``--output-dir``, ``--log-dir``, ``--products-sof=products.json``
and the AB's parameters, ``OMP_NUM_THREADS`` set for its slot; keep its log as
``$DFO_AB_DIR/<LOG_NAME>``; move the products, named as the AB says, to
``$DFS_PRODUCT/<RAW_TYPE>/<DATE>``; set PROCESS_STATUS in the AB; and return a
:class:`RunRecord` (the caller stores it in the workspace database).

A failure is classified: ``missing_input``, ``recipe_error`` (exit code and the
recipe's last ERROR line), ``crash`` (killed by a signal), ``timeout``,
``infrastructure`` (esorex missing, a disk refusing a write).  An infrastructure failure says
nothing about the AB: its PROCESS_STATUS is left as it was and the products this run had placed
are removed again, so running it again once the cause is fixed just works.

Names from data are never paths: before anything is written, the AB's name, LOG_NAME,
PROD_ROOT and product names must be safe file names and PROD_PATH must lie under
``$DFS_PRODUCT``, ``$DFO_CAL_DIR`` or ``$DFO_SCI_DIR`` (raw frames are fetched only into
``$DFO_RAW_DIR``, masters only into ``$DFO_CAL_DIR``); otherwise :class:`UnsafeName` (exit 5).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from dfos import clock
from dfos.ab.format import STATUS_WIDTH, check, render
from dfos.ab.model import AB, Completeness, ProcessStatus
from dfos.ab.store import read_ab
from dfos.dates import format_timestamp, parse_date
from dfos.errors import DfosError, ExternalToolError, FormatError, StateError
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.naming import confined, safe_name
from dfos.steps.create_ab import ab_list_lock, product_roots
from dfos.workspace import Workspace

if TYPE_CHECKING:
    from sqlalchemy import Insert

__all__ = ["Failure", "RunRecord", "load_ab", "process_ab", "record_run", "set_process_status"]


class Failure(StrEnum):
    MISSING_INPUT = "missing_input"
    RECIPE_ERROR = "recipe_error"
    CRASH = "crash"
    TIMEOUT = "timeout"
    INFRASTRUCTURE = "infrastructure"


@dataclass(frozen=True)
class RunRecord:
    """One processAB run, as the workspace database stores it."""

    ab: str
    batch_id: str
    recipe: str
    started: str
    ended: str
    status: str
    failure: str | None
    exit_code: int | None
    signal: int | None
    message: str
    wall_s: float
    max_rss_kb: int | None
    log: str
    host: str

    @property
    def ok(self) -> bool:
        return self.status == ProcessStatus.SUCCESSFUL.value


def load_ab(workspace: Workspace, name: str) -> AB:
    """Read an AB from ``$DFO_AB_DIR``."""
    return read_ab(workspace.ab_dir, name)


def _last_error(log: Path) -> str:
    """The recipe's own last ERROR line (esorex's closing "Execution of recipe ... failed" is not the cause)."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    errors = [line.split("]", 1)[-1].strip() for line in lines if "[ ERROR ]" in line]
    causes = [e for e in errors if not e.lstrip(": ").startswith("Execution of recipe")]
    return (causes or errors or [""])[-1]


def check_names(workspace: Workspace, ab: AB) -> Path:
    """Refuse (:class:`UnsafeName`) an AB whose names from data could write outside its directories (the
    AB file's own check, :func:`dfos.ab.format.check`, which reading it ran already, and PROD_PATH as the
    workspace expands it); return the product directory (PROD_PATH)."""
    check(ab)
    return confined(workspace.expand(ab.prod_path), *product_roots(workspace))


def _fetch_raw(workspace: Workspace, target: Path) -> bool:
    """Fetch a raw frame from the archive into place (verified, atomic); False if the archive lacks it.
    A transfer that fails for another reason raises OSError (an infrastructure failure)."""
    # the archive client (urllib, ssl) is imported when a frame must be fetched: an AB whose inputs are on disk
    # starts its recipe sooner
    from dfos.archive.client import MissingFile, TransferError, fetch_verified
    from dfos.steps.fetch import archive_client

    confined(target, workspace.raw_dir)
    safe_name(target.name, "raw frame name")
    try:
        fetch_verified(archive_client(workspace), target.name, target.parent,
                       retries=workspace.settings.DOWNLOAD_RETRIES)
    except MissingFile:
        return False
    except TransferError as exc:
        raise OSError(exc.message) from None
    return True


def _inputs(workspace: Workspace, ab: AB) -> list[str]:
    """Make the inputs available; return what is missing."""
    missing = []
    for raw in ab.rawfiles:
        path = workspace.expand(raw.ref)
        if not path.is_file() and not _fetch_raw(workspace, path):
            missing.append(f"raw frame {path.name} is neither in {path.parent} nor in the archive")
    for cal in (*ab.mcalib, *ab.massoc):
        path = workspace.expand(cal.sof_path)
        if path.is_file() or (not cal.virtual and _fetch_master(workspace, path)):
            continue
        source = f"made by {cal.producer}" if cal.virtual else "a master of the calibration memory, not in the archive"
        missing.append(f"{cal.tag} {path} is missing ({source})")
    return missing


def _fetch_master(workspace: Workspace, target: Path) -> bool:
    """Fetch a certified master back from the archive; False if there is none (or it is no master).
    A transfer that fails for another reason raises OSError (an infrastructure failure)."""
    from dfos.archive.client import TransferError
    from dfos.steps.fetch import restore_master

    confined(target, workspace.cal_dir)
    try:
        return restore_master(workspace, target)
    except FormatError:
        return False
    except TransferError as exc:
        raise OSError(exc.message) from None


_STATUS_LINE = re.compile(r"^PROCESS_STATUS[ \t]+\S+[ \t]*$", re.MULTILINE)
_STATUS_FIELD = re.compile(rb"^PROCESS_STATUS[ \t]+(\S+ *)$", re.MULTILINE)


def set_process_status(workspace: Workspace, ab: AB, status: ProcessStatus) -> None:
    """Set PROCESS_STATUS in the AB file (only that line changes), under the AB list's lock.

    The value is padded to :data:`STATUS_WIDTH` in every AB dfos writes, so it is overwritten in
    place by one ``pwrite`` of a few bytes: no temporary file, no fsync, and neither a crash nor a
    power cut can leave half an AB (at worst the previous status, which the workspace database,
    written first, corrects when the cascade resumes).  An AB without the padding (written by
    hand) is rewritten atomically instead, padded from then on.
    """
    mode, _, day = ab.batch_id.partition("_")
    path = workspace.ab_dir / ab.name
    with exclusive_lock(ab_list_lock(workspace, mode, parse_date(day))):
        with contextlib.suppress(FileNotFoundError):
            fd = os.open(path, os.O_RDWR)
            try:
                field = _STATUS_FIELD.search(os.pread(fd, 4096, 0))
                if field and len(field[1]) >= len(status.value):
                    os.pwrite(fd, status.value.ljust(len(field[1])).encode(), field.start(1))
                    return
            finally:
                os.close(fd)
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        line = f"{'PROCESS_STATUS':<16}{status.value.ljust(STATUS_WIDTH)}"
        updated, count = _STATUS_LINE.subn(line, text, count=1)
        write_text_atomic(path, updated if count else render(replace(ab, process_status=status)))


def _remove_tree(path: Path) -> None:
    """Remove a working directory (plain walk; the fd-safe shutil.rmtree is slower and not needed here)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(path):
            if entry.is_dir(follow_symlinks=False):
                _remove_tree(Path(entry.path))
            else:
                os.unlink(entry.path)
        os.rmdir(path)


def _place(source: Path, target: Path) -> None:
    """Move a product into place: rename on one file system, else copy, verify, then delete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
        return
    except OSError:
        pass
    from dfos.steps.fetch import copy_verified

    copy_verified(source, target)
    source.unlink()


#: Environment variable that marks a recipe process with the run that started it.
RUN_MARKER = "DFOS_RUN"


def _sof_path(path: Path, work: Path) -> Path:
    """A SOF cannot quote: a path with blanks is linked into the working directory under a safe name."""
    if not any(c.isspace() for c in str(path)):
        return path
    links = work / "in"
    links.mkdir(exist_ok=True)
    safe = re.sub(r"\s", "_", path.name)
    link = links / f"{len(list(links.iterdir())):04d}_{safe}"
    link.symlink_to(path)
    return link.relative_to(work)  # relative to the recipe's working directory, which may hold blanks too


def process_ab(
    workspace: Workspace,
    name: str,
    threads: int = 1,
    on_start: Callable[[int], None] | None = None,
    run_marker: str | None = None,
    work_dir: Path | None = None,
) -> RunRecord:
    """Run one AB; see the module docstring.  Raises :class:`DfosError` for an AB that must not run."""
    ab = load_ab(workspace, name)
    if ab.completeness is Completeness.INCOMPLETE:
        raise StateError(f"{ab.name} is INCOMPLETE ({'; '.join(ab.missing)[:200]}): it is never run")
    product_dir = check_names(workspace, ab)
    settings = workspace.settings
    started = clock.now(settings)
    t0 = time.monotonic()
    log_path = confined(workspace.ab_dir / ab.log_name, workspace.ab_dir)
    placed: list[Path] = []

    def finish(status: ProcessStatus, failure: Failure | None, message: str, exit_code: int | None = None,
               sig: int | None = None, rss: int | None = None) -> RunRecord:
        if failure is Failure.INFRASTRUCTURE:  # not the AB's fault: its status stays, its partial products go
            for path in placed:
                with contextlib.suppress(OSError):
                    path.unlink()
            message += f"; {ab.name} keeps PROCESS_STATUS {ab.process_status.value}: run it again once this is fixed"
        else:
            set_process_status(workspace, ab, status)
        return RunRecord(
            ab=ab.name, batch_id=ab.batch_id, recipe=ab.recipe, started=format_timestamp(started),
            ended=format_timestamp(clock.now(settings)), status=status.value,
            failure=failure.value if failure else None, exit_code=exit_code, signal=sig, message=message,
            wall_s=round(time.monotonic() - t0, 3), max_rss_kb=rss, log=str(log_path), host=socket.gethostname(),
        )

    try:
        log_path.unlink(missing_ok=True)  # a failure must never point at an earlier run's log
        missing = _inputs(workspace, ab)
    except OSError as exc:
        return finish(ProcessStatus.FAILED, Failure.INFRASTRUCTURE, f"fetching inputs: {_os_error(exc)}")
    if missing:
        return finish(ProcessStatus.FAILED, Failure.MISSING_INPUT, "; ".join(missing))

    try:
        work = _prepare(workspace, ab, work_dir)
    except OSError as exc:
        return finish(ProcessStatus.FAILED, Failure.INFRASTRUCTURE, f"writing the SOF: {_os_error(exc)}")
    sof = work / (ab.name.removesuffix(".ab") + ".sof")
    esorex = _which(settings.ESOREX)
    if esorex is None:
        return finish(ProcessStatus.FAILED, Failure.INFRASTRUCTURE,
                      f"cannot start {settings.ESOREX}: not found (install esorex, or set ESOREX)")
    # paths relative to the working directory (the recipe runs there): a blank in the workspace path
    # cannot break esorex's parsing
    argv = [esorex, "--output-dir=.", "--log-dir=.", "--products-sof=products.json", ab.recipe, *ab.params,
            sof.name]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, threads)),
           RUN_MARKER: f"{run_marker or ab.name}@{workspace.root}"}
    try:
        pid = _spawn(argv, work, env)
    except OSError as exc:
        return finish(ProcessStatus.FAILED, Failure.INFRASTRUCTURE, f"cannot start {esorex}: {exc.strerror}")
    if on_start:
        on_start(pid)
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)

    ticket = _WATCHDOG.arm(settings.RECIPE_TIMEOUT, kill)
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # ended, but not reaped: its pid cannot be reused yet
    finally:
        _WATCHDOG.disarm(ticket)  # after this no kill can come
    _, wait_status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(wait_status)
    rss = int(usage.ru_maxrss)
    if timed_out.is_set() and code != -signal.SIGKILL:
        timed_out.clear()  # it ended on its own just as the deadline came
    try:
        for produced in ("esorex.log", ".logfile"):  # after a crash only .logfile remains
            if (work / produced).is_file():
                shutil.copyfile(work / produced, log_path)
                break
    except OSError as exc:
        return finish(ProcessStatus.FAILED, Failure.INFRASTRUCTURE, f"keeping the log: {_os_error(exc)}",
                      exit_code=code, rss=rss)
    if timed_out.is_set():
        return finish(ProcessStatus.FAILED, Failure.TIMEOUT, f"killed after {settings.RECIPE_TIMEOUT:g} s",
                      rss=rss)
    if code < 0:
        return finish(ProcessStatus.FAILED, Failure.CRASH, f"{ab.recipe} died of signal {-code}",
                      sig=-code, rss=rss)
    if code in (125, 126, 127) and not log_path.is_file():  # a wrapper script could not start the recipe
        said = (work / "esorex.out").read_text(encoding="utf-8", errors="replace").strip()[-300:]
        return finish(ProcessStatus.FAILED, Failure.INFRASTRUCTURE, f"{esorex} did not start: {said}",
                      exit_code=code)
    if code != 0:
        error = _last_error(log_path) or "no ERROR line in the log"
        return finish(ProcessStatus.FAILED, Failure.RECIPE_ERROR, f"exit code {code}: {error}", exit_code=code,
                      rss=rss)
    try:
        _collect(ab, work, product_dir, placed)
    except OSError as exc:
        return finish(ProcessStatus.FAILED, Failure.INFRASTRUCTURE, f"placing products: {_os_error(exc)}",
                      exit_code=0, rss=rss)
    except DfosError as exc:
        return finish(ProcessStatus.FAILED, Failure.RECIPE_ERROR, exc.message, exit_code=0, rss=rss)
    _remove_tree(work)
    return finish(ProcessStatus.SUCCESSFUL, None, "", exit_code=0, rss=rss)


def _os_error(exc: OSError) -> str:
    """An OS error in words, with the file it concerns (``No space left on device (ENOSPC): /path``)."""
    name = errno.errorcode.get(exc.errno or 0)
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{f' ({name})' if name else ''}{where}"


def _prepare(workspace: Workspace, ab: AB, work_dir: Path | None) -> Path:
    """The run's working directory, with the SOF written in it."""
    if work_dir is None:  # a run by hand: a fresh directory of its own
        workspace.work_root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=ab.name.removesuffix(".ab") + ".", dir=workspace.work_root))
    else:  # a cascade's run: the directory named for its attempt
        try:
            work_dir.mkdir(parents=True)
        except FileExistsError:  # an older run's kept one (the cascade was started afresh): replaced
            shutil.rmtree(work_dir)
            work_dir.mkdir()
        work = work_dir
    sof = work / (ab.name.removesuffix(".ab") + ".sof")
    sof.write_text("".join(f"{_sof_path(workspace.expand(path), work)} {tag}\n" for path, tag in ab.sof),
                   encoding="utf-8")
    return work


class _Watchdog:
    """One thread for every recipe's deadline (instead of a timer thread per AB)."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.deadlines: dict[int, tuple[float, Callable[[], None]]] = {}
        self.next_ticket = 0
        self.thread: threading.Thread | None = None

    def arm(self, seconds: float, action: Callable[[], None]) -> int:
        with self.lock:
            self.next_ticket += 1
            self.deadlines[self.next_ticket] = (time.monotonic() + seconds, action)
            if self.thread is None:
                self.thread = threading.Thread(target=self._watch, name="recipe-deadlines", daemon=True)
                self.thread.start()
            self.lock.notify()
            return self.next_ticket

    def disarm(self, ticket: int) -> None:
        with self.lock:
            self.deadlines.pop(ticket, None)

    def _watch(self) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                due = [t for t, (when, _) in self.deadlines.items() if when <= now]
                actions = [self.deadlines.pop(t)[1] for t in due]
                wait = min((when for when, _ in self.deadlines.values()), default=now + 3600) - now
                if not actions:
                    self.lock.wait(timeout=max(wait, 0.01))
                    continue
            for action in actions:
                action()


_WATCHDOG = _Watchdog()


@functools.lru_cache(maxsize=16)
def _which_cached(program: str, search_path: str | None) -> str | None:
    return shutil.which(program, path=search_path)


def _which(program: str) -> str | None:
    """``shutil.which``, remembered for the same program and PATH (an executor asks once per AB)."""
    found = _which_cached(program, os.environ.get("PATH"))
    if found is None or not os.access(found, os.X_OK):
        _which_cached.cache_clear()  # installed or removed meanwhile: look again
        found = _which_cached(program, os.environ.get("PATH"))
    return found


def _spawn(argv: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Start a program in its own session and directory; what it prints goes to ``esorex.out`` there.

    ``subprocess`` starts it with ``vfork`` (this large process is not copied) and changes the
    directory in the child.  The caller waits for and reaps the process itself (``waitid`` and
    ``wait4`` for its peak memory), so the Popen object is told it is done: it must never reap it.
    """
    with open(cwd / "esorex.out", "wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    proc.returncode = 0  # reaped by the caller, never by subprocess's own clean-up of dropped Popen objects
    return proc.pid


def _listing(work: Path) -> list[tuple[str, str]]:
    """(file name, PRO.CATG) of each product esorex lists in ``products.json``; ExternalToolError when the
    listing is no list of ``{"name", "category"}`` objects."""
    listing = work / "products.json"
    if not listing.is_file():
        return []
    try:
        made = json.loads(listing.read_bytes())
        pairs = [(Path(str(item["name"])).name, str(item["category"])) for item in made]
    except (ValueError, TypeError, KeyError) as exc:
        raise ExternalToolError(f"{listing}: not esorex's list of products ({type(exc).__name__})") from None
    return pairs


def _collect(ab: AB, work: Path, target_dir: Path, placed: list[Path]) -> None:
    """Move the products esorex lists to their AB names in ``target_dir`` (PROD_PATH, checked by
    :func:`check_names`); each one placed is added to ``placed``."""
    expected = list(ab.products)
    extra = len(expected)
    moves = []
    for name, category in _listing(work):
        match = next((p for p in expected if p.catg == category), None)
        if match is not None:
            expected.remove(match)
            target = target_dir / match.name
        else:
            target = target_dir / f"{ab.prod_root}_{extra:04d}.fits"
            extra += 1
        moves.append((work / name, target))
    if expected:
        raise ExternalToolError(f"{ab.recipe} made no {', '.join(p.catg for p in expected)}")
    # QC1 parameter files some recipes leave (GIRAFFE's qc0000.paf)
    moves += [(paf, target_dir / f"{ab.prod_root}_{paf.name}") for paf in sorted(work.glob("*.paf"))]
    for source, target in moves:
        _place(source, confined(target, target_dir))
        placed.append(target)


def record_run(workspace: Workspace, run: RunRecord, dag_id: str | None = None, attempt: int | None = None) -> None:
    """Store a run record in the workspace database (with the cascade and attempt that ran it)."""
    from dfos.db import engine_for_url

    with engine_for_url(workspace.db_url).begin() as connection:
        connection.execute(_insert_run(), {**run.__dict__, "dag_id": dag_id, "attempt": attempt})


@functools.cache
def _insert_run() -> Insert:
    """The run record's INSERT, built once, when the first run is recorded: SQLAlchemy is imported after
    the recipe ran, so that a batch job starts its recipe sooner."""
    from sqlalchemy import insert

    from dfos.db import ab_runs

    return insert(ab_runs)
