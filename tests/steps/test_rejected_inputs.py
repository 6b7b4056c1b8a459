"""Science made with a calibration rejected later: real AB files of a NACO header night (the SCIENCE AB
naco_img_jitter reads the flat of a CALIB AB of the same night) and real certification rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import insert

from dfos.ab.format import parse, render
from dfos.ab.model import CalibInput
from dfos.db import certifications, engine_for_url
from dfos.keys import Mode
from dfos.steps.create_ab import create_abs
from dfos.steps.demo_data import write_demo_headers
from dfos.steps.rejected_inputs import rejected_inputs, rows_with_rejected_inputs, standing_rejections
from dfos.workspace import Workspace, init_workspace

NIGHT = date(2013, 2, 12)
SCIENCE = "NACO.2013-02-13T00:06:00.345_tpl.ab"  # naco_img_jitter, MASTER_IMG_FLAT by= the twilight flat
FLAT = "NACO.2013-02-12T22:36:00.234_tpl.ab"  # naco_img_twflat
DARK = "NACO.2013-02-12T17:00:00.012_tpl.ab"  # naco_img_dark


@pytest.fixture(scope="module")
def naco(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws, _ = init_workspace(tmp_path_factory.mktemp("naco") / "ws", env={}, instrument="NACO")
    write_demo_headers(ws, NIGHT)
    create_abs(ws, NIGHT, Mode.CALIB)
    create_abs(ws, NIGHT, Mode.SCIENCE)
    return ws


@pytest.fixture
def ws(naco: Workspace, tmp_path: Path) -> Workspace:
    """A copy of the night's workspace for one test (its database and AB files change)."""
    import shutil

    from dfos.workspace import open_workspace

    shutil.copytree(naco.root, tmp_path / "ws", symlinks=True)
    return open_workspace(tmp_path / "ws", env={})


def decide(ws: Workspace, ab: str, decision: str, by: str = "qc-scientist", comment: str = "") -> None:
    with engine_for_url(ws.db_url).begin() as db:
        db.execute(insert(certifications).values(ab=ab, decision=decision, by=by, at="2013-02-13T10:00:00",
                                                 comment=comment))


def test_the_science_ab_reads_the_flat_of_a_calib_ab(ws: Workspace) -> None:
    ab = parse((ws.ab_dir / SCIENCE).read_text())
    assert [(c.tag, c.producer) for c in ab.mcalib] == [("MASTER_IMG_FLAT", FLAT)]
    assert rejected_inputs(ws, Mode.SCIENCE, NIGHT) == {}  # nothing rejected: nothing flagged


def test_science_made_with_a_rejected_flat_is_flagged_while_the_rejection_stands(ws: Workspace) -> None:
    decide(ws, FLAT, "certified", by="auto")
    decide(ws, SCIENCE, "certified")
    assert rejected_inputs(ws, Mode.SCIENCE, NIGHT) == {}
    decide(ws, FLAT, "rejected", comment="ghost in the flat")
    found = rejected_inputs(ws, Mode.SCIENCE, NIGHT)
    assert list(found) == [SCIENCE]
    (item,) = found[SCIENCE]
    assert (item.tag, item.producer, item.rejection.ab, item.rejection.comment) == \
        ("MASTER_IMG_FLAT", FLAT, FLAT, "ghost in the flat")
    assert item.file.endswith("r.NACO.2013-02-12T22:36:00.234_tpl_0000.fits")
    assert standing_rejections(ws)[FLAT].by == "qc-scientist"
    assert rejected_inputs(ws, "CALIB", NIGHT) == {}  # no CALIB AB read the flat
    decide(ws, FLAT, "certified", comment="the ghost was a satellite")  # the newest decision stands
    assert rejected_inputs(ws, Mode.SCIENCE, NIGHT) == {}


def test_a_rejected_dark_upstream_of_the_flat_flags_the_science_and_the_flat(ws: Workspace) -> None:
    flat = parse((ws.ab_dir / FLAT).read_text())
    dark = CalibInput(f"$DFO_CAL_DIR/VCAL/2013-02-12/r.{DARK.removesuffix('.ab')}_0000.hdr", "CAL_DARK",
                      f"$DFS_PRODUCT/CAL_DARK/2013-02-12/r.{DARK.removesuffix('.ab')}_0000.fits", virtual=True,
                      producer=DARK)
    (ws.ab_dir / FLAT).write_text(render(replace(flat, mcalib=(*flat.mcalib, dark), sof_content=None)))
    decide(ws, DARK, "rejected", comment="hot column")
    science = rejected_inputs(ws, Mode.SCIENCE, NIGHT)[SCIENCE][0]
    assert (science.producer, science.via, science.rejection.ab) == (FLAT, (), DARK)
    assert f"made with a product of {DARK}" in science.reason() and "hot column" in science.reason()
    assert list(rejected_inputs(ws, Mode.CALIB, NIGHT)) == [FLAT]
    # moved: the AB files are in $DFO_LOG_DIR/<DATE>, still found
    log_dir = ws.path("DFO_LOG_DIR") / NIGHT.isoformat()
    log_dir.mkdir(parents=True, exist_ok=True)
    for name in (SCIENCE, FLAT):
        (ws.ab_dir / name).rename(log_dir / name)
    assert rejected_inputs(ws, Mode.SCIENCE, NIGHT, names=[SCIENCE])[SCIENCE][0].rejection.ab == DARK


def test_qc1_rows_get_their_rejected_inputs(ws: Workspace) -> None:
    decide(ws, FLAT, "rejected")
    rows = rows_with_rejected_inputs(ws, [{"ab": SCIENCE, "batch_id": "SCIENCE_2013-02-12", "name": "QC FWHM PIX"},
                                          {"ab": FLAT, "batch_id": "CALIB_2013-02-12", "name": "QC X"},
                                          {"ab": SCIENCE, "batch_id": "not a batch", "name": "QC IQ"}])
    assert [len(r["rejected_inputs"]) for r in rows] == [1, 0, 1]  # type: ignore[arg-type]
    first = rows[0]["rejected_inputs"][0]  # type: ignore[index]
    assert first["rejected"] == FLAT and first["tag"] == "MASTER_IMG_FLAT" and rows[0]["name"] == "QC FWHM PIX"


def test_dfos_qc1_shows_the_rejected_input_in_text_and_json(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from dfos.cli.main import main
    from dfos.db import qc1_params

    common = {"date": "2013-02-12", "instrument": "NACO", "setup": "Ks", "unit": "pix", "description": "",
              "source": "header", "updated": "2013-02-13T09:00:00", "text": None}
    with engine_for_url(ws.db_url).begin() as db:
        db.execute(insert(qc1_params), [
            {**common, "ab": SCIENCE, "batch_id": "SCIENCE_2013-02-12", "raw_type": "IM_JITTER_OBJ",
             "pro_catg": "COADDED_IMG", "product": "r.sci_0000.fits", "mjd_obs": 56336.004, "name": "QC FWHM PIX",
             "value": 4.16},
            {**common, "ab": FLAT, "batch_id": "CALIB_2013-02-12", "raw_type": "CAL_FLAT_TW",
             "pro_catg": "MASTER_IMG_FLAT", "product": "r.flat_0000.fits", "mjd_obs": 56335.94, "name": "QC FLAT",
             "value": 1.0}])
    decide(ws, FLAT, "rejected", comment="ghost")
    assert main(["--root", str(ws.root), "qc1", "-d", "2013-02-12"]) == 0
    lines = {line.split()[1]: line for line in capsys.readouterr().out.splitlines()}
    assert f"REJECTED INPUT: MASTER_IMG_FLAT from {FLAT}; {FLAT} was rejected" in lines[SCIENCE]
    assert "ghost" in lines[SCIENCE] and "REJECTED" not in lines[FLAT]
    assert main(["--root", str(ws.root), "qc1", "--param", "QC FWHM PIX", "--since", "2013-02-01", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["batch_id"] == "SCIENCE_2013-02-12" and row["value"] == 4.16
    assert [(i["tag"], i["rejected"], i["comment"]) for i in row["rejected_inputs"]] == \
        [("MASTER_IMG_FLAT", FLAT, "ghost")]
