"""Closing a date with real products: certify, move, ingest, finish, remove, cleanup; then the next
night associates the new masters from MCAL (no VCAL, no WAITFOR) and processes with them."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from dfos.db import archive_catalog, engine_for_url
from dfos.errors import DfosError, StateError
from dfos.steps.certify import Decision, certify, parse_decisions
from dfos.steps.create_ab import create_abs
from dfos.steps.demo_data import generate_night
from dfos.steps.finish import cleanup, finish, remove
from dfos.steps.headers import extract_headers
from dfos.steps.ingest import ingest
from dfos.steps.move import move
from dfos.steps.process_ab import load_ab, process_ab
from dfos.steps.safe_move import sha256
from dfos.workspace import Workspace, open_workspace
from nights import BIAS, DARK, FLAT, ORDERPOS, process_night

pytestmark = pytest.mark.esorex

NIGHT, NEXT = date(2013, 2, 12), date(2013, 2, 13)
MASTERS = ["UV_BKGF_130212A_BLUE.fits", "UV_MBIA_130212A_BLUE.fits", "UV_MBIA_130212A_REDL.fits",
           "UV_MBIA_130212A_REDU.fits", "UV_MDAR_130212A_BLUE.fits", "UV_MFLA_130212A_BLUE.fits",
           "UV_ORDT_130212A_BLUE.fits"]


@pytest.fixture
def processed(uves_night: Workspace) -> Workspace:
    return process_night(uves_night)


def _checksums(ws: Workspace, names: list[str]) -> dict[str, str]:
    return {name: sha256(ws.cal_dir / "2013-02-12" / name) for name in names}


def test_a_date_from_processed_to_cleaned_and_the_next_night_uses_its_masters(processed: Workspace) -> None:
    ws = processed
    with pytest.raises(DfosError, match="not certified yet"):
        move(ws, "CALIB", NIGHT)  # out of order
    first = certify(ws, "CALIB", NIGHT, accept_green=True, user="qc")
    assert set(first.undecided) == {ORDERPOS, FLAT} and not first.certified_flag  # grey: a person decides
    done = certify(ws, "CALIB", NIGHT, parse_decisions(f"{ORDERPOS} accept orders fine\n{FLAT} accept\n"), user="qc")
    assert done.undecided == () and done.certified_flag
    products = {p.name: sha256(p) for p in ws.path("DFS_PRODUCT").rglob("*.fits")}

    result = move(ws, "CALIB", NIGHT)
    assert sorted(result.masters) == MASTERS
    cal = ws.cal_dir / "2013-02-12"
    assert sorted(p.name for p in cal.glob("*.fits")) == MASTERS
    assert sorted(sha256(p) for p in cal.glob("*.fits")) == sorted(products.values())  # the same bytes, renamed
    assert not list(ws.path("DFS_PRODUCT").rglob("*.fits"))
    assert sorted(p.name for p in (ws.mcal_dir / "2013-02-12").glob("*.hdr")) == \
        sorted(m.replace(".fits", ".hdr") for m in MASTERS)
    assert not list((ws.vcal_dir / "2013-02-12").glob("r.UVES.2013-02-12T18:05*"))  # replaced in the memory
    logs = ws.path("DFO_LOG_DIR") / "2013-02-12"
    moved_dark = (logs / DARK).read_text()
    assert "MCALIB VIRTUAL" not in moved_dark and "$DFO_CAL_DIR/2013-02-12/UV_MBIA_130212A_BLUE.fits" in moved_dark
    assert (logs / f"{DARK.removesuffix('.ab')}.sof").is_file() and not (ws.ab_dir / DARK).exists()
    assert "ingest -m CALIB -d 2013-02-12" in (ws.job_dir / "JOBS_INGEST").read_text()
    assert move(ws, "CALIB", NIGHT).already_done  # twice: nothing changes
    before = _checksums(ws, MASTERS)

    listed = ingest(ws, "CALIB", NIGHT)
    assert sorted(listed.ingested) == MASTERS
    with engine_for_url(ws.db_url).begin() as db:
        catalog = {r.name: r.sha256 for r in db.execute(select(archive_catalog))}
    assert catalog == before
    with pytest.raises(DfosError, match="already ingested"):
        ingest(ws, "CALIB", NIGHT)
    with pytest.raises(DfosError, match="not finished"):
        cleanup(ws, NIGHT)

    finished = finish(ws, NIGHT)
    assert finished.raw_deleted == 19 and finished.raw_kept == 0 and finished.warnings == ()
    assert "2013-02-12 finished" in (ws.mon_dir / "HISTORY").read_text()
    remove(ws, NIGHT)
    assert ws.status_log.read()[-1].flag == "removed"
    cleaned = cleanup(ws, NIGHT)
    assert sorted(cleaned.replaced) == MASTERS and cleaned.kept == ()
    assert sorted(p.name for p in cal.iterdir()) == sorted(m.replace(".fits", ".hdr") for m in MASTERS)
    archived = Path(ws.archive_dir / "calib" / "2013-02-12" / "UV_MBIA_130212A_BLUE.fits")
    assert sha256(archived) == before["UV_MBIA_130212A_BLUE.fits"]

    # the next night has darks and flats but no bias: its dark takes the certified master from MCAL
    generate_night(ws, NEXT, small=True, seed=9, only={"DARK_BLUE", "ORDER_FLAT_BLUE", "FLAT_BLUE"})
    later = open_workspace(ws.root, env={"DFOS_NOW": "2013-02-14T14:00:00"})
    extract_headers(later, NEXT)
    create_abs(later, NEXT, "CALIB")
    dark = load_ab(later, "UVES.2013-02-13T18:40:00.500_tpl.ab")
    (bias,) = [c for c in dark.mcalib if c.tag == "MASTER_BIAS_BLUE"]
    assert not bias.virtual and bias.ref == "$DFO_CAL_DIR/MCAL/2013-02-12/UV_MBIA_130212A_BLUE.hdr"
    assert dark.waitfor == ()
    run = process_ab(later, dark.name)  # the master is fetched back from the archive
    assert run.ok, run.message
    assert sha256(cal / "UV_MBIA_130212A_BLUE.fits") == before["UV_MBIA_130212A_BLUE.fits"]


def test_a_rejected_ab_never_enters_the_memory(processed: Workspace) -> None:
    ws = processed
    result = certify(ws, "CALIB", NIGHT, [Decision(BIAS, "rejected", "stripes"), Decision(ORDERPOS, "certified"),
                                         Decision(FLAT, "certified")], accept_green=True, user="qc")
    assert set(result.flagged) == {DARK, FLAT}  # they used the rejected master bias
    assert "was rejected" in (ws.mon_dir / "reassociate_CALIB_2013-02-12").read_text()
    assert not list((ws.vcal_dir / "2013-02-12").glob("r.UVES.2013-02-12T18:05*"))
    moved = move(ws, "CALIB", NIGHT)
    assert moved.rejected == (BIAS,)
    assert "UV_MBIA_130212A_BLUE.fits" not in moved.masters
    rejected = ws.path("DFO_LOG_DIR") / "2013-02-12" / "rejected"
    assert (rejected / "r.UVES.2013-02-12T18:05:00.500_tpl_0000.fits").is_file()
    ingest(ws, "CALIB", NIGHT)
    assert not (ws.archive_dir / "calib" / "2013-02-12" / "UV_MBIA_130212A_BLUE.fits").exists()


def test_light_certification_finish_before_ingest_and_cleanup_of_what_is_not_archived(uves_night: Workspace) -> None:
    from sqlalchemy import select as sql_select

    from dfos.db import comments

    ws = process_night(uves_night, env={"DFOS_NOW": "2013-02-12T23:30:00"})  # the night is TODAY
    light = certify(ws, "CALIB", NIGHT, [Decision(BIAS, "certified", "looks fine so far")], light=True, user="qc")
    assert not light.certified_flag and ws.status_log.read()[-1].flag == "cal_QC"
    with engine_for_url(ws.db_url).begin() as db:
        notes = db.execute(sql_select(comments.c.text).where(comments.c.subject == BIAS)).scalars().all()
    assert notes == ["provisional certified: looks fine so far"]
    later = open_workspace(ws.root, env={"DFOS_NOW": "2013-02-13T14:00:00"})
    with pytest.raises(DfosError, match="TODAY"):
        certify(later, "CALIB", NIGHT, light=True)
    certify(later, "CALIB", NIGHT, parse_decisions(f"{ORDERPOS} accept\n{FLAT} accept\n"), accept_green=True)
    move(later, "CALIB", NIGHT)
    result = finish(later, NIGHT)
    assert result.warnings == ("ingestion of CALIB 2013-02-12 is still open (see JOBS_INGEST)",)
    kept = cleanup(later, NIGHT)
    assert kept.replaced == () and sorted(kept.kept) == MASTERS  # nothing archived: every FITS stays
    assert sorted(p.name for p in (later.cal_dir / "2013-02-12").glob("*.fits")) == MASTERS


def test_each_step_checks_its_evidence_on_a_real_night(processed: Workspace) -> None:
    """Issue 14, problem 3: a removed AB list, a list replaced by a directory, a master gone after move."""
    ws = processed
    ab_list = ws.mon_dir / "AB_list_CALIB_2013-02-12"
    saved = ab_list.read_bytes()
    ab_list.unlink()
    with pytest.raises(StateError, match=r"AB_list_CALIB_2013-02-12 .* is missing"):
        certify(ws, "CALIB", NIGHT, accept_green=True)
    ab_list.mkdir()
    with pytest.raises(StateError, match="is a directory"):
        certify(ws, "CALIB", NIGHT, accept_green=True)
    ab_list.rmdir()
    ab_list.write_bytes(saved)
    done = certify(ws, "CALIB", NIGHT, parse_decisions(f"{ORDERPOS} accept\n{FLAT} accept\n"), accept_green=True)
    assert done.certified_flag
    product = ws.expand(load_ab(ws, DARK).prod_path) / f"{load_ab(ws, DARK).prod_root}_0000.fits"
    hidden = product.with_name("hidden")
    product.rename(hidden)
    with pytest.raises(StateError, match=re.escape(f"{product} is missing")):
        move(ws, "CALIB", NIGHT)  # nothing moved
    assert not (ws.cal_dir / "2013-02-12").exists() and "cal_Updated" not in ws.status_log.path.read_text()
    hidden.rename(product)
    move(ws, "CALIB", NIGHT)
    master = ws.cal_dir / "2013-02-12" / "UV_MDAR_130212A_BLUE.fits"
    master.rename(master.with_name("elsewhere"))
    with pytest.raises(StateError, match=re.escape("UV_MDAR_130212A_BLUE.fits is missing")):
        finish(ws, NIGHT)
    assert "finished" not in ws.status_log.path.read_text() and list((ws.raw_dir / "2013-02-12").glob("*.fits"))
    master.with_name("elsewhere").rename(master)
    assert finish(ws, NIGHT).raw_deleted == 19
