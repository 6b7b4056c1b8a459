"""No hidden sharing (issue 19, item 3): is this workspace's database, DFO_STATUS or a job file another's?

Three checks, each cheap (one row of the database, a stat per parent of each configured directory, the
top-level files of ``$DFO_JOB_DIR``):

* **database**: the table ``workspace_owner`` names the workspace that owns the database (root, a random id,
  host, when).  The first command that changes state claims a database nobody owns.  A database owned by
  another root that still holds a ``dfos.toml`` (on this host; any root on another host) is REFUSED: two
  workspaces with the same ``DB_URL`` mix their runs, QC1 values and archive catalog.  A SQLite file inside
  this workspace's own root that names another root is a copy: it is re-claimed.  An owner whose root has
  no ``dfos.toml`` any more was moved away: re-claimed too.  ``dfos sharing claim`` takes a database over by
  hand (the other workspace is gone for good, or lives on another host and no longer uses it).
* **directories**: a directory setting (``DFO_MON_DIR`` holds DFO_STATUS, ``DFO_JOB_DIR``, ...) that lies
  inside another workspace's root (a ``dfos.toml`` above it that is not ours) is REFUSED; ``DFO_CONFIG_DIR``
  there is a warning (rules read by both); ``DFO_ARCHIVE_DIR`` is the archive, shared on purpose.
* **job files**: a job file (``JOBS_*``, ``rawDown_*``, ``mcalDown_*``, a ``.sub``) naming another root
  (``--root /other``: written by an older dfos or copied by hand) is a WARNING, with the fix: ``dfos sharing
  relocate`` rewrites such files (and those of an older dfos naming this root) into the relocatable form
  (:mod:`dfos.jobs.relocate`), atomically.  Commands that change state look at the ``JOBS_*`` files only.

:func:`enforce` runs the checks for the commands that change state (``dfos.cli.context``): a refusal raises
:class:`~dfos.errors.SharingRefused` (one line: what is shared, with whom, what to do), warnings are logged.
``dfos status``, ``dfos sharing check`` and the monitor's main page show every finding.
"""

from __future__ import annotations

import logging
import re
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dfos import clock
from dfos.dates import format_timestamp
from dfos.db import engine_for_url, workspace_owner
from dfos.errors import DfosError, SharingRefused
from dfos.fsutil import exclusive_lock, write_text_atomic
from dfos.jobs.relocate import foreign_roots, relocate_text
from dfos.workspace import CONFIG_FILE, DIRECTORY_KEYS, Workspace

__all__ = ["REFUSE", "WARN", "Finding", "claim_database", "database_owner", "enforce", "job_file_roots",
           "relocate_jobs", "sharing_findings"]

REFUSE, WARN = "refuse", "warn"
#: Directory settings another workspace may hold on purpose (the archive), or that only warn (rules).
_SHARED_ON_PURPOSE = ("DFO_ARCHIVE_DIR",)
_WARN_ONLY = ("DFO_CONFIG_DIR",)
#: The job files one launches (the monitor too): checked before every command that changes state.
_TODO = ("JOBS_",)
#: Job files larger than this are not read by the check (a job file is a few kB).
_MAX_JOB_FILE = 4 << 20

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    kind: str
    """database | directory | jobs"""
    severity: str
    """refuse | warn"""
    message: str
    """One line: what is shared, with whom, what to do."""
    fix: str = ""
    """A command that fixes it, when there is one."""

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "severity": self.severity, "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class Owner:
    workspace_id: str
    root: str
    host: str
    claimed: str


def _root(workspace: Workspace) -> Path:
    return workspace.root.resolve()


def _sqlite_file(url: str) -> Path | None:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url.removeprefix("sqlite:///").split("?", 1)[0]).resolve()
    return None


def database_owner(workspace: Workspace) -> Owner | None:
    """The workspace that owns this workspace's database (None: none claimed it yet)."""
    with engine_for_url(workspace.db_url).begin() as db:
        row = db.execute(select(workspace_owner).where(workspace_owner.c.slot == 1)).first()
    return None if row is None else Owner(row.workspace_id, row.root, row.host, row.claimed)


def claim_database(workspace: Workspace) -> Owner:
    """Make this workspace the owner of its database (a new workspace id); the owner row written."""
    owner = Owner(uuid.uuid4().hex, str(_root(workspace)), socket.gethostname(),
                  format_timestamp(clock.now(workspace.settings)))
    values = {"workspace_id": owner.workspace_id, "root": owner.root, "host": owner.host, "claimed": owner.claimed}
    with engine_for_url(workspace.db_url).begin() as db:
        if db.execute(select(workspace_owner.c.slot).where(workspace_owner.c.slot == 1)).first() is None:
            db.execute(workspace_owner.insert().values(slot=1, **values))
        else:
            db.execute(workspace_owner.update().where(workspace_owner.c.slot == 1).values(**values))
    return owner


def _db_finding(workspace: Workspace, claim: bool) -> Finding | None:
    owner = database_owner(workspace)
    root = _root(workspace)
    if owner is not None and Path(owner.root) == root:
        return None
    sqlite = _sqlite_file(workspace.db_url)
    here = socket.gethostname()
    reclaim = (owner is None or (sqlite is not None and root in sqlite.parents)
               or (owner.host == here and not (Path(owner.root) / CONFIG_FILE).is_file()))
    if reclaim:
        if claim:
            try:
                claim_database(workspace)
            except (DfosError, IntegrityError):  # another process claimed it at this very moment: look again
                return _db_finding(workspace, claim=False) if owner is None else None
        return None
    assert owner is not None
    where = f" on host {owner.host}" if owner.host != here else ""
    return Finding("database", REFUSE,
                   f"the database {_shown(workspace)} belongs to the workspace {owner.root}{where} (claimed "
                   f"{owner.claimed}): two workspaces sharing one database mix their runs, QC1 values and archive "
                   f"catalog; give {root} a database of its own (DB_URL in its {CONFIG_FILE}, or DFOS_DB_URL), or, "
                   f"if {owner.root} no longer uses it, run 'dfos sharing claim'",
                   f"dfos --root {root} sharing claim")


def _shown(workspace: Workspace) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(workspace.db_url).render_as_string(hide_password=True)
    except Exception:  # an URL SQLAlchemy cannot parse: the engine refused it before
        return "(DB_URL)"


def _other_root(path: Path, root: Path) -> Path | None:
    """The root of another workspace that ``path`` lies in (None: ours, or none)."""
    for candidate in (path, *path.parents):
        if candidate == root:
            return None
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    return None


def _directory_findings(workspace: Workspace) -> list[Finding]:
    root = _root(workspace)
    found = []
    for key in DIRECTORY_KEYS:
        if key in _SHARED_ON_PURPOSE:
            continue
        path = workspace.path(key).resolve()
        other = _other_root(path, root)
        if other is None:
            continue
        what = "DFO_STATUS and the AB lists" if key == "DFO_MON_DIR" else "its files"
        found.append(Finding("directory", WARN if key in _WARN_ONLY else REFUSE,
                             f"{key} = {path} lies inside the workspace {other}: {what} would be shared with it; "
                             f"set {key} to a directory of {root} (or a relative path) in {root / CONFIG_FILE}"))
    return found


def _job_files(workspace: Workspace, todo_only: bool = False) -> list[Path]:
    """The files of ``$DFO_JOB_DIR`` that may name a root: the job files (``JOBS_*``, with ``todo_only`` only
    those), download files and HTCondor submit files (execAB/execQC files name ABs only: never read)."""
    job_dir = workspace.job_dir
    if not job_dir.is_dir():
        return []
    kinds = _TODO if todo_only else (*_TODO, "rawDown_", "mcalDown_")
    return sorted(p for p in job_dir.iterdir()
                  if (p.name.startswith(kinds) or (not todo_only and p.name.endswith(".sub")))
                  and p.is_file() and p.stat().st_size <= _MAX_JOB_FILE)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _roots_named(text: str, root: Path) -> list[str]:
    return [named for named in foreign_roots(text, str(root))
            if not (Path(named).exists() and Path(named).resolve() == root)]


def job_file_roots(workspace: Workspace, name: str) -> list[str]:
    """The other workspaces' roots the job file ``$DFO_JOB_DIR/<name>`` names (empty: none, or no such file)."""
    path = workspace.job_dir / name
    return _roots_named(_read(path), _root(workspace)) if path.is_file() else []


def _job_findings(workspace: Workspace, todo_only: bool = False) -> list[Finding]:
    root = _root(workspace)
    found = []
    for path in _job_files(workspace, todo_only):
        others = _roots_named(_read(path), root)
        if others:
            found.append(Finding("jobs", WARN,
                                 f"{path} names another workspace ({', '.join('--root ' + o for o in others)}): "
                                 f"running it would change {others[0]}, not {root}; run 'dfos sharing relocate' to "
                                 "rewrite it for this workspace", f"dfos --root {root} sharing relocate"))
    return found


def sharing_findings(workspace: Workspace, claim: bool = False, todo_only: bool = False) -> list[Finding]:
    """Every finding: the database's owner (``claim``: a database nobody owns, or a copy's, is claimed), the
    directory settings, the job files (``todo_only``: the ``JOBS_*`` files only, the quick look of
    :func:`enforce`)."""
    found = []
    db = _db_finding(workspace, claim)
    if db is not None:
        found.append(db)
    return [*found, *_directory_findings(workspace), *_job_findings(workspace, todo_only)]


def enforce(workspace: Workspace) -> list[Finding]:
    """Before a command changes state: refuse (:class:`SharingRefused`, the first refusal's line) or log each
    warning; the warnings."""
    found = sharing_findings(workspace, claim=True, todo_only=True)
    refused = [f for f in found if f.severity == REFUSE]
    if refused:
        raise SharingRefused(refused[0].message)
    for finding in found:
        log.warning(finding.message)
    return found


_ABSOLUTE_ROOT = re.compile(r"--root(?:\s+|=)'?/")


def relocate_jobs(workspace: Workspace) -> list[Path]:
    """Rewrite every job file of ``$DFO_JOB_DIR`` that names a root with ``--root /...`` (another workspace's, or
    this one's written by an older dfos) into the relocatable form, each atomically under its lock (mode kept);
    the files rewritten.  A file that is no shell script (a DAGMan submit file) gets this root instead."""
    from dfos.steps.create_job import root_up

    root = _root(workspace)
    done = []
    job_dir = workspace.job_dir.resolve()
    relative = str(job_dir.relative_to(root)) if root in job_dir.parents else ""
    for path in _job_files(workspace):
        with exclusive_lock(path.with_name(f".{path.name}.lock")):
            text = _read(path)
            if not _ABSOLUTE_ROOT.search(text):
                continue
            roots = [*_roots_named(text, root), str(workspace.root)]
            if text.startswith("#!"):
                new = relocate_text(text, roots, str(workspace.bin_dir / "dfos"), root_up(workspace),
                                    str(workspace.root), relative)
            else:
                new = _replace_roots(text, roots[:-1], str(workspace.root))
            if new != text:
                write_text_atomic(path, new, mode=path.stat().st_mode & 0o777)
                done.append(path)
    return done


def _replace_roots(text: str, roots: list[str], root: str) -> str:
    for old in roots:
        text = re.sub(r"(?<![\w/.-])" + re.escape(old.rstrip("/")) + r"(?=[/'\"\s]|$)", root.replace("\\", r"\\"),
                      text, flags=re.MULTILINE)
    return text
