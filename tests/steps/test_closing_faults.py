"""Fault injection while closing a date: SIGKILL at random points during move, ingest and cleanup,
a full disk and a refused write during move.  After each fault no product is lost or corrupted
(every checksum is accounted for), and running the step again completes it."""

from __future__ import annotations

import errno
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from dfos.steps.certify import certify, parse_decisions
from dfos.steps.finish import cleanup, finish
from dfos.steps.ingest import ingest, ingest_list
from dfos.steps.move import move
from dfos.steps.safe_move import sha256
from dfos.workspace import Workspace, open_workspace
from nights import process_night

pytestmark = pytest.mark.esorex

NIGHT = date(2013, 2, 12)
KILLS = 8


@pytest.fixture
def certified(uves_night: Workspace, tmp_path: Path) -> Path:
    """A template workspace: the night processed, QC done, every AB certified."""
    ws = process_night(uves_night)
    decisions = parse_decisions("UVES.2013-02-12T21:50:00.500_frm.ab accept\n"
                                "UVES.2013-02-12T21:52:00.500_tpl.ab accept\n")
    assert certify(ws, "CALIB", NIGHT, decisions, accept_green=True).certified_flag
    return ws.root


def _copy(template: Path, root: Path) -> Workspace:
    shutil.copytree(template, root, symlinks=True)
    return open_workspace(root, env={"DFOS_NOW": "2013-02-13T14:00:00"})


def _shas(paths: list[Path]) -> list[str]:
    return sorted(sha256(p) for p in paths if p.is_file())


def _fits(ws: Workspace) -> dict[str, list[Path]]:
    archive = ws.archive_dir / "calib"
    return {"products": sorted(ws.path("DFS_PRODUCT").rglob("*.fits")),
            "cal": sorted((ws.cal_dir / "2013-02-12").glob("*.fits")),
            "archive": sorted(archive.rglob("*.fits")) if archive.is_dir() else []}


#: A child that imports everything, says "ready", waits for "go", then runs one closing step.
CHILD = """
import sys
from datetime import date
from dfos.steps.finish import cleanup
from dfos.steps.ingest import ingest
from dfos.steps.move import move
from dfos.workspace import open_workspace
ws = open_workspace(__import__("pathlib").Path(sys.argv[1]), env={"DFOS_NOW": "2013-02-13T14:00:00"})
day = date(2013, 2, 12)
step = {"move": lambda: move(ws, "CALIB", day), "ingest": lambda: ingest(ws, "CALIB", day),
        "cleanup": lambda: cleanup(ws, day)}[sys.argv[2]]
print("ready", flush=True)
sys.stdin.readline()
step()
"""


def _kill_during(ws: Workspace, step: str, delay: float) -> None:
    """Run a step in a child process (started and ready beforehand) and SIGKILL it ``delay`` seconds in."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(ws.root), step], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().strip() == "ready"
    child.stdin.write("go\n")
    child.stdin.flush()
    time.sleep(delay)
    child.kill()
    child.wait()
    child.stdin.close()
    child.stdout.close()


def test_sigkill_during_move_ingest_and_cleanup(certified: Path, tmp_path: Path) -> None:
    rng = random.Random(20131212)
    template = _copy(certified, tmp_path / "template")
    originals = _shas(_fits(template)["products"])
    assert len(originals) == 7
    # how long each step takes here, so that the kills land inside it
    timed = _copy(certified, tmp_path / "timed")
    took = {}
    for name, step in (("move", lambda: move(timed, "CALIB", NIGHT)), ("ingest", lambda: ingest(timed, "CALIB", NIGHT)),
                       ("finish", lambda: finish(timed, NIGHT)), ("cleanup", lambda: cleanup(timed, NIGHT))):
        start = time.perf_counter()
        step()
        took[name] = time.perf_counter() - start
    cut = {"move": 0, "ingest": 0, "cleanup": 0}
    for attempt in range(KILLS):
        # move, killed at a random point, then run again
        ws = _copy(certified, tmp_path / f"move{attempt}")
        _kill_during(ws, "move", rng.uniform(0.0, took["move"]))
        found = _fits(ws)
        assert sorted(set(_shas(found["products"]) + _shas(found["cal"]))) == originals  # nothing lost ...
        assert set(_shas(found["cal"])) <= set(originals)  # ... nothing corrupt
        cut["move"] += bool(found["products"])
        move(ws, "CALIB", NIGHT)
        found = _fits(ws)
        assert found["products"] == [] and _shas(found["cal"]) == originals

        # ingest, killed at a random point, then run again
        _kill_during(ws, "ingest", rng.uniform(0.0, took["ingest"]))
        assert set(_shas(_fits(ws)["archive"])) <= set(originals) and _shas(_fits(ws)["cal"]) == originals
        cut["ingest"] += not ingest_list(ws, "CALIB", NIGHT).is_file()
        if not ingest_list(ws, "CALIB", NIGHT).is_file():
            ingest(ws, "CALIB", NIGHT)
        assert _shas(_fits(ws)["archive"]) == originals

        # cleanup, killed at a random point, then run again
        finish(ws, NIGHT)
        _kill_during(ws, "cleanup", rng.uniform(0.0, took["cleanup"]))
        cal = ws.cal_dir / "2013-02-12"
        for fits_file in sorted(cal.glob("*.hdr")):
            assert fits_file.read_text().startswith("SIMPLE  =")
        remaining = _fits(ws)["cal"]
        cut["cleanup"] += bool(remaining)
        assert set(_shas(remaining)) <= set(originals) and _shas(_fits(ws)["archive"]) == originals
        cleanup(ws, NIGHT)
        assert _fits(ws)["cal"] == [] and len(list(cal.glob("*.hdr"))) == 7
        shutil.rmtree(ws.root)
    assert sum(cut.values()) >= KILLS, (cut, took)  # most kills really landed inside the steps


def test_a_full_disk_during_move_loses_nothing(certified: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _copy(certified, tmp_path / "copy")
    originals = _shas(_fits(ws)["products"])
    calls = {"n": 0}
    real_copy = shutil.copyfile

    def no_link(*_: object) -> None:
        raise OSError(errno.EXDEV, "cross-device link")  # as on two file systems: a real copy

    def half_copy(source: str | Path, target: str | Path) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # the third file meets a full disk half way
            Path(target).write_bytes(Path(source).read_bytes()[:1000])
            raise OSError(errno.ENOSPC, "No space left on device")
        real_copy(source, target)

    monkeypatch.setattr(os, "link", no_link)  # safe_move's, and every other: only move runs meanwhile
    monkeypatch.setattr(shutil, "copyfile", half_copy)
    with pytest.raises(OSError, match="No space left"):
        move(ws, "CALIB", NIGHT)
    assert calls["n"] == 3  # two files were really copied, the third met the full disk
    found = _fits(ws)
    assert sorted(set(_shas(found["products"]) + _shas(found["cal"]))) == originals
    assert not [p for p in (ws.cal_dir / "2013-02-12").iterdir() if p.name.endswith(".part")]  # no half copy left
    monkeypatch.undo()
    move(ws, "CALIB", NIGHT)
    assert _shas(_fits(ws)["cal"]) == originals and _fits(ws)["products"] == []


def test_a_refused_write_during_move_loses_nothing(certified: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _copy(certified, tmp_path / "copy")
    originals = _shas(_fits(ws)["products"])
    real_replace = os.replace
    cal = str(ws.cal_dir / "2013-02-12")

    def refuse(source: str | Path, target: str | Path) -> None:
        if str(target).startswith(cal) and str(target).endswith("_BLUE.fits") and "MDAR" in str(target):
            raise PermissionError(errno.EACCES, "Permission denied", str(target))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        move(ws, "CALIB", NIGHT)
    found = _fits(ws)
    assert sorted(set(_shas(found["products"]) + _shas(found["cal"]))) == originals
    monkeypatch.undo()
    move(ws, "CALIB", NIGHT)
    assert _shas(_fits(ws)["cal"]) == originals
