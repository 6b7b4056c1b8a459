"""The command line in-process: one-line errors, exit codes, status JSON, flags, DFOS_NOW."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfos.cli.main import main
from dfos.workspace import Workspace


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in err
    return lines[0]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("dfos, version ")


def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("init", "env", "config", "status", "flag", "headers", "demo-data"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "Usage: dfos" in out, command


def test_unknown_workspace(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "status")
    assert code == 3
    assert "no dfos workspace here" in one_error_line(err)
    code, _, err = run(capsys, "--root", str(tmp_path / "missing"), "env")
    assert code == 3 and "--root points to" in one_error_line(err)


def test_malformed_dfos_toml(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    toml = workspace.root / "dfos.toml"
    toml.write_text(toml.read_text() + "\nN_DFO_HDR = [\n")
    code, _, err = run(capsys, "--root", str(workspace.root), "status")
    line = one_error_line(err)
    lines = len(toml.read_text().splitlines())
    assert code == 4 and f"{toml}:{lines}:" in line and "malformed TOML" in line
    toml.write_text('INSTRUMENT = "UVES"\nN_DFO_HDR = 3 4\n')
    code, _, err = run(capsys, "--root", str(workspace.root), "status")
    assert code == 4 and f"{toml}:2:" in one_error_line(err)


def test_invalid_date(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    for bad in ("2013-02-30", "13-2-12", "yesterday"):
        code, _, err = run(capsys, "--root", str(workspace.root), "headers", "-d", bad)
        line = one_error_line(err)
        assert code == 2 and repr(bad) in line and ("YYYY-MM-DD" in line or "calendar date" in line)


def test_unknown_instrument(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "init", str(tmp_path / "ws"), "--instrument", "ESPRESSO")
    assert code == 2 and "unknown instrument 'ESPRESSO'" in one_error_line(err)
    code, _, err = run(capsys, "init", str(tmp_path / "ws2"))
    assert code == 0
    code, _, err = run(capsys, "--root", str(tmp_path / "ws2"), "demo-data", "--instrument", "XSH", "-d", "2013-02-12")
    assert code == 2 and "unknown instrument 'XSH'" in one_error_line(err)


def test_unknown_flag_and_bad_set(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    code, _, err = run(capsys, "--root", str(workspace.root), "flag", "cal_Done", "-d", "2013-02-12")
    assert code == 2 and "cal_Done" in one_error_line(err)
    code, _, err = run(capsys, "--root", str(workspace.root), "--set", "N_DFO_HDR", "status")
    assert code == 2 and "KEY=VALUE" in one_error_line(err)
    code, _, err = run(capsys, "--root", str(workspace.root), "--set", "N_DFO_HDR=x", "status")
    assert code == 2 and "is not an integer" in one_error_line(err)
    code, _, err = run(capsys, "--root", str(workspace.root), "flag")
    assert code == 2 and "FLAG" in one_error_line(err)


def test_flag_then_status_json(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = str(workspace.root)
    monkeypatch.setenv("DFOS_ROOT", root)
    (workspace.raw_dir / "2013-02-11").mkdir()
    (workspace.hdr_dir / "2013-02-11").mkdir()
    monkeypatch.setenv("DFOS_NOW", "2013-02-13T14:00:00")
    for flag in ("fits_Requested", "raw_Complete", "cal_AB", "cal_Queued", "cal_QC"):
        assert run(capsys, "flag", flag, "-d", "2013-02-11")[0] == 0
    lines = (workspace.mon_dir / "DFO_STATUS").read_text().splitlines()
    assert lines[-1] == "cal_QC 2013-02-11 2013-02-13T14:00:00"
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0
    assert json.loads(out) == {
        "today": "2013-02-13",
        "dates": [
            {
                "date": "2013-02-11",
                "today": False,
                "last_flag": "cal_QC",
                "flags": ["fits_Requested", "raw_Complete", "cal_AB", "cal_Queued", "cal_QC"],
                "steps": {
                    "complete": "GREEN",
                    "create_ab": "OFFER",
                    "abs": "OFFER",
                    "certify_move": "OFFER",
                    "certify_light": "WAIT",
                    "sci_create_ab": "OFFER",
                    "sci_abs": "WAIT",
                    "sci_certify_move": "WAIT",
                    "finish": "WAIT",
                    "remove": "WAIT",
                },
                "progress": {"CALIB": "processed", "SCIENCE": None},
            }
        ],
    }
    # the same night seen while it is still TODAY offers certify -L and is never green
    monkeypatch.setenv("DFOS_NOW", "2013-02-12T10:00:00")
    data = json.loads(run(capsys, "status", "--json", "-d", "2013-02-11")[1])
    assert data["today"] == "2013-02-11"
    assert data["dates"][0]["steps"]["certify_light"] == "OFFER"
    assert data["dates"][0]["steps"]["complete"] == "YELLOW"


def test_status_table_for_people(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFOS_ROOT", str(workspace.root))
    code, out, _ = run(capsys, "status")
    assert code == 0 and "No open dates" in out
    (workspace.raw_dir / "2013-02-12").mkdir()
    (workspace.hdr_dir / "2013-02-12").mkdir()
    run(capsys, "flag", "fits_Requested", "-d", "2013-02-12")
    run(capsys, "flag", "raw_Complete", "-d", "2013-02-12")
    monkeypatch.setenv("DFOS_NOW", "2013-02-14T14:00:00")
    code, out, _ = run(capsys, "status")
    assert code == 0
    row = next(line for line in out.splitlines() if "2013-02-12" in line)
    assert "GREEN" in row and "OFFER" in row and "raw_Complete" in row


def test_status_for_a_date_without_entry(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    code, _, err = run(capsys, "--root", str(workspace.root), "status", "-d", "2013-02-12")
    assert code == 2 and "has no entry" in one_error_line(err)


def test_config_show_reports_origins(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFOS_N_DFO_HDR", "3")
    code, out, _ = run(capsys, "--root", str(workspace.root), "--set", "DFO_OFFSET=1", "config", "show", "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["N_DFO_HDR"] == {"value": "3", "source": "environment", "where": "DFOS_N_DFO_HDR"}
    assert doc["DFO_OFFSET"] == {"value": "1.0", "source": "command line", "where": "--set DFO_OFFSET"}
    assert doc["INSTRUMENT"]["source"] == "file"
    code, out, _ = run(capsys, "--root", str(workspace.root), "config", "show")
    assert "N_DFO_HDR" in out and "environment: DFOS_N_DFO_HDR" in out


def test_config_show_masks_secrets(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFOS_MONITOR_PASSWORD", "hunter2-in-env")
    monkeypatch.setenv("DFOS_DB_URL", "postgresql://dfos:pw-in-the-url@db.example/dfos")
    code, out, _ = run(capsys, "--root", str(workspace.root), "config", "show", "--json")
    doc = json.loads(out)
    assert code == 0 and "hunter2" not in out and "pw-in-the-url" not in out
    assert doc["MONITOR_PASSWORD"]["value"] == "(set, hidden)"
    assert doc["DB_URL"]["value"] == "postgresql://dfos:***@db.example/dfos"
    code, out, _ = run(capsys, "--root", str(workspace.root), "config", "show")
    assert code == 0 and "hunter2" not in out and "pw-in-the-url" not in out and "(set, hidden)" in out


def test_env_command(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    code, out, _ = run(capsys, "--root", str(workspace.root), "env")
    assert code == 0
    assert f"export DFO_MON_DIR={workspace.root / 'monitor'}" in out.splitlines()


def test_file_system_refusals_are_one_line_errors(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    code, _, err = run(capsys, "init", str(tmp_path / "afile" / "sub"))
    assert code == 3 and "cannot create" in one_error_line(err)
    monkeypatch.setenv("DFOS_ROOT", str(workspace.root))
    monkeypatch.setenv("DFOS_DFO_MON_DIR", str(tmp_path / "afile" / "monitor"))  # a file stands in the way
    code, _, err = run(capsys, "flag", "cal_AB", "-d", "2013-02-12")
    assert code == 3 and "afile" in one_error_line(err)
    monkeypatch.delenv("DFOS_DFO_MON_DIR")
    (workspace.mon_dir / "DFO_STATUS").mkdir()
    code, _, err = run(capsys, "status")
    assert code == 3 and "DFO_STATUS" in one_error_line(err)


def test_out_of_range_values_are_one_line_errors(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFOS_ROOT", str(workspace.root))
    code, _, err = run(capsys, "headers", "-d", "0001-01-01")
    assert code == 2 and "outside the years" in one_error_line(err)
    code, _, err = run(capsys, "demo-data", "-d", "9999-12-31")
    assert code == 2 and "outside the years" in one_error_line(err)
    monkeypatch.setenv("DFOS_DFO_OFFSET", "nan")
    code, _, err = run(capsys, "status")
    assert code == 4 and "DFO_OFFSET" in one_error_line(err)


def test_status_trim(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFOS_ROOT", str(workspace.root))
    monkeypatch.setenv("DFOS_STATUS_KEEP_LINES", "3")
    for day in range(1, 7):
        run(capsys, "flag", "fits_Requested", "-d", f"2013-02-{day:02d}")
    code, _, err = run(capsys, "status", "--trim")
    assert code == 0 and "3 old line(s) trimmed" in err
    assert len((workspace.mon_dir / "DFO_STATUS").read_text().splitlines()) == 3


def test_foreign_exceptions_become_one_line_errors(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from astropy.io.fits.verify import VerifyError

    import dfos.cli.commands.status as status_cmd

    bad = workspace.root / "notes.txt"
    bad.write_bytes(b"ok\n\xff\xfe\n")

    def undecodable(*_: object, **__: object) -> None:
        bad.read_text(encoding="utf-8")

    def unverifiable(*_: object, **__: object) -> None:
        raise VerifyError("Card 'EXPTIME' is not FITS standard (invalid value string: 'NaN').\nFix it.")

    monkeypatch.setenv("DFOS_ROOT", str(workspace.root))
    for raiser, code, text in ((undecodable, 5, f"{bad} is not UTF-8 text"), (unverifiable, 5, "EXPTIME")):
        monkeypatch.setattr(status_cmd, "date_table", raiser)
        got, _, err = run(capsys, "status")
        assert got == code and text in one_error_line(err)


def test_bugs_still_show_their_traceback(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    import dfos.cli.commands.status as status_cmd

    def broken(*_: object, **__: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(status_cmd, "date_table", broken)
    with pytest.raises(ZeroDivisionError):
        main(["--root", str(workspace.root), "status"])


def test_warnings_and_click_errors_are_one_cut_line(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    import logging

    from dfos.cli.main import _WarningFormatter

    record = logging.LogRecord("dfos", logging.WARNING, __file__, 1, "AB %s\nsecond line", ("x" * 5000,), None)
    shown = _WarningFormatter().format(record)
    assert "\n" not in shown and len(shown) <= 1010 and shown.startswith("Warning: AB xxx")
    code, _, err = run(capsys, "--root", str(workspace.root), "x\n" * 3000)
    assert code == 2 and len(one_error_line(err)) <= 1100
    code, _, err = run(capsys, "--root", str(workspace.root), "process-ab", "-a", "A.ab\nB.ab")
    assert code == 2 and "A.ab" in one_error_line(err) and "B.ab" in one_error_line(err)


def test_an_empty_cascade_says_it_had_nothing_to_run(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    """The QC cascade of QCBQS_TYPE IMPLICIT lists no AB: the job log says so (it printed 'QC_CALIB_...: ')."""
    jobs = workspace.job_dir / "execQC_CALIB_2013-02-12"
    jobs.write_text("# QCBQS_TYPE IMPLICIT\n")
    code, out, _ = run(capsys, "--root", str(workspace.root), "exec-cascade", "--dag-id", "QC_CALIB_2013-02-12",
                       "--jobs", str(jobs))
    assert code == 0 and out.splitlines()[-1] == f"QC_CALIB_2013-02-12: nothing to run ({jobs} lists no AB)"
