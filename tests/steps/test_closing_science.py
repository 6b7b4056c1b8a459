"""Closing a NACO night with both modes, on real products: the calibrations certified and moved (the SCIENCE
ABs waiting for them then name the certified masters), the science certified, moved to $DFO_SCI_DIR under
science names, ingested, and the date finished and cleaned up.  The night is processed once (CALIB and
SCIENCE cascades with real esorex); each test works on a copy."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from astropy.io import fits
from sqlalchemy import select

from dfos.ab.model import ProcessStatus
from dfos.cli.main import main
from dfos.db import archive_catalog, comments, engine_for_url
from dfos.errors import StateError
from dfos.jobs.todo import pending_commands
from dfos.keys import BatchId, Mode, Stage, mode_flag
from dfos.steps.cascade import exec_cascade
from dfos.steps.certify import Decision, certify
from dfos.steps.create_ab import create_abs, supersession_log
from dfos.steps.create_job import create_job
from dfos.steps.demo_data import generate_night
from dfos.steps.finish import cleanup, finish
from dfos.steps.headers import extract_headers
from dfos.steps.ingest import ingest
from dfos.steps.move import move
from dfos.steps.process_ab import load_ab, set_process_status
from dfos.steps.safe_move import sha256
from dfos.steps.static_calib import install_static
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, init_workspace, open_workspace

pytestmark = pytest.mark.esorex

NIGHT = date(2013, 2, 12)
NOW = "2013-02-13T14:00:00"
CALIB = ["NACO.2013-02-12T17:00:00.012_tpl.ab", "NACO.2013-02-12T22:40:00.112_tpl.ab",
         "NACO.2013-02-12T22:52:00.212_tpl.ab", "NACO.2013-02-13T00:20:00.312_tpl.ab",
         "NACO.2013-02-13T00:32:00.412_tpl.ab"]
FIELD1, FIELD2, FIELD3 = SCIENCE = ["NACO.2013-02-13T01:30:00.512_tpl.ab", "NACO.2013-02-13T02:30:00.612_tpl.ab",
                                    "NACO.2013-02-13T03:30:00.712_tpl.ab"]
NAMES = {FIELD1: "NA_SCOA_130213T013000_Ks.fits", FIELD2: "NA_SCOA_130213T023000_H.fits",
         FIELD3: "NA_SCOA_130213T033000_Ks.fits"}
FLAT_KS = "$DFO_CAL_DIR/2013-02-12/NA_MFLT_130212A_Ks.fits"


@pytest.fixture(scope="module")
def processed_night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small NACO night processed in both modes (real esorex), QC flags set as the job file sets them."""
    ws, _ = init_workspace(tmp_path_factory.mktemp("naco-night") / "ws", env={}, instrument="NACO")
    generate_night(ws, NIGHT, small=True, seed=5)
    install_static(ws, ws.instrument)
    ws = open_workspace(ws.root, env={"DFOS_NOW": NOW})
    extract_headers(ws, NIGHT)
    for mode in Mode:
        create_abs(ws, NIGHT, mode)
        create_job(ws, NIGHT, mode)
        dag = BatchId.of(mode, NIGHT).render()
        assert exec_cascade(ws, dag, ws.job_dir / f"execAB_{dag}", slots=2).ok
        append_flag(ws, mode_flag(mode, Stage.QC), NIGHT)
    return ws.root


@pytest.fixture
def night(processed_night: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(processed_night, tmp_path / "ws", symlinks=True)
    return open_workspace(tmp_path / "ws", env={"DFOS_NOW": NOW})


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its checksum."""
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()} \
        if root.is_dir() else {}


def _state(ws: Workspace) -> dict[str, dict[str, str]]:
    """What a closing step may change: the product, calibration, science, log, AB and archive trees, DFO_STATUS."""
    trees = {key: _tree(ws.path(key)) for key in ("DFS_PRODUCT", "DFO_CAL_DIR", "DFO_SCI_DIR", "DFO_LOG_DIR",
                                                  "DFO_AB_DIR", "DFO_ARCHIVE_DIR", "DFO_LST_DIR")}
    return {**trees, "status": {"text": ws.status_log.path.read_text()}}


def _certify_and_move_calib(ws: Workspace) -> tuple[str, ...]:
    assert certify(ws, Mode.CALIB, NIGHT, [Decision(ab, "certified") for ab in CALIB], user="qc").certified_flag
    return move(ws, Mode.CALIB, NIGHT).users


def _catalog(ws: Workspace) -> dict[str, tuple[str, str, str]]:
    with engine_for_url(ws.db_url).begin() as db:
        return {r.name: (r.mode, r.sha256, r.path) for r in db.execute(select(archive_catalog))}


def test_a_night_from_processed_science_to_its_archived_products(night: Workspace) -> None:
    ws = night
    science_abs = {name: load_ab(ws, name) for name in SCIENCE}
    made = {name: sha256(ws.expand(ab.prod_path) / f"{ab.prod_root}_0000.fits") for name, ab in science_abs.items()}

    # CALIB is certified and moved: the SCIENCE ABs, processed with the virtual flats, now name the masters
    assert set(_certify_and_move_calib(ws)) == set(SCIENCE)
    flat = load_ab(ws, FIELD1).mcalib
    assert [(c.virtual, c.ref, c.sof_path) for c in flat] == \
        [(False, "$DFO_CAL_DIR/MCAL/2013-02-12/NA_MFLT_130212A_Ks.hdr", FLAT_KS)]
    after_calib = {name: (ws.ab_dir / name).read_text() for name in SCIENCE}
    assert all(load_ab(ws, name).process_status is ProcessStatus.SUCCESSFUL for name in SCIENCE)

    # createAB -m SCIENCE again associates the same masters from MCAL: nothing superseded, nothing rewritten
    again = create_abs(ws, NIGHT, Mode.SCIENCE)
    assert again.superseded == () and again.written == () and set(again.kept_done) == set(SCIENCE)
    assert {name: (ws.ab_dir / name).read_text() for name in SCIENCE} == after_calib
    assert not supersession_log(ws, BatchId.of(Mode.SCIENCE, NIGHT).render()).exists()

    # SCIENCE is certified (no QC scores needed: decisions) and moved; one field is rejected
    with pytest.raises(StateError, match="not certified yet"):
        move(ws, Mode.SCIENCE, NIGHT)
    result = certify(ws, Mode.SCIENCE, NIGHT, [Decision(FIELD1, "certified"), Decision(FIELD2, "rejected", "trails"),
                                               Decision(FIELD3, "certified", "fine")], user="qc")
    assert result.certified_flag and result.undecided == ()
    calib_before = _tree(ws.cal_dir)
    moved = move(ws, Mode.SCIENCE, NIGHT)
    assert moved.masters == (NAMES[FIELD1], NAMES[FIELD3]) and moved.rejected == (FIELD2,) and moved.users == ()
    sci = ws.sci_dir / "2013-02-12"
    assert sorted(p.name for p in sci.iterdir()) == sorted([NAMES[FIELD1], NAMES[FIELD3]])  # no plan left
    assert {name: sha256(sci / NAMES[name]) for name in (FIELD1, FIELD3)} == \
        {name: made[name] for name in (FIELD1, FIELD3)}  # the bytes the cascade made, renamed
    assert fits.getheader(sci / NAMES[FIELD1])["HIERARCH ESO PRO CATG"] == "COADDED_IMG"
    logs = ws.path("DFO_LOG_DIR") / "2013-02-12"
    assert sha256(logs / "rejected" / "r.NACO.2013-02-13T02:30:00.612_tpl_0000.fits") == made[FIELD2]
    moved_ab = (logs / FIELD1).read_text()
    assert f"PRODUCTS        {NAMES[FIELD1]}  COADDED_IMG" in moved_ab and "PROD_PATH       $DFO_SCI_DIR/2013-02-12" \
        in moved_ab and FLAT_KS in moved_ab
    assert (logs / FIELD1.replace(".ab", ".sof")).is_file() and not (ws.ab_dir / FIELD1).exists()
    assert _tree(ws.cal_dir) == calib_before  # nothing into $DFO_CAL_DIR: no master, no MCAL, no VCAL change
    flags = [line.flag for line in ws.status_log.read()]
    assert flags[-2:] == ["sci_Certif", "sci_Updated"]
    assert "ingest -m SCIENCE -d 2013-02-12" in (ws.job_dir / "JOBS_INGEST").read_text()
    state = _state(ws)
    assert move(ws, Mode.SCIENCE, NIGHT).already_done and _state(ws) == state  # twice: nothing changes

    # ingest: the certified science products, checksums verified; nothing of MCAL, nothing rejected
    assert ingest(ws, Mode.SCIENCE, NIGHT).ingested == (NAMES[FIELD1], NAMES[FIELD3])
    catalog = _catalog(ws)
    assert {name: row[:2] for name, row in catalog.items()} == \
        {NAMES[f]: ("SCIENCE", made[f]) for f in (FIELD1, FIELD3)}
    for name, (_, digest, path) in catalog.items():
        assert Path(path) == ws.archive_dir / "science" / "2013-02-12" / name and sha256(Path(path)) == digest
    assert made[FIELD2] not in {digest for _, digest, _ in catalog.values()}
    assert _tree(ws.cal_dir) == calib_before
    state = _state(ws)
    with pytest.raises(StateError, match="already ingested"):
        ingest(ws, Mode.SCIENCE, NIGHT)
    assert _state(ws) == state and _catalog(ws) == catalog

    # finish closes the date with both modes moved (CALIB not ingested yet: a warning), cleanup both
    work = ws.work_root / "QC_SCIENCE_2013-02-12"  # a cascade's working directory left behind
    work.mkdir(parents=True)
    (work / "scratch.fits").write_bytes(b"x")
    closed = finish(ws, NIGHT)
    assert closed.warnings == ("ingestion of CALIB 2013-02-12 is still open (see JOBS_INGEST)",)
    assert ws.status_log.read()[-1].flag == "finished" and closed.raw_kept == 0
    assert not list(ws.path("DFS_PRODUCT").rglob("*.fits")) and not work.exists()
    ingest(ws, Mode.CALIB, NIGHT)
    cleaned = cleanup(ws, NIGHT)
    assert {NAMES[FIELD1], NAMES[FIELD3]} <= set(cleaned.replaced) and cleaned.kept == ()
    assert sorted(p.name for p in sci.iterdir()) == sorted(n.replace(".fits", ".hdr") for n in moved.masters)


def test_finish_waits_for_science_and_science_for_its_calibrations(night: Workspace, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    ws = night
    decisions = tmp_path / "science.txt"
    decisions.write_text("".join(f"{ab} accept\n" for ab in SCIENCE))
    root = ["--root", str(ws.root)]
    assert main([*root, "certify", "-m", "SCIENCE", "-d", "2013-02-12", "--decisions", str(decisions)]) == 0
    assert "SCIENCE 2013-02-12: certified (sci_Certif)" in capsys.readouterr().out
    state = _state(ws)
    assert main([*root, "move", "-m", "SCIENCE", "-d", "2013-02-12"]) == 3
    assert re.search(r"reads MASTER_IMG_FLAT .* not certified yet: move the calibrations first "
                     r"\('dfos move -m CALIB -d 2013-02-12'\)", capsys.readouterr().err)
    assert _state(ws) == state  # refused before anything moved

    _certify_and_move_calib(ws)
    ingest(ws, Mode.CALIB, NIGHT)
    todo = (ws.job_dir / "JOBS_INGEST").read_text()  # the line that ran is done: not pending, not launched again
    assert '# ingested 2013-02-13T14:00:00: "$DFOS" --root "$DFOS_ROOT" ingest -m CALIB -d 2013-02-12' in todo
    assert pending_commands(todo) == 0
    raw = sorted(p.name for p in (ws.raw_dir / "2013-02-12").iterdir())
    with pytest.raises(StateError, match="SCIENCE 2013-02-12 has ABs but is not moved yet"):
        finish(ws, NIGHT)
    assert sorted(p.name for p in (ws.raw_dir / "2013-02-12").iterdir()) == raw  # nothing deleted

    # the products made before the CALIB move are accepted: the SCIENCE ABs now read the masters
    assert main([*root, "move", "-m", "SCIENCE", "-d", "2013-02-12"]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == list(NAMES.values())
    ingest(ws, Mode.SCIENCE, NIGHT)
    assert finish(ws, NIGHT).warnings == ()
    assert "2013-02-12 finished" in (ws.mon_dir / "HISTORY").read_text()


def test_the_calib_move_updates_waiting_abs_whatever_their_state_but_never_a_moved_batch(night: Workspace) -> None:
    ws = night
    set_process_status(ws, load_ab(ws, FIELD2), ProcessStatus.CREATED)
    set_process_status(ws, load_ab(ws, FIELD3), ProcessStatus.FAILED)
    assert set(_certify_and_move_calib(ws)) == set(SCIENCE)
    assert [load_ab(ws, name).process_status for name in SCIENCE] == \
        [ProcessStatus.SUCCESSFUL, ProcessStatus.CREATED, ProcessStatus.FAILED]
    assert all(not c.virtual for name in SCIENCE for c in load_ab(ws, name).mcalib)
    assert [c.sof_path for c in load_ab(ws, FIELD2).mcalib] == ["$DFO_CAL_DIR/2013-02-12/NA_MFLT_130212A_H.fits"]


def test_a_moved_science_batch_is_never_rewritten(night: Workspace) -> None:
    ws = night
    append_flag(ws, "sci_Updated", NIGHT)  # as if SCIENCE were moved while these ABs stayed behind
    before = {name: (ws.ab_dir / name).read_text() for name in SCIENCE}
    assert _certify_and_move_calib(ws) == ()
    assert {name: (ws.ab_dir / name).read_text() for name in SCIENCE} == before


def test_light_certification_of_science_today(night: Workspace) -> None:
    today = open_workspace(night.root, env={"DFOS_NOW": "2013-02-13T10:00:00"})  # still the DFO date 2013-02-12
    light = certify(today, Mode.SCIENCE, NIGHT, [Decision(FIELD1, "certified", "looks fine so far")], light=True,
                    user="qc")
    assert not light.certified_flag and today.status_log.read()[-1].flag == "sci_QC"
    with engine_for_url(today.db_url).begin() as db:
        notes = db.execute(select(comments.c.text).where(comments.c.subject == FIELD1)).scalars().all()
    assert notes == ["provisional certified: looks fine so far"]


def test_science_reading_a_rejected_flat_is_refused_saying_what_to_do(night: Workspace) -> None:
    """A flat rejected at certification and the CALIB date moved: moving the SCIENCE that read it names the
    rejection and the way on (moving the calibrations again, as the plain refusal says, would not help)."""
    ws = night
    flat = CALIB[1]
    decisions = [Decision(ab, "rejected" if ab == flat else "certified", "striped" if ab == flat else "")
                 for ab in CALIB]
    assert certify(ws, Mode.CALIB, NIGHT, decisions, user="anna").certified_flag
    move(ws, Mode.CALIB, NIGHT)
    certify(ws, Mode.SCIENCE, NIGHT, [Decision(ab, "certified") for ab in SCIENCE], user="anna")
    state = _state(ws)
    with pytest.raises(StateError, match=rf"reads MASTER_IMG_FLAT from {re.escape(flat)}, which was rejected: "
                                         r"reject NACO\.\S+ too, or reset SCIENCE 2013-02-12 \('dfos reset -m "
                                         r"SCIENCE -d 2013-02-12'\) and create and run its ABs again \(rejected by "
                                         r"anna at \S+: striped\)") as err:
        move(ws, Mode.SCIENCE, NIGHT)
    assert "move the calibrations first" not in str(err.value)
    assert _state(ws) == state
