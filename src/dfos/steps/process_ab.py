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

A failure is classified (:mod:`dfos.steps.run_outcome`, pure): ``missing_input``, ``recipe_error``
(exit code and the recipe's last ERROR line), ``crash`` (killed by a signal), ``timeout``,
``infrastructure`` (esorex missing, a disk refusing a write).  esorex is started and watched by
:mod:`dfos.steps.esorex`.  An infrastructure failure says
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
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dfos import clock
from dfos.ab.format import PRODUCT_VARIABLES, check
from dfos.ab.lists import ab_list_lock
from dfos.ab.model import AB, Completeness, ProcessStatus
from dfos.ab.store import read_ab, write_process_status
from dfos.dates import format_timestamp
from dfos.errors import DfosError, ExternalToolError, FormatError, StateError
from dfos.fsutil import exclusive_lock
from dfos.keys import BatchId
from dfos.naming import confined, safe_name
from dfos.steps import esorex
from dfos.steps.reuse import ContentRun, current_key, made_products, place, reusable
from dfos.steps.run_outcome import Failure, Outcome, classify_exit, last_error_line
from dfos.workspace import Workspace

if TYPE_CHECKING:
    from sqlalchemy import Insert

__all__ = ["RUN_MARKER", "Failure", "RunRecord", "check_names", "load_ab", "process_ab", "product_roots",
           "record_run", "set_process_status"]

#: Environment variable that marks a recipe process with the run that started it.
RUN_MARKER = "DFOS_RUN"


@dataclass(frozen=True)
class RunRecord:
    """One processAB run, as the workspace database stores it."""

    ab: str
    batch_id: str
    recipe: str
    started: str
    ended: str
    status: ProcessStatus
    failure: Failure | None
    exit_code: int | None
    signal: int | None
    message: str
    wall_s: float
    max_rss_kb: int | None
    log: str
    host: str
    reused_from: str | None = None
    """The AB whose products this run reused (no recipe ran: :mod:`dfos.steps.reuse`); None: the recipe ran."""
    content: ContentRun | None = None
    """What a successful run with a content key made, to record under the key (not an ``ab_runs`` column)."""

    @property
    def ok(self) -> bool:
        return self.status is ProcessStatus.SUCCESSFUL

    def row(self) -> dict[str, object]:
        """The ``ab_runs`` columns (the enums as their text)."""
        row = {**self.__dict__, "status": self.status.value, "failure": self.failure.value if self.failure else None}
        del row["content"]
        return row


def load_ab(workspace: Workspace, name: str) -> AB:
    """Read an AB from ``$DFO_AB_DIR``."""
    return read_ab(workspace.ab_dir, name)


def check_names(workspace: Workspace, ab: AB) -> Path:
    """Refuse (:class:`UnsafeName`) an AB whose names from data could write outside its directories (the
    AB file's own check, :func:`dfos.ab.format.check`, which reading it ran already, and PROD_PATH as the
    workspace expands it); return the product directory (PROD_PATH)."""
    check(ab)
    return confined(workspace.expand(ab.prod_path), *product_roots(workspace))


def product_roots(workspace: Workspace) -> tuple[Path, ...]:
    """Where an AB's products may be (its PROD_PATH): ``$DFS_PRODUCT``, ``$DFO_CAL_DIR`` (after move),
    ``$DFO_SCI_DIR``."""
    return tuple(workspace.path(key) for key in PRODUCT_VARIABLES)


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


def set_process_status(workspace: Workspace, ab: AB, status: ProcessStatus) -> None:
    """Set PROCESS_STATUS in the AB file (only that field changes, in place:
    :func:`dfos.ab.store.write_process_status`), under the lock of the AB's list."""
    batch = BatchId.parse(ab.batch_id)
    with exclusive_lock(ab_list_lock(workspace.ab_list(batch.mode, batch.key))):
        write_process_status(workspace.ab_dir / ab.name, ab, status)


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


class _Ended(Exception):
    """A run that ends before its products are in place: how it ended."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


def _infrastructure(doing: str, exc: OSError, exit_code: int | None = None, rss: int | None = None) -> _Ended:
    return _Ended(Outcome.failed(Failure.INFRASTRUCTURE, f"{doing}: {_os_error(exc)}", exit_code, max_rss_kb=rss))


@dataclass(frozen=True)
class _Run:
    """One run of an AB: what it was asked, and where its log and products go."""

    workspace: Workspace
    ab: AB
    log: Path
    product_dir: Path
    threads: int
    on_start: Callable[[int], None] | None
    run_marker: str | None
    work_dir: Path | None
    placed: list[Path] = field(default_factory=list)
    """Products this run placed (removed again after an infrastructure failure)."""
    key: str | None = None
    """The AB's content key as its file reads now (None: no key, nothing reused or recorded)."""
    reused: list[ContentRun] = field(default_factory=list)
    """The recorded run whose products this run took instead of running the recipe."""


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
    started, t0 = clock.now(workspace.settings), time.monotonic()
    log = confined(workspace.ab_dir / ab.log_name, workspace.ab_dir)
    run = _Run(workspace, ab, log, product_dir, threads, on_start, run_marker, work_dir, key=_key(workspace, ab))
    try:
        outcome = _reuse(run) or _attempt(run)
    except _Ended as ended:
        outcome = ended.outcome
    return _finish(run, outcome, started, t0)


def _key(workspace: Workspace, ab: AB) -> str | None:
    """The AB's content key as its file reads now; None when it has none (an AB file written before content
    keys, a parent without a key) or the database cannot say what an archived master's checksum is."""
    if ab.content_key is None:
        return None
    try:
        return current_key(workspace, ab)
    except DfosError:
        return None


def _reuse(run: _Run) -> Outcome | None:
    """Take the products of a recorded run of the AB's content key instead of running the recipe
    (:mod:`dfos.steps.reuse`); None when there is none to take."""
    if run.key is None:
        return None
    source = reusable(run.workspace, run.key, run.ab)
    if source is None:
        return None
    try:
        place(run.workspace, run.ab, run.product_dir, source, run.log, run.placed)
    except OSError as exc:
        raise _infrastructure("placing reused products", exc) from None
    run.reused.append(source)
    return Outcome(ProcessStatus.SUCCESSFUL, message=f"reused from {source.ab} (content key {run.key[:12]})",
                   exit_code=0)


def _attempt(run: _Run) -> Outcome:
    """Fetch the inputs, run the recipe, place its products; :class:`_Ended` when a stage fails."""
    _gather_inputs(run)
    try:
        work = _prepare(run.workspace, run.ab, run.work_dir)
    except OSError as exc:
        raise _infrastructure("writing the SOF", exc) from None
    outcome = _run_recipe(run, work)
    if not outcome.ok:
        return outcome
    try:
        _collect(run.ab, work, run.product_dir, run.placed)
    except OSError as exc:
        raise _infrastructure("placing products", exc, 0, outcome.max_rss_kb) from None
    except DfosError as exc:
        return Outcome.failed(Failure.RECIPE_ERROR, exc.message, 0, max_rss_kb=outcome.max_rss_kb)
    _remove_tree(work)
    return outcome


def _gather_inputs(run: _Run) -> None:
    """Forget an earlier run's log and make the inputs available; :class:`_Ended` when one is missing."""
    try:
        run.log.unlink(missing_ok=True)  # a failure must never point at an earlier run's log
        missing = _inputs(run.workspace, run.ab)
    except OSError as exc:
        raise _infrastructure("fetching inputs", exc) from None
    if missing:
        raise _Ended(Outcome.failed(Failure.MISSING_INPUT, "; ".join(missing)))


def _run_recipe(run: _Run, work: Path) -> Outcome:
    """Run esorex on the SOF in ``work``, keep its log; what its end means (:func:`classify_exit`)."""
    settings = run.workspace.settings
    program = esorex.which(settings.ESOREX, os.environ.get("PATH"))
    if program is None:
        raise _Ended(Outcome.failed(Failure.INFRASTRUCTURE,
                                    f"cannot start {settings.ESOREX}: not found (install esorex, or set ESOREX)"))
    sof = work / (run.ab.name.removesuffix(".ab") + ".sof")
    # paths relative to the working directory (the recipe runs there): a blank in the workspace path
    # cannot break esorex's parsing
    argv = [program, "--output-dir=.", "--log-dir=.", "--products-sof=products.json", run.ab.recipe, *run.ab.params,
            sof.name]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, run.threads)),
           RUN_MARKER: f"{run.run_marker or run.ab.name}@{run.workspace.root}"}
    try:
        pid = esorex.start(argv, work, env)
    except OSError as exc:
        raise _Ended(Outcome.failed(Failure.INFRASTRUCTURE, f"cannot start {program}: {exc.strerror}")) from None
    if run.on_start:
        run.on_start(pid)
    end = esorex.wait(pid, settings.RECIPE_TIMEOUT)
    try:
        log_kept = _keep_log(work, run.log)
    except OSError as exc:
        raise _infrastructure("keeping the log", exc, end.code, end.max_rss_kb) from None
    return classify_exit(end, recipe=run.ab.recipe, esorex=program, timeout=settings.RECIPE_TIMEOUT,
                         log_kept=log_kept, last_error=_last_error(run.log) if end.code > 0 else "",
                         said="" if log_kept else _tail(work / esorex.OUTPUT))


def _keep_log(work: Path, log: Path) -> bool:
    """Copy esorex's log to the AB's LOG_NAME; False when it wrote none."""
    for produced in ("esorex.log", ".logfile"):  # after a crash only .logfile remains
        if (work / produced).is_file():
            shutil.copyfile(work / produced, log)
            return True
    return False


def _last_error(log: Path) -> str:
    """The recipe's own last ERROR line in its log ('' when there is none or the log cannot be read)."""
    try:
        return last_error_line(log.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return ""


def _tail(path: Path) -> str:
    """The end of what a program printed ('' when it cannot be read)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()[-300:]
    except OSError:
        return ""


def _finish(run: _Run, outcome: Outcome, started: datetime, t0: float) -> RunRecord:
    """Set the AB's PROCESS_STATUS (an infrastructure failure is not the AB's fault: its status stays, the
    products this run placed go) and make the run record."""
    ab, message = run.ab, outcome.message
    if outcome.failure is Failure.INFRASTRUCTURE:
        for path in run.placed:
            with contextlib.suppress(OSError):
                path.unlink()
        message += f"; {ab.name} keeps PROCESS_STATUS {ab.process_status.value}: run it again once this is fixed"
    else:
        set_process_status(run.workspace, ab, outcome.status)
    source = run.reused[0] if run.reused else None
    content = None
    if outcome.ok and run.key is not None:
        try:
            content = made_products(run.workspace, ab, run.key, run.placed, run.log, source.ab if source else None)
        except OSError:
            content = None  # a product that cannot be read back is not offered to others
    return RunRecord(
        ab=ab.name, batch_id=ab.batch_id, recipe=ab.recipe, started=format_timestamp(started),
        ended=format_timestamp(clock.now(run.workspace.settings)), status=outcome.status, failure=outcome.failure,
        exit_code=outcome.exit_code, signal=outcome.signal, message=message, wall_s=round(time.monotonic() - t0, 3),
        max_rss_kb=outcome.max_rss_kb, log=str(run.log), host=socket.gethostname(),
        reused_from=source.ab if source else None, content=content,
    )


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
    from dfos.steps.reuse import record_content_run

    with engine_for_url(workspace.db_url).begin() as connection:
        connection.execute(_insert_run(), {**run.row(), "dag_id": dag_id, "attempt": attempt})
        if run.ok and run.content is not None:
            record_content_run(connection, run.content, run.batch_id, run.ended)


@functools.cache
def _insert_run() -> Insert:
    """The run record's INSERT, built once, when the first run is recorded: SQLAlchemy is imported after
    the recipe ran, so that a batch job starts its recipe sooner."""
    from sqlalchemy import insert

    from dfos.db import ab_runs

    return insert(ab_runs)
