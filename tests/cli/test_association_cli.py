"""``dfos create-ab`` and ``dfos explain`` in-process."""

from __future__ import annotations

from datetime import date

import pytest

from dfos.cli.main import main
from dfos.steps.headers import extract_headers
from dfos.workspace import Workspace


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_create_ab_then_explain(capsys: pytest.CaptureFixture[str], uves_night: Workspace,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    extract_headers(uves_night, date(2013, 2, 12))
    monkeypatch.setenv("DFOS_ROOT", str(uves_night.root))
    code, out, _ = run(capsys, "create-ab", "-m", "CALIB", "-d", "2013-02-12")
    assert code == 0
    summary = "CALIB 2013-02-12: 7 ABs (2 INCOMPLETE); 7 written, 0 unchanged, 0 DONE kept, 0 removed"
    assert out.splitlines()[0] == summary
    dark = "COMPLETE   UVES.2013-02-12T18:40:00.500_tpl.ab  uves_cal_mdark  <- UVES.2013-02-12T18:05:00.500_tpl.ab"
    assert dark in out
    code, out, _ = run(capsys, "explain", "UVES.2013-02-12T22:02:00.500_frm.ab")
    assert code == 0
    assert "INCOMPLETE: LINE_REFER_TABLE: 0 of 1 required found" in out
    assert "no candidate of this kind in the calibration memory" in out
    code, _, err = run(capsys, "explain", "NOPE.ab")
    assert code == 2 and err.startswith("Error: no association log for NOPE.ab")
    code, _, err = run(capsys, "create-ab", "-m", "NIGHT", "-d", "2013-02-12")
    assert code == 2 and "NIGHT" in err


def test_bad_rule_file_in_the_configuration(capsys: pytest.CaptureFixture[str], uves_night: Workspace,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    extract_headers(uves_night, date(2013, 2, 12))
    bad = uves_night.root / "config" / "broken.oca"
    bad.write_text("action X {\n  recipe\n}\n")
    monkeypatch.setenv("DFOS_ROOT", str(uves_night.root))
    monkeypatch.setenv("DFOS_OCA_RULES", "config/broken.oca")
    code, _, err = run(capsys, "create-ab", "-d", "2013-02-12")
    assert code == 2
    assert err.strip() == "Error: config/broken.oca:3:1: expected a recipe name, found '}'"  # named as configured
