"""processQC on the synthetic UVES night with real esorex, on SQLite and on PostgreSQL: QC1 values
exactly as in the product headers, QC procedures tracking the injected signal, scoring, re-scoring
after a threshold change, automatic certification."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from astropy.io import fits
from sqlalchemy import func, select

from dfos.db import ab_qc, certifications, engine_for_url, qc1_params
from dfos.steps.cascade import exec_cascade
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.headers import extract_headers
from dfos.steps.process_ab import load_ab
from dfos.steps.process_qc import process_qc, qc_log
from dfos.steps.score import score_date, threshold_file
from dfos.steps.trend import qc1_by_date
from dfos.workspace import Workspace, open_workspace
from nights import BIAS, DAG, DARK, FLAT, NIGHT, ORDERPOS, RED_BIAS

pytestmark = pytest.mark.esorex

RUN = [BIAS, RED_BIAS, DARK, ORDERPOS, FLAT]


@pytest.fixture
def processed(uves_night: Workspace, db_url: str) -> Workspace:
    """The night processed by the cascade, with QC inside each AB (QCBQS_TYPE IMPLICIT, the default)."""
    env = {"DFOS_NOW": "2013-02-13T14:00:00", **({"DFOS_DB_URL": db_url} if db_url else {})}
    ws = open_workspace(uves_night.root, env=env)
    extract_headers(ws, NIGHT)
    create_abs(ws, NIGHT, "CALIB")
    create_job(ws, NIGHT, "CALIB")
    assert exec_cascade(ws, DAG, ws.job_dir / f"execAB_{DAG}", slots=2).ok
    return ws


def _values(ws: Workspace, ab: str, name: str) -> dict[str, float]:
    """PRO.CATG -> value of one parameter of an AB."""
    with engine_for_url(ws.db_url).begin() as db:
        rows = db.execute(select(qc1_params.c.pro_catg, qc1_params.c.value)
                          .where(qc1_params.c.ab == ab, qc1_params.c.name == name))
        return {r.pro_catg: float(r.value) for r in rows}


def test_every_header_qc_keyword_is_stored_exactly(processed: Workspace) -> None:
    rows = qc1_by_date(processed, NIGHT)
    stored = {(str(r["product"]), str(r["name"])): r for r in rows if r["source"] == "header"}
    expected = 0
    for name in RUN:
        ab = load_ab(processed, name)
        for path in sorted(processed.expand(ab.prod_path).glob(f"{ab.prod_root}_*.fits")):
            header = fits.getheader(path)  # read independently of dfos
            for key in header:
                if not key.startswith("ESO QC "):
                    continue
                expected += 1
                row = stored[(path.name, key.removeprefix("ESO "))]
                value = header[key]
                if isinstance(value, bool):
                    assert row["text"] == ("T" if value else "F")
                elif isinstance(value, int | float):
                    assert row["value"] == float(value), (path.name, key)
                else:
                    assert row["text"] == value and row["value"] is None
                assert row["pro_catg"] == header["HIERARCH ESO PRO CATG"]
    assert expected == len(stored) and expected > 100  # the dark alone has 106


def test_qc_procedures_track_the_injected_signal(processed: Workspace) -> None:
    # the small UVES night: blue chip bias 180 ADU, RON 3.9 e-; red lower 160 / 4.2; red upper 190 / 3.5;
    # dark current 0.002 e-/s = 7.2 e-/px/h
    level = _values(processed, BIAS, "QC BIAS LEVEL") | _values(processed, RED_BIAS, "QC BIAS LEVEL")
    assert level == pytest.approx({"MASTER_BIAS_BLUE": 180.0, "MASTER_BIAS_REDL": 160.0,
                                   "MASTER_BIAS_REDU": 190.0}, abs=0.5)
    ron = _values(processed, BIAS, "QC RON RAW E") | _values(processed, RED_BIAS, "QC RON RAW E")
    assert ron == pytest.approx({"MASTER_BIAS_BLUE": 3.9, "MASTER_BIAS_REDL": 4.2, "MASTER_BIAS_REDU": 3.5},
                                rel=0.08)
    assert _values(processed, DARK, "QC DARK CURRENT E") == pytest.approx({"MASTER_DARK_BLUE": 7.2}, rel=0.1)
    with engine_for_url(processed.db_url).begin() as db:
        plots = db.execute(select(ab_qc.c.plots).where(ab_qc.c.ab == BIAS)).scalar()
    png = processed.path("DFO_PLT_DIR") / "2013-02-12" / f"{load_ab(processed, BIAS).prod_root}_0000.png"
    assert str(png) in str(plots).splitlines() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_threshold_change_rescored_changes_scores_and_certification(processed: Workspace) -> None:
    summary = score_date(processed, NIGHT)
    assert summary.verdicts == {BIAS: "green", RED_BIAS: "green", DARK: "green", ORDERPOS: "grey", FLAT: "grey"}
    threshold_file(processed).write_text(
        '[[threshold]]\nparam = "QC BIAS LEVEL"\npro_catg = "MASTER_BIAS_BLUE"\nlow = 185.0\nhigh = 195.0\n\n'
        '[[threshold]]\nparam = "QC DARK CURRENT E"\nhigh = 20.0\n')
    rescored = score_date(processed, NIGHT)
    assert rescored.verdicts == {BIAS: "red", RED_BIAS: "grey", DARK: "green", ORDERPOS: "grey", FLAT: "grey"}
    assert rescored.summaries[BIAS] == "1/1" and set(rescored.withdrawn) == {BIAS, RED_BIAS}
    with engine_for_url(processed.db_url).begin() as db:
        scored = {r.name: (r.score, r.low, r.high) for r in db.execute(
            select(qc1_params.c.name, qc1_params.c.score, qc1_params.c.low, qc1_params.c.high)
            .where(qc1_params.c.ab == BIAS))}
        latest = db.execute(select(certifications.c.decision).where(certifications.c.ab == BIAS)
                            .order_by(certifications.c.id.desc()).limit(1)).scalar()
    assert scored["QC BIAS LEVEL"] == (1, 185.0, 195.0)
    assert scored["QC RON RAW E"] == (None, None, None)  # no threshold any more: grey
    assert latest == "pending"  # the automatic certification is withdrawn
    threshold_file(processed).unlink()  # back to the shipped thresholds
    again = score_date(processed, NIGHT)
    assert again.verdicts[BIAS] == "green" and BIAS in again.certified


def test_process_qc_runs_again_idempotently(processed: Workspace) -> None:
    def count() -> int:
        with engine_for_url(processed.db_url).begin() as db:
            return int(db.execute(select(func.count()).select_from(qc1_params)
                                  .where(qc1_params.c.ab == DARK)).scalar() or 0)

    before = count()
    result = process_qc(processed, DARK)
    assert count() == before == result.n_params
    log = qc_log(processed, DARK).read_text().splitlines()
    assert log[1].startswith("product r.UVES.2013-02-12T18:40:00.500_tpl_0000.fits  MASTER_DARK_BLUE")
    assert "106 header, 2 procedure:uves_dark" in log[1] and log[-1] == "score 0/1 (red/scored): green"


def test_giraffe_bias_and_dark_with_their_paf_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dfos.cli.main import main
    from dfos.steps.demo_data import generate_night
    from dfos.workspace import init_workspace

    ws, _ = init_workspace(tmp_path / "giraffe", env={}, instrument="GIRAFFE")
    generate_night(ws, NIGHT, small=True, seed=3)
    ws = open_workspace(ws.root, env={"DFOS_NOW": "2013-02-13T14:00:00"})
    extract_headers(ws, NIGHT)
    create_abs(ws, NIGHT, "CALIB")
    create_job(ws, NIGHT, "CALIB")
    assert exec_cascade(ws, DAG, ws.job_dir / f"execAB_{DAG}", slots=2).ok
    assert main(["--root", str(ws.root), "qc1", "-d", "2013-02-12", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    found = {(r["pro_catg"], r["name"]): r for r in rows}
    # injected: bias 250 ADU, read noise 4.5 e-, dark current 0.002 e-/s = 7.2 e-/px/h
    assert found[("MASTER_BIAS", "QC BIAS LEVEL")]["value"] == pytest.approx(250.0, abs=0.5)
    assert found[("MASTER_BIAS", "QC RON RAW E")]["value"] == pytest.approx(4.5, rel=0.08)
    assert found[("MASTER_DARK", "QC DARK CURRENT E")]["value"] == pytest.approx(7.2, rel=0.1)
    # the recipe's qc0000.paf was kept beside the products and read: QC DID is only there
    assert found[("MASTER_DARK", "QC DID")]["source"] == "paf"
    assert found[("MASTER_DARK", "QC DARK CURRENT")]["unit"] == "ADU/hr"  # from the GIRAFFE QC dictionary
    assert main(["--root", str(ws.root), "score", "-d", "2013-02-12"]) == 0
    out = capsys.readouterr().out
    assert out.count("green") == 2 and "certified automatically" not in out  # certified already, by processQC
