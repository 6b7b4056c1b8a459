"""``dfos oca check|classify|organise`` in-process."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import pytest

from dfos.cli.main import main
from dfos.steps.headers import extract_headers
from dfos.workspace import Workspace

UVES_OCA = glob.glob("/usr/share/cpl-plugins/uves-*/gasgano/config/uves.oca")[0]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_good_and_bad_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "oca", "check", *glob.glob("/usr/share/cpl-plugins/*/gasgano/config/*.oca"))
    assert code == 0 and out.count(": ok: ") == 8
    bad = tmp_path / "bad.oca"
    bad.write_text('if DPR.CATG == "CALIB" then {\n  DO.CATG = "X"\n')
    code, out, err = run(capsys, "oca", "check", UVES_OCA, str(bad))
    assert code == 2
    assert err.strip().splitlines() == [f"Error: {bad}:3:1: expected ';', found end of file"]
    code, _, err = run(capsys, "oca", "check", str(tmp_path / "missing.oca"))
    assert code == 2 and "cannot read" in err


def test_check_refuses_rule_files_that_are_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.oca"
    latin1.write_bytes('// r\u00e8gle\nif X == 1 then { Y = "\u00e9"; }\n'.encode("latin-1"))
    code, out, err = run(capsys, "oca", "check", str(latin1), UVES_OCA)
    assert code == 2 and out.count(": ok: ") == 1
    assert err.splitlines() == [f"Error: {latin1}:1: byte 0xe8 at offset 4 is not UTF-8 text; "
                                "save the rule file as UTF-8"]
    code, _, err = run(capsys, "oca", "classify", "--rules", str(latin1), UVES_OCA)
    *warnings, error = err.splitlines()
    assert code == 2 and error.startswith(f"Error: {latin1}:1: byte 0xe8")
    assert all(line.startswith("Warning: ") for line in warnings)


@pytest.fixture
def headers(uves_night: Workspace) -> list[str]:
    from datetime import date

    intake = extract_headers(uves_night, date(2013, 2, 12))
    return sorted(str(p) for p in intake.header_dir.glob("*.hdr"))


def test_classify_json(capsys: pytest.CaptureFixture[str], headers: list[str]) -> None:
    code, out, _ = run(capsys, "oca", "classify", "--rules", UVES_OCA, "--json", *headers)
    doc = json.loads(out)
    assert code == 0 and len(doc) == 23
    assert doc[headers[0]] == {"DO.CATG": "BIAS_BLUE"}


def test_organise_json_and_bad_header(capsys: pytest.CaptureFixture[str], headers: list[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.hdr"
    broken.write_bytes(b"\x00\x01 not a header at all")
    code, out, err = run(capsys, "oca", "organise", "--rules", UVES_OCA, "--json", str(broken), *headers)
    doc = json.loads(out)
    assert code == 0
    assert "broken.hdr: skipped" in err
    flats = next(g for g in doc["groups"] if g["action"] == "UVES_MASTER_FLAT_B")
    assert len(flats["files"]) == 5 and flats["keys"] == {"TPL.START": "2013-02-12T21:52:00"}
    assert doc["orphans"] == []
