"""dfos phoenix: archived NACO nights taken unsupervised to certified, moved and ingested science products."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from dfos.cli.main import main
from dfos.db import ab_runs, archive_catalog, engine_for_url
from dfos.errors import StateError
from dfos.keys import Mode
from dfos.steps.certify import ACCEPT, CertRow, Decision, certification_rows, certify
from dfos.steps.phoenix import auto_decisions, month_dates, phoenix_date
from dfos.steps.score import threshold_file
from dfos.workspace import Workspace, init_workspace, open_workspace
from naco_night import phoenix_workspace

pytestmark = pytest.mark.esorex

NIGHT, NEXT = date(2013, 2, 12), date(2013, 2, 14)
NOW = {"DFOS_NOW": "2013-03-02T14:00:00"}


def _phoenix(root: Path, *nights: date) -> Workspace:
    return phoenix_workspace(root, *nights, env=NOW)


def _runs(ws: Workspace) -> int:
    with engine_for_url(ws.db_url).begin() as db:
        return len(db.execute(select(ab_runs.c.id)).all())


def test_one_date_from_the_archive_to_ingested_science(tmp_path: Path) -> None:
    ws = _phoenix(tmp_path / "ws", NIGHT)
    result = phoenix_date(ws, NIGHT)
    assert result.finished and not result.waiting
    flags = [line.flag for line in ws.status_log.read() if line.key == "2013-02-12"]
    for flag in ("cal_QC", "cal_Certif", "cal_Updated", "sci_QC", "sci_Certif", "sci_Updated", "finished"):
        assert flag in flags
    assert flags.index("cal_Updated") < flags.index("sci_AB")  # the calibrations first
    science = sorted(p.name for p in (ws.sci_dir / "2013-02-12").glob("*.fits"))
    assert science == ["NA_SCOA_130213T013000_Ks.fits", "NA_SCOA_130213T023000_H.fits",
                       "NA_SCOA_130213T033000_Ks.fits"]
    with engine_for_url(ws.db_url).begin() as db:
        catalog = {r.name: r.mode for r in db.execute(select(archive_catalog.c.name, archive_catalog.c.mode))}
    assert {name for name, mode in catalog.items() if mode == "SCIENCE"} == set(science)
    assert not list((ws.raw_dir / "2013-02-12").glob("*.fits"))  # finished: the raw frames are gone
    line = (ws.job_dir / "JOBS_PHOENIX").read_text().splitlines()[-1]
    assert line.startswith('"$DFOS" phoenix -d 2013-02-12  # ') and line.endswith(" finished")
    runs = _runs(ws)
    again = phoenix_date(ws, NIGHT)  # nothing is done twice
    assert again.finished and _runs(ws) == runs
    assert "2013-02-12: CALIB moved already" in again.messages


def test_a_month_where_red_science_waits_for_a_person(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    ws = _phoenix(tmp_path / "ws", NIGHT, NEXT)
    assert month_dates(ws, "2013-02") == [NIGHT, NEXT] and month_dates(ws, "2013-03") == []
    shipped = Path(__file__).resolve().parents[2] / "src" / "dfos" / "qc" / "thresholds" / "NACO.toml"
    strict = threshold_file(ws)  # a stricter image-quality limit: every science coadd scores red
    strict.parent.mkdir(parents=True, exist_ok=True)
    strict.write_text(shipped.read_text(encoding="utf-8").replace("high = 0.35 ", "high = 0.1 "), encoding="utf-8")
    for name, value in NOW.items():
        monkeypatch.setenv(name, value)
    assert main(["--root", str(ws.root), "phoenix", "-m", "2013-02"]) == 14  # some date waits for a person
    out = capsys.readouterr().out
    assert "2013-02-12: waits for certification: SCIENCE 3 AB(s)" in out and "2013-02-14: waits" in out
    jobs = (ws.job_dir / "JOBS_PHOENIX").read_text()
    assert jobs.count('"$DFOS" phoenix -d 2013-02-1') == 2 and jobs.count("waits for certification") == 2
    flags = [line.flag for line in ws.status_log.read() if line.key == "2013-02-12"]
    assert "cal_Updated" in flags and "sci_QC" in flags and "sci_Certif" not in flags  # CALIB went on
    # a person looks at the red science, accepts it, and phoenix takes the date on from there
    rows = certification_rows(ws, Mode.SCIENCE, NIGHT)
    certify(ws, Mode.SCIENCE, NIGHT, [Decision(row.ab, ACCEPT, "seeing was bad, still usable") for row in rows],
            user="anna")
    runs = _runs(ws)
    again = phoenix_date(ws, NIGHT)
    assert again.finished and _runs(ws) == runs  # nothing processed again
    assert len(list((ws.sci_dir / "2013-02-12").glob("NA_SCOA_*.fits"))) == 3


def test_the_certification_policy() -> None:
    rows = [CertRow("G.ab", "X", "green", "0/3", "", ""), CertRow("U.ab", "X", "grey", "0/0", "", ""),
            CertRow("R.ab", "X", "red", "1/3", "", ""), CertRow("D.ab", "X", "red", "1/3", ACCEPT, "anna")]
    decisions, waiting = auto_decisions(rows)
    assert [d.ab for d in decisions] == ["G.ab", "U.ab"] and waiting == ["R.ab"]  # D is decided already
    decisions, waiting = auto_decisions(rows, "green")
    assert [d.ab for d in decisions] == ["G.ab"] and waiting == ["U.ab", "R.ab"]


def test_phoenix_needs_a_phoenix_workspace_and_one_of_date_or_month(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    init_workspace(tmp_path / "ops", env={}, instrument="NACO")
    ops = open_workspace(tmp_path / "ops", env=NOW)
    with pytest.raises(StateError, match="dfos init DIR --flavour phoenix --instrument NACO"):
        phoenix_date(ops, NIGHT)
    root = ["--root", str(tmp_path / "ops")]
    assert main([*root, "phoenix"]) == 2
    assert main([*root, "phoenix", "-m", "2013-13"]) == 2
    err = capsys.readouterr().err
    assert "give one of -d DATE, -m YYYY-MM or -r RUN_ID" in err and "month '2013-13' is not YYYY-MM" in err
