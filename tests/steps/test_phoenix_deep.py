"""phoenix DEEP mode: a run's targets, each combined across the run's nights into one deep product."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from astropy.io import fits

from dfos.ab.store import read_ab
from dfos.cli.main import main
from dfos.steps.phoenix import phoenix_date
from naco_night import phoenix_workspace

pytestmark = pytest.mark.esorex

NIGHTS = (date(2013, 2, 12), date(2013, 2, 14))
RUN = "090.C-0456(A)"
KS_TARGET = "NACO.2013-02-13T01:30:00.512_deep.ab"


def test_a_run_from_create_to_ingested_deep_products(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    ws = phoenix_workspace(tmp_path / "ws", *NIGHTS, env={"DFOS_NOW": "2013-03-02T14:00:00"})
    for night in NIGHTS:  # the nights first (IDP mode): their certified masters serve the run
        assert phoenix_date(ws, night).finished
    monkeypatch.setenv("DFOS_NOW", "2013-03-02T14:00:00")
    root = ["--root", str(ws.root), "phoenix", "-r", RUN]
    assert main([*root, "-C"]) == 0
    names = [line.split()[-1] for line in capsys.readouterr().out.splitlines() if line.startswith("deep AB ")]
    assert len(names) == 3 and KS_TARGET in names  # one per target
    for name in names:
        ab = read_ab(ws.ab_dir, name)
        nights = {Path(raw.ref).name[5:15] for raw in ab.rawfiles}
        assert len(ab.rawfiles) == 10 and nights == {"2013-02-13", "2013-02-15"}  # both nights' sequences
        assert [c.sof_path.startswith("$DFO_CAL_DIR/2013-02-1") and not c.virtual for c in ab.mcalib] == [True]

    assert main([*root, "-P", "-a", KS_TARGET]) == 0  # TARGET_SELECT: one target
    made = {name: ws.expand(read_ab(ws.ab_dir, name).prod_path) / f"r.{name.removesuffix('.ab')}_0000.fits"
            for name in names}
    assert [name for name, path in made.items() if path.is_file()] == [KS_TARGET]
    assert main([*root, "-P"]) == 0
    assert all(path.is_file() for path in made.values())

    assert main([*root, "-M"]) == 0
    deep = sorted((ws.sci_dir / "090.C-0456A").glob("*.fits"))
    assert [p.name for p in deep] == ["NA_SCOA_130213T013000_Ks-DEEP.fits", "NA_SCOA_130213T023000_H-DEEP.fits",
                                      "NA_SCOA_130213T033000_Ks-DEEP.fits"]
    header = fits.getheader(deep[0])
    raws = [Path(raw.ref).name for raw in read_ab(ws.path("DFO_LOG_DIR") / "090.C-0456A", KS_TARGET).rawfiles]
    assert header["NCOMBINE"] == 10 and [header[f"PROV{i}"] for i in range(1, 11)] == raws
    jobs = (ws.job_dir / "JOBS_PHOENIX").read_text()
    for step in ("-C", f"-P -a {KS_TARGET}", "-P", "-M"):
        assert f'"$DFOS" phoenix -r 090.C-0456A {step}  # ' in jobs
    assert main([*root, "-M"]) == 0  # again: nothing moves twice, the ingest line is not repeated
    ingest = (ws.job_dir / "JOBS_INGEST").read_text()
    assert sum("090.C-0456A" in line for line in ingest.splitlines()) == 1


def test_deep_mode_needs_one_step_and_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = phoenix_workspace(tmp_path / "ws")
    root = ["--root", str(ws.root), "phoenix"]
    assert main([*root, "-r", RUN]) == 2
    assert main([*root, "-r", RUN, "-C", "-P"]) == 2
    assert main([*root, "-d", "2013-02-12", "-C"]) == 2
    assert main([*root, "-r", RUN, "-C"]) == 3  # no headers of the run's nights yet
    err = capsys.readouterr().err
    assert "takes one of -C (create), -P (process) or -M" in err and "go with -r RUN_ID" in err
    assert "no science frame of run 090.C-0456A" in err
