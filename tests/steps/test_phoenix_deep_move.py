"""phoenix DEEP mode, ``-M`` target after target: a run's targets are moved as they are processed (``-M`` every
processed one not moved yet, ``--last`` the one processed last), their products accumulate in
``$DFO_SCI_DIR/<RUN_ID>`` untouched by later moves, the run's ingest goes on from one ``JOBS_INGEST`` line, and a
kill while moving loses and duplicates nothing."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from astropy.io import fits
from sqlalchemy import select

from dfos.ab.store import read_ab
from dfos.cli.main import main
from dfos.db import archive_catalog, engine_for_url
from dfos.keys import Mode, Stage, mode_flag
from dfos.status.machine import flags_by_key
from dfos.steps.phoenix import phoenix_date
from dfos.steps.safe_move import sha256
from dfos.workspace import Workspace, open_workspace
from naco_night import phoenix_workspace

pytestmark = pytest.mark.esorex

NIGHTS = (date(2013, 2, 12), date(2013, 2, 14))
RUN, KEY = "090.C-0456(A)", "090.C-0456A"
NOW = "2013-03-02T14:00:00"
#: The run's targets (ABs, in time order) and the deep product each one makes.
TARGETS = {"NACO.2013-02-13T01:30:00.512_deep.ab": "NA_SCOA_130213T013000_Ks-DEEP.fits",
           "NACO.2013-02-13T02:30:00.612_deep.ab": "NA_SCOA_130213T023000_H-DEEP.fits",
           "NACO.2013-02-13T03:30:00.712_deep.ab": "NA_SCOA_130213T033000_Ks-DEEP.fits"}
FIRST, SECOND, THIRD = TARGETS


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template: both nights of the run processed and moved (IDP mode), the run's deep ABs created."""
    ws = phoenix_workspace(tmp_path_factory.mktemp("deep") / "ws", *NIGHTS, env={"DFOS_NOW": NOW})
    for night in NIGHTS:
        assert phoenix_date(ws, night).finished
    assert main(["--root", str(ws.root), "phoenix", "-r", RUN, "-C"]) == 0
    assert sorted(path.name for path in ws.ab_dir.glob("*_deep.ab")) == list(TARGETS)
    return ws.root


def _copy(template: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    shutil.copytree(template, root, symlinks=True)
    monkeypatch.setenv("DFOS_NOW", NOW)
    return open_workspace(root, env={"DFOS_NOW": NOW})


def _phoenix(ws: Workspace, *args: str) -> int:
    return main(["--root", str(ws.root), "phoenix", "-r", RUN, *args])


def _deep(ws: Workspace) -> dict[str, str]:
    """The run's certified products: name -> SHA-256."""
    return {path.name: sha256(path) for path in sorted((ws.sci_dir / KEY).glob("*.fits"))}


def _content(ws: Workspace) -> dict[str, tuple[object, ...]]:
    """The run's certified products: name -> (pixels, NCOMBINE, PROVi), each file opened whole (its
    CHECKSUM/DATASUM verified): what must not change with a kill (a header stamps when it was written)."""
    found: dict[str, tuple[object, ...]] = {}
    for path in sorted((ws.sci_dir / KEY).glob("*.fits")):
        with fits.open(path, checksum=True) as hdus:
            header = hdus[0].header
            found[path.name] = (hdus[0].data.tobytes(), header["NCOMBINE"],
                                tuple(header[f"PROV{i}"] for i in range(1, header["NCOMBINE"] + 1)))
    return found


def _run_flags(ws: Workspace) -> list[str]:
    return flags_by_key(ws.status_log.read()).get(KEY, [])


def _archived(ws: Workspace) -> list[str]:
    with engine_for_url(ws.db_url).begin() as db:
        return sorted(db.execute(select(archive_catalog.c.name).where(archive_catalog.c.date == KEY)).scalars())


def _ingest_lines(ws: Workspace) -> list[str]:
    return [line for line in (ws.job_dir / "JOBS_INGEST").read_text().splitlines() if KEY in line]


def test_targets_are_moved_as_they_are_processed(created: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    ws = _copy(created, tmp_path / "ws", monkeypatch)
    assert _phoenix(ws, "-P", "-a", FIRST) == 0
    capsys.readouterr()
    assert _phoenix(ws, "-M") == 0  # the processed target moves; the others do not block it
    out = capsys.readouterr().out
    assert list(_deep(ws)) == [TARGETS[FIRST]]
    assert f"2 target(s) not processed yet: {SECOND}, {THIRD}: run 'dfos phoenix -r {KEY} -P'" in out
    assert mode_flag(Mode.SCIENCE, Stage.UPDATED) not in _run_flags(ws)  # the run is not moved as a whole yet
    assert _archived(ws) == [TARGETS[FIRST]] and len(_ingest_lines(ws)) == 1
    first = _deep(ws)[TARGETS[FIRST]]
    assert not (ws.ab_dir / FIRST).exists() and (ws.path("DFO_LOG_DIR") / KEY / FIRST).is_file()

    assert _phoenix(ws, "-P", "-a", SECOND) == 0  # the moved target is not queued again
    assert _phoenix(ws, "--last") == 2  # --last without -M
    assert "--last goes with -r RUN_ID -M" in capsys.readouterr().err
    assert _phoenix(ws, "-M", "--last") == 0
    assert "1 target(s) moved" in capsys.readouterr().out
    assert list(_deep(ws)) == [TARGETS[FIRST], TARGETS[SECOND]] and _deep(ws)[TARGETS[FIRST]] == first

    assert _phoenix(ws, "-P") == 0  # the rest: only the third target is left to process
    assert _phoenix(ws, "-M", "--last") == 0
    assert list(_deep(ws)) == sorted(TARGETS.values()) and _deep(ws)[TARGETS[FIRST]] == first
    assert _run_flags(ws).count(mode_flag(Mode.SCIENCE, Stage.UPDATED)) == 1  # every target is moved now
    capsys.readouterr()
    assert _phoenix(ws, "-M") == 0  # nothing is left: says so, changes nothing
    assert f"{KEY}: nothing to move: 3 target(s) moved already" in capsys.readouterr().out
    assert list(_deep(ws)) == sorted(TARGETS.values()) and _deep(ws)[TARGETS[FIRST]] == first

    for name, product in TARGETS.items():  # each one an IDP naming its own raw frames of both nights
        header = fits.getheader(ws.sci_dir / KEY / product)
        raws = [Path(raw.ref).name for raw in read_ab(ws.path("DFO_LOG_DIR") / KEY, name).rawfiles]
        assert header["PRODCATG"] == "SCIENCE.IMAGE" and header["NCOMBINE"] == len(raws) == 10
        assert [header[f"PROV{i}"] for i in range(1, 11)] == raws
    assert _archived(ws) == sorted(TARGETS.values())
    assert len(_ingest_lines(ws)) == 1  # one line for the run, however many -M
    listing = (ws.lst_dir / f"list_ingest_SCIENCE_{KEY}.txt").read_text().split("\n")
    assert sorted(line.split()[0] for line in listing if line) == sorted(TARGETS.values())
    jobs = (ws.job_dir / "JOBS_PHOENIX").read_text()
    assert f'"$DFOS" phoenix -r {KEY} -M  # ' in jobs and f'"$DFOS" phoenix -r {KEY} -M --last  # ' in jobs


def test_an_earlier_product_stays_unless_update_yn(created: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ws = _copy(created, tmp_path / "ws", monkeypatch)
    assert _phoenix(ws, "-P") == 0
    earlier = ws.sci_dir / KEY / TARGETS[SECOND]  # an earlier product of the run under the same name
    earlier.parent.mkdir(parents=True)
    shutil.copyfile(ws.path("DFO_CAL_DIR") / "GEN" / sorted(p.name for p in (ws.cal_dir / "GEN").glob("*.fits"))[0],
                    earlier)
    before = sha256(earlier)
    capsys.readouterr()
    assert _phoenix(ws, "-M") == 0
    out = capsys.readouterr().out
    assert f"{SECOND} not moved: its product would replace an earlier one of the run, and UPDATE_YN is NO" in out
    assert sha256(earlier) == before and (ws.ab_dir / SECOND).is_file()  # kept, and the target waits
    assert {TARGETS[FIRST], TARGETS[THIRD]} <= set(_deep(ws))
    assert mode_flag(Mode.SCIENCE, Stage.UPDATED) not in _run_flags(ws)

    monkeypatch.setenv("DFOS_UPDATE_YN", "yes")
    # allowed now: replaced after a verified copy; the archive, which holds the earlier one, refuses the new bytes
    # unless ENABLE_UPDATES
    assert _phoenix(ws, "-M") == 3
    err = capsys.readouterr().err
    assert f"the archive already holds another {TARGETS[SECOND]}" in err and "ENABLE_UPDATES = true" in err
    assert sha256(earlier) != before and fits.getheader(earlier)["PRODCATG"] == "SCIENCE.IMAGE"
    assert not (ws.ab_dir / SECOND).exists() and mode_flag(Mode.SCIENCE, Stage.UPDATED) in _run_flags(ws)

    # ENABLE_UPDATES: the run's ingest (its JOBS_INGEST line) replaces the archived file; the earlier one is kept
    monkeypatch.setenv("DFOS_ENABLE_UPDATES", "yes")
    assert main(["--root", str(ws.root), "ingest", "-m", "SCIENCE", "-d", KEY]) == 0
    with engine_for_url(ws.db_url).begin() as db:
        archived = db.execute(select(archive_catalog.c.path, archive_catalog.c.sha256)
                              .where(archive_catalog.c.name == TARGETS[SECOND])).one()
    assert archived.sha256 == sha256(earlier) == sha256(Path(archived.path))
    kept = ws.archive_dir / "superseded" / before[:12] / TARGETS[SECOND]
    assert sha256(kept) == before  # the earlier bytes are not lost
    log = (ws.mon_dir / "ARCHIVE_UPDATES").read_text().splitlines()
    assert len(log) == 1 and f"{TARGETS[SECOND]} {before} -> {archived.sha256}" in log[0]
    assert main(["--root", str(ws.root), "ingest", "-m", "SCIENCE", "-d", KEY]) == 0  # again: nothing more
    assert len((ws.mon_dir / "ARCHIVE_UPDATES").read_text().splitlines()) == 1


CHILD = """
import sys
from dfos.steps.phoenix_deep import deep_move
from dfos.workspace import open_workspace
ws = open_workspace(__import__("pathlib").Path(sys.argv[1]), env={"DFOS_NOW": "2013-03-02T14:00:00"})
print("ready", flush=True)
sys.stdin.readline()
deep_move(ws, "090.C-0456A")
"""


def _kill_during_move(ws: Workspace, delay: float) -> None:
    """``deep_move`` in a child process (ready beforehand), SIGKILLed ``delay`` seconds in."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(ws.root)], stdin=subprocess.PIPE,
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


def test_a_kill_while_moving_the_targets_loses_and_duplicates_nothing(created: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    processed = _copy(created, tmp_path / "processed", monkeypatch)
    assert _phoenix(processed, "-P") == 0
    reference = _copy(processed.root, tmp_path / "reference", monkeypatch)
    start = time.perf_counter()
    assert _phoenix(reference, "-M") == 0
    took = time.perf_counter() - start
    expected = _content(reference)
    assert list(expected) == sorted(TARGETS.values())
    rng = random.Random(20130302)
    for attempt in range(3):
        ws = _copy(processed.root, tmp_path / f"kill{attempt}", monkeypatch)
        _kill_during_move(ws, rng.uniform(0.0, took))
        for name, product in TARGETS.items():  # every target's product is somewhere, whole
            made = ws.path("DFS_PRODUCT").rglob(f"r.{name.removesuffix('.ab')}_0000.fits")
            assert any(made) or _content(ws).get(product) == expected[product], (attempt, name)
        assert _phoenix(ws, "-M") == 0
        assert _content(ws) == expected  # each product once, whole, as without the kill
        assert not any(ws.path("DFS_PRODUCT").rglob("r.NACO*_deep_*.fits"))
        assert sorted(p.name for p in (ws.path("DFO_LOG_DIR") / KEY).glob("*_deep.ab")) == list(TARGETS)
        assert _archived(ws) == sorted(TARGETS.values()) and len(_ingest_lines(ws)) == 1
        assert _run_flags(ws).count(mode_flag(Mode.SCIENCE, Stage.UPDATED)) == 1
        shutil.rmtree(ws.root)


def test_a_kill_right_after_the_last_target_moved_keeps_the_ingest_line(created: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The kill falls between ``sci_Updated`` of the run and its ``JOBS_INGEST`` line: the next ``-M`` has no
    target left to move, and still writes the line (once) and ingests the run."""
    from killpoint import AFTER_FLAG, run_killed

    ws = _copy(created, tmp_path / "ws", monkeypatch)
    assert _phoenix(ws, "-P") == 0
    killed = run_killed(["--root", str(ws.root), "phoenix", "-r", RUN, "-M"], AFTER_FLAG,
                        text=f"{mode_flag(Mode.SCIENCE, Stage.UPDATED)} {KEY}", env={"DFOS_NOW": NOW})
    assert killed.returncode == -9, killed.stdout[-2000:] + killed.stderr[-2000:]
    assert _run_flags(ws).count(mode_flag(Mode.SCIENCE, Stage.UPDATED)) == 1 and _ingest_lines(ws) == []
    assert _phoenix(ws, "-M") == 0
    assert len(_ingest_lines(ws)) == 1 and _archived(ws) == sorted(TARGETS.values())
    assert _run_flags(ws).count(mode_flag(Mode.SCIENCE, Stage.UPDATED)) == 1
    assert _phoenix(ws, "-M") == 0  # once more: still one line
    assert len(_ingest_lines(ws)) == 1
