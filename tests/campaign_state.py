"""A phoenix campaign of the small synthetic NACO night run as a user runs it (``dfos phoenix -d``, a process
group of its own), killed, started again, and compared with an unkilled one: what must be the same
(:func:`campaign_state`) and what a kill must never leave (:func:`assert_nothing_lost`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from astropy.io import fits
from sqlalchemy import select

from dfos.db import ab_runs, archive_catalog, engine_for_url
from dfos.fsutil import sha256_file
from dfos.status.machine import flags_by_key
from dfos.workspace import Workspace

__all__ = ["NIGHT", "NOW", "RESTARTS", "CampaignState", "assert_nothing_lost", "assert_same", "campaign_state",
           "flags", "kill_group", "phoenix_argv", "run_to_end", "start"]

NIGHT = date(2013, 2, 12)
NOW = {"DFOS_NOW": "2013-03-02T14:00:00"}
#: Starts after the kills before a campaign must have finished (one is enough when it resumes well).
RESTARTS = 3
#: Header keywords that say when a file was written, not what it holds.
VOLATILE = frozenset({"DATE", "CHECKSUM", "DATASUM", "COMMENT", "HISTORY"})
#: What a writer that was killed leaves behind: atomic_path's temporaries, a move's hard link, a reuse's copy.
PARTIAL = re.compile(r"(\.part|\.lnk|\.reused|\.tmp)$")
#: Raw frames of the small night in the archive.
RAW_FRAMES = 36


def phoenix_argv(ws: Workspace) -> list[str]:
    return ["--root", str(ws.root), "phoenix", "-d", NIGHT.isoformat()]


def start(ws: Workspace) -> subprocess.Popen[bytes]:
    """``dfos phoenix -d NIGHT`` as its own process group (its recipes are in it: a kill takes them all)."""
    return subprocess.Popen([sys.executable, "-m", "dfos", *phoenix_argv(ws)], env={**os.environ, **NOW},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_group(child: subprocess.Popen[bytes]) -> None:
    """``kill -9`` the campaign's whole process group (dfos and its recipes), and reap it."""
    from waiting import wait_until

    if _group_alive(child.pid):
        os.killpg(child.pid, signal.SIGKILL)
    child.communicate(timeout=60)
    wait_until(lambda: not _group_alive(child.pid), timeout=60, what=f"process group {child.pid} to end")


def flags(ws: Workspace) -> list[str]:
    """The night's DFO_STATUS flags, in file order (repeats kept)."""
    return flags_by_key(ws.status_log.read()).get(NIGHT.isoformat(), []) if ws.status_log.path.is_file() else []


def run_to_end(ws: Workspace, story: list[str]) -> None:
    """Start the campaign again until it says the date is finished (at most RESTARTS times); ``story`` says what
    happened before, for the failure message."""
    for _ in range(RESTARTS):
        child = start(ws)
        out, _ = child.communicate(timeout=600)
        story.append(f"restart: exit {child.returncode}: {out.decode(errors='replace').strip()[-2000:]}")
        if child.returncode == 0 and "finished" in flags(ws):
            return
    raise AssertionError(f"the campaign did not finish after {RESTARTS} restarts:\n" + "\n".join(story))


@dataclass(frozen=True)
class CampaignState:
    """What must be the same after a killed campaign as after an unkilled one."""

    science: dict[str, dict[str, object]]
    """Science product -> its primary header (without VOLATILE keywords): names and IDP keywords."""
    masters: tuple[str, ...]
    archived: tuple[str, ...]
    jobs_ingest: tuple[str, ...]
    jobs_cleanup: tuple[str, ...]
    flags: tuple[str, ...]
    successful_abs: tuple[str, ...]


def _header(path: Path) -> dict[str, object]:
    """The primary header of a FITS file that opens and whose checksums (if it has any) hold."""
    with fits.open(path, checksum=True) as hdul:
        return {k: v for k, v in hdul[0].header.items() if k not in VOLATILE}


def _runs(ws: Workspace) -> list[tuple[str, str, str | None]]:
    with engine_for_url(ws.db_url).begin() as db:
        return [(r.ab, r.status, r.reused_from) for r in db.execute(
            select(ab_runs.c.ab, ab_runs.c.status, ab_runs.c.reused_from))]


def _commands(ws: Workspace, name: str) -> tuple[str, ...]:
    path = ws.job_dir / name
    if not path.is_file():
        return ()
    return tuple(line.replace(str(ws.root), "<ROOT>") for line in path.read_text().splitlines()
                 if line.startswith("/") or line.startswith('"'))


def campaign_state(ws: Workspace) -> CampaignState:
    day = NIGHT.isoformat()
    with engine_for_url(ws.db_url).begin() as db:
        archived = sorted(db.execute(select(archive_catalog.c.name)).scalars())
    return CampaignState(
        science={p.name: _header(p) for p in sorted((ws.sci_dir / day).glob("*.fits"))},
        masters=tuple(p.name for p in sorted((ws.cal_dir / day).glob("*.fits"))),
        archived=tuple(archived),
        jobs_ingest=_commands(ws, "JOBS_INGEST"),
        jobs_cleanup=_commands(ws, "JOBS_CLEANUP"),
        flags=tuple(flags(ws)),
        successful_abs=tuple(sorted({ab for ab, status, _ in _runs(ws) if status == "SUCCESSFUL"})))


def assert_nothing_lost(ws: Workspace, why: str) -> None:
    """Each AB ran successfully once (a reuse is no run); no half-written file anywhere; every product opens and
    has its verified copy in the archive; every raw frame is still in the archive, and opens."""
    ran = Counter(ab for ab, status, reused in _runs(ws) if status == "SUCCESSFUL" and reused is None)
    assert ran and all(n == 1 for n in ran.values()), f"an AB ran twice: {ran}\n{why}"
    partial = [str(p) for p in ws.root.rglob("*") if PARTIAL.search(p.name)]
    assert not partial, f"half-written files left: {partial}\n{why}"
    seen = flags(ws)
    assert len(seen) == len(set(seen)), f"a flag appended twice: {seen}\n{why}"
    with engine_for_url(ws.db_url).begin() as db:
        catalog = {r.name: r for r in db.execute(select(archive_catalog))}
    day = NIGHT.isoformat()
    for path in [*(ws.sci_dir / day).glob("*"), *(ws.cal_dir / day).glob("*")]:
        assert path.suffix == ".fits", f"{path} is no product\n{why}"
        _header(path)
        entry = catalog.get(path.name)
        assert entry is not None and sha256_file(Path(entry.path)) == entry.sha256 == sha256_file(path), \
            f"{path} has no verified copy in the archive\n{why}"
    frames = sorted((ws.archive_dir / day).glob("NACO.*.fits"))
    assert len(frames) == RAW_FRAMES, f"raw frames gone from the archive: {len(frames)} left\n{why}"
    for frame in frames:
        _header(frame)


def assert_same(ws: Workspace, reference: CampaignState, why: str) -> None:
    """The campaign finished as the reference did, and nothing was lost on the way."""
    state = campaign_state(ws)
    for name in ("flags", "masters", "archived", "jobs_ingest", "jobs_cleanup", "successful_abs"):
        assert getattr(state, name) == getattr(reference, name), \
            f"{name}: {getattr(state, name)} != reference {getattr(reference, name)}\n{why}"
    assert state.science.keys() == reference.science.keys(), why
    for product, header in reference.science.items():
        got = state.science[product]
        differ = sorted(k for k in header.keys() | got.keys() if header.get(k) != got.get(k))
        assert not differ, f"{product}: keywords differ from the reference: {differ}\n{why}"
    assert_nothing_lost(ws, why)
