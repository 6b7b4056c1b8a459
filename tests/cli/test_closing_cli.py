"""The closing commands refuse to run out of order, each with one line and a non-zero exit."""

from __future__ import annotations

from datetime import date

import pytest

from dfos.cli.main import main
from dfos.steps.status import append_flag
from dfos.workspace import Workspace


@pytest.mark.parametrize(("argv", "message"), [
    (["certify", "-d", "2013-02-12", "--accept-green"], "has no QC yet"),
    (["move", "-d", "2013-02-12"], "is not certified yet"),
    (["ingest", "-d", "2013-02-12"], "is not moved yet"),
    (["finish", "-d", "2013-02-12"], "is not moved yet"),
    (["remove", "-d", "2013-02-12"], "is not finished"),
    (["cleanup", "-d", "2013-02-12"], "is not finished"),
    (["certify", "-m", "SCIENCE", "-d", "2013-02-12", "--accept-green"], "SCIENCE 2013-02-12 has no QC yet ('sci_QC'"),
    (["move", "-m", "science", "-d", "2013-02-12"], "SCIENCE 2013-02-12 is not certified yet ('sci_Certif'"),
    (["ingest", "-m", "SCIENCE", "-d", "2013-02-12"], "SCIENCE 2013-02-12 is not moved yet ('sci_Updated'"),
])
def test_out_of_order(capsys: pytest.CaptureFixture[str], workspace: Workspace, argv: list[str], message: str) -> None:
    append_flag(workspace, "raw_Complete", date(2013, 2, 12))
    code = main(["--root", str(workspace.root), *argv])
    err = capsys.readouterr().err
    assert code == 3 and message in err and len(err.strip().splitlines()) == 1, err


def test_a_decision_file_with_a_mistake_names_its_line(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                                       tmp_path: object) -> None:
    from pathlib import Path

    decisions = Path(str(tmp_path)) / "decisions.txt"
    decisions.write_text("# my decisions\nUVES.2013-02-12T18:05:00.500_tpl.ab maybe\n")
    code = main(["--root", str(workspace.root), "certify", "-d", "2013-02-12", "--decisions", str(decisions)])
    err = capsys.readouterr().err
    assert code == 5 and "decisions.txt:2: expected '<AB> accept|reject [comment]'" in err


def test_certify_asks_ab_by_ab_in_a_terminal(workspace: Workspace) -> None:
    from click.testing import CliRunner
    from sqlalchemy import select

    from dfos.cli.main import cli
    from dfos.db import certifications, engine_for_url

    names = [A, B]
    _processed(workspace)
    result = CliRunner().invoke(cli, ["--root", str(workspace.root), "certify", "-d", "2013-02-12", "--user", "anna",
                                      "--interactive"], input="a\nclean\na\n\n")
    assert result.exit_code == 0, result.output
    assert "[a]ccept, [r]eject, [s]kip, [q]uit" in result.output and "certified (cal_Certif)" in result.output
    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(certifications.c.ab, certifications.c.by, certifications.c.comment)).all()
    assert sorted(rows) == [(names[0], "anna", "clean"), (names[1], "anna", "")]


# --- the evidence: AB list, AB files, database (issue 14, problems 3, 7, 10, 11) -------------------------------

DAY = date(2013, 2, 12)
A, B = "UVES.2013-02-12T18:05:00.500_tpl.ab", "UVES.2013-02-12T18:40:00.500_tpl.ab"


def _ab(name: str, status: str = "SUCCESSFUL", products: tuple[str, ...] = ()) -> str:
    from dfos.ab.format import render
    from dfos.ab.model import AB, Completeness, ProcessStatus, Product

    stem = name.removesuffix(".ab")
    return render(AB(name=name, instrument="UVES", date="2013-02-12", dpr_catg="CALIB", raw_type="BIAS_BLUE",
                     recipe="uves_cal_mbias", drs_type="CON", batch_id="CALIB_2013-02-12", event="E", action="A",
                     completeness=Completeness.COMPLETE, process_status=ProcessStatus(status), obs_prog_id="-",
                     obs_id="-", obs_mode="NONE", mjd_obs=0.0, mjd_obs_mod=0.0, prod_root=f"r.{stem}",
                     prod_path="$DFS_PRODUCT/BIAS_BLUE/2013-02-12", log_name=f"{stem}.log", match_keys=(),
                     rawfiles=(), mcalib=(), massoc=(), params=(),
                     products=tuple(Product(p, "MASTER_BIAS_BLUE") for p in products), waitfor=(), missing=()))


def _processed(ws: Workspace, names: tuple[str, ...] = (A, B), products: bool = False) -> None:
    """A date processed in the workspace's own records only: AB files, the AB list (DONE), a successful run
    each, cal_QC (and with ``products`` each AB naming one product that is not there)."""
    from sqlalchemy import insert

    from dfos.db import ab_runs, engine_for_url

    for name in names:
        (ws.ab_dir / name).write_text(_ab(name, products=(f"r.{name.removesuffix('.ab')}_0000.fits",)
                                          if products else ()))
    (ws.mon_dir / "AB_list_CALIB_2013-02-12").write_text(
        "".join(f"{n}  BIAS_BLUE  uves_cal_mbias  COMPLETE  DONE\n" for n in names))
    with engine_for_url(ws.db_url).begin() as db:
        db.execute(insert(ab_runs), [{"ab": n, "batch_id": "CALIB_2013-02-12", "recipe": "r", "started": "s",
                                      "ended": "e", "status": "SUCCESSFUL"} for n in names])
    append_flag(ws, "cal_QC", DAY)


def _certifications(ws: Workspace) -> int:
    from sqlalchemy import func, select

    from dfos.db import certifications, engine_for_url

    with engine_for_url(ws.db_url).begin() as db:
        return int(db.execute(select(func.count()).select_from(certifications)).scalar_one())


def _status(ws: Workspace) -> str:
    return ws.status_log.path.read_text()


def _break_list_missing(ws: Workspace) -> None:
    (ws.mon_dir / "AB_list_CALIB_2013-02-12").unlink()


def _break_list_directory(ws: Workspace) -> None:
    _break_list_missing(ws)
    (ws.mon_dir / "AB_list_CALIB_2013-02-12").mkdir()


def _break_list_empty(ws: Workspace) -> None:
    (ws.mon_dir / "AB_list_CALIB_2013-02-12").write_text("")


def _break_ab_file_missing(ws: Workspace) -> None:
    (ws.ab_dir / B).unlink()


def _break_no_run(ws: Workspace) -> None:
    from sqlalchemy import delete

    from dfos.db import ab_runs, engine_for_url

    with engine_for_url(ws.db_url).begin() as db:
        db.execute(delete(ab_runs).where(ab_runs.c.ab == B))


def _break_unlisted_run(ws: Workspace) -> None:
    (ws.mon_dir / "AB_list_CALIB_2013-02-12").write_text(f"{A}  BIAS_BLUE  uves_cal_mbias  COMPLETE  DONE\n")


def _break_stale_ab(ws: Workspace) -> None:
    (ws.ab_dir / B).write_text(_ab(B, status="CREATED"))
    (ws.mon_dir / "AB_list_CALIB_2013-02-12").write_text(
        f"{A}  BIAS_BLUE  uves_cal_mbias  COMPLETE  DONE\n{B}  BIAS_BLUE  uves_cal_mbias  COMPLETE\n")


BROKEN = {  # how the evidence is broken -> what the one-line refusal names
    "list missing": (_break_list_missing, "AB_list_CALIB_2013-02-12 (the AB list of CALIB 2013-02-12) is missing"),
    "list a directory": (_break_list_directory, "AB_list_CALIB_2013-02-12 (the AB list of CALIB 2013-02-12) is a "
                                                "directory"),
    "list empty": (_break_list_empty, "AB_list_CALIB_2013-02-12 does not list UVES.2013-02-12T18:05:00.500_tpl.ab "
                                      "(and 1 more), which the workspace database ran successfully"),
    "AB file missing": (_break_ab_file_missing, f"lists {B}, but its AB file is neither in"),
    "no run": (_break_no_run, f"tags it DONE, but the workspace database has no successful run of {B}"),
    "unlisted run": (_break_unlisted_run, f"does not list {B}, which the workspace database ran successfully"),
    "stale AB": (_break_stale_ab, f"{B} says CREATED, but the newest run of {B} in the workspace database succeeded"),
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_certify_refuses_when_its_evidence_is_missing_or_disagrees(capsys: pytest.CaptureFixture[str],
                                                                   workspace: Workspace, broken: str) -> None:
    _processed(workspace)
    certify_ok = main(["--root", str(workspace.root), "certify", "-d", "2013-02-12", "--accept-green"])
    assert certify_ok == 0 and "2 AB(s) still await a decision" in capsys.readouterr().err  # intact: nothing green
    spoil, message = BROKEN[broken]
    spoil(workspace)
    before = _status(workspace)
    decisions = workspace.root / "decisions.txt"
    decisions.write_text(f"{A} accept\n")
    for argv in (["--accept-green"], ["--decisions", str(decisions)]):
        code = main(["--root", str(workspace.root), "certify", "-d", "2013-02-12", *argv])
        out = capsys.readouterr()
        assert code == 3 and message in out.err and len(out.err.strip().splitlines()) == 1, out.err
        assert "certified (cal_Certif)" not in out.out
    assert _status(workspace) == before and _certifications(workspace) == 0  # nothing written


def test_certify_refuses_an_unreadable_ab_list(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    _processed(workspace)
    real = Path.read_bytes

    def refused(self: Path) -> bytes:
        if self.name == "AB_list_CALIB_2013-02-12":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", refused)  # (the tests run as root, for whom chmod 000 reads anyway)
    before = _status(workspace)
    code = main(["--root", str(workspace.root), "certify", "-d", "2013-02-12", "--decisions",
                 str(_decisions(workspace, f"{A} accept\n{B} accept\n"))])
    err = capsys.readouterr().err
    assert code == 3 and "AB_list_CALIB_2013-02-12 (the AB list of CALIB 2013-02-12) cannot be read" in err
    assert _status(workspace) == before and _certifications(workspace) == 0


def _decisions(ws: Workspace, text: str | bytes) -> object:
    path = ws.root / "decisions.txt"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_certify_appends_cal_certif_only_when_every_ab_is_decided(capsys: pytest.CaptureFixture[str],
                                                                   workspace: Workspace) -> None:
    _processed(workspace)
    root = ["--root", str(workspace.root), "certify", "-d", "2013-02-12", "--decisions"]
    assert main([*root, str(_decisions(workspace, f"{A} accept fine\n"))]) == 0
    out = capsys.readouterr()
    assert "1 AB(s) still await a decision" in out.err and "cal_Certif" not in _status(workspace)
    assert main([*root, str(_decisions(workspace, f"{B} reject stripes\n"))]) == 0
    assert "certified (cal_Certif)" in capsys.readouterr().out and "cal_Certif" in _status(workspace)


@pytest.mark.parametrize(("text", "message"), [
    (f"{A} accept\n# ...\n{A} reject stripes\n", "decisions.txt:1 and {path}:3 contradict each other: the file "
                                                 f"accepts and rejects {A}"),
    (f"{A} accept fine\n{A} accept  not so fine\n", "decisions.txt:1 and {path}:2 contradict each other: the file "
                                                    f"decides twice (other comments) {A}"),
])
def test_contradicting_decisions_are_refused_naming_both_lines(capsys: pytest.CaptureFixture[str],
                                                               workspace: Workspace, text: str, message: str) -> None:
    _processed(workspace)
    path = _decisions(workspace, text)
    code = main(["--root", str(workspace.root), "certify", "-d", "2013-02-12", "--decisions", str(path)])
    err = capsys.readouterr().err
    assert code == 5 and message.format(path=path) in err and len(err.strip().splitlines()) == 1, err
    assert _certifications(workspace) == 0


def test_the_same_decision_twice_counts_once(workspace: Workspace) -> None:
    from dfos.steps.certify import parse_decisions

    assert len(parse_decisions(f"{A} accept ok\n{A}   ACCEPT ok\n")) == 1


@pytest.mark.parametrize("target", ["decisions", "AB file", "AB list"])
def test_non_utf8_files_are_one_line_format_errors(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                                   target: str) -> None:
    _processed(workspace)
    path = {"decisions": workspace.root / "decisions.txt", "AB file": workspace.ab_dir / B,
            "AB list": workspace.mon_dir / "AB_list_CALIB_2013-02-12"}[target]
    decisions = _decisions(workspace, f"{A} accept caf\u00e9\n")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\xff\xfe\n", 1))
    code = main(["--root", str(workspace.root), "certify", "-d", "2013-02-12", "--decisions", str(decisions)])
    err = capsys.readouterr().err
    assert code == 5 and f"{path}:" in err and "is not UTF-8 text" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and _certifications(workspace) == 0


def test_certify_of_an_unknown_ab_is_not_found(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    _processed(workspace)
    code = main(["--root", str(workspace.root), "certify", "-d", "2013-02-12", "--decisions",
                 str(_decisions(workspace, "NOPE.ab accept\n"))])
    err = capsys.readouterr().err
    assert code == 2 and "NOPE.ab is not a successful CALIB AB of 2013-02-12" in err


@pytest.mark.parametrize("line", ["X" * 5_000_000 + " accept", f"{A} accept " + "y" * 5_000_000,
                                  "Z" * 5_000_000])
def test_a_5_mb_line_is_never_echoed_in_full(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                             line: str) -> None:
    _processed(workspace)
    code = main(["--root", str(workspace.root), "certify", "-d", "2013-02-12", "--decisions",
                 str(_decisions(workspace, line + "\n"))])
    out = capsys.readouterr()
    assert code in (2, 5) and len(out.err) < 1200 and len(out.out) < 1200, len(out.err)
    assert len(out.err.strip().splitlines()) == 1 and _certifications(workspace) == 0


def _certified(ws: Workspace, products: bool = False) -> None:
    _processed(ws, products=products)
    assert main(["--root", str(ws.root), "certify", "-d", "2013-02-12", "--decisions",
                 str(_decisions(ws, f"{A} accept\n{B} accept\n"))]) == 0
    assert "cal_Certif" in _status(ws)


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_move_refuses_when_its_evidence_is_missing_or_disagrees(capsys: pytest.CaptureFixture[str],
                                                                workspace: Workspace, broken: str) -> None:
    _certified(workspace)
    spoil, message = BROKEN[broken]
    spoil(workspace)
    before = _status(workspace)
    capsys.readouterr()
    code = main(["--root", str(workspace.root), "move", "-d", "2013-02-12"])
    err = capsys.readouterr().err
    assert code == 3 and message in err and len(err.strip().splitlines()) == 1, err
    assert _status(workspace) == before and "cal_Updated" not in before
    assert not (workspace.cal_dir / "2013-02-12").exists() and not (workspace.job_dir / "JOBS_INGEST").exists()


def test_move_refuses_to_move_nothing_where_products_are_expected(capsys: pytest.CaptureFixture[str],
                                                                  workspace: Workspace) -> None:
    _certified(workspace, products=True)  # each AB names a product that processing never made
    before = _status(workspace)
    capsys.readouterr()
    code = main(["--root", str(workspace.root), "move", "-d", "2013-02-12"])
    err = capsys.readouterr().err
    assert code == 3 and "BIAS_BLUE/2013-02-12/r.UVES.2013-02-12T18:05:00.500_tpl_0000.fits is missing" in err, err
    assert _status(workspace) == before and not (workspace.cal_dir / "2013-02-12").exists()
    assert (workspace.ab_dir / A).is_file() and not (workspace.job_dir / "JOBS_INGEST").exists()


def _moved(ws: Workspace) -> None:
    """A date certified and moved (by hand: no product files, every AB in $DFO_LOG_DIR/<DATE>)."""
    _certified(ws)
    logs = ws.path("DFO_LOG_DIR") / "2013-02-12"
    logs.mkdir(parents=True, exist_ok=True)
    for name in (A, B):
        (ws.ab_dir / name).rename(logs / name)
    append_flag(ws, "cal_Updated", DAY)


@pytest.mark.parametrize("step", ["finish", "cleanup"])
@pytest.mark.parametrize("broken", ["plan left", "list missing", "moved AB missing", "product missing",
                                    "ingest list disagrees"])
def test_finish_and_cleanup_refuse_when_what_they_rely_on_is_missing(capsys: pytest.CaptureFixture[str],
                                                                     workspace: Workspace, step: str,
                                                                     broken: str) -> None:
    _moved(workspace)
    if step == "cleanup":
        append_flag(workspace, "finished", DAY)
    logs, cal = workspace.path("DFO_LOG_DIR") / "2013-02-12", workspace.cal_dir / "2013-02-12"
    if broken == "plan left":
        cal.mkdir(parents=True)
        (cal / ".move_CALIB.json").write_text("[]\n")
        message = f"{cal / '.move_CALIB.json'} is still there: the move of CALIB 2013-02-12 did not finish"
    elif broken == "list missing":
        _break_list_missing(workspace)
        message = "AB_list_CALIB_2013-02-12 (the AB list of CALIB 2013-02-12) is missing"
    elif broken == "moved AB missing":
        (logs / B).unlink()
        message = f"lists {B}, but its AB file is neither in"
    elif broken == "product missing":
        (logs / B).write_text(_ab(B, products=("UV_MBIA_130212A_BLUE.fits",)).replace(
            "$DFS_PRODUCT/BIAS_BLUE/2013-02-12", "$DFO_CAL_DIR/2013-02-12"))
        message = f"{cal / 'UV_MBIA_130212A_BLUE.fits'} is missing: {logs / B} names it as a certified product"
    else:
        listing = workspace.lst_dir / "list_ingest_CALIB_2013-02-12.txt"
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_text(f"UV_MBIA_130212A_BLUE.fits {'0' * 64} 2880\n")
        message = f"{listing} lists UV_MBIA_130212A_BLUE.fits, but the archive catalog has no entry for it"
    before = _status(workspace)
    capsys.readouterr()
    code = main(["--root", str(workspace.root), step, "-d", "2013-02-12"])
    err = capsys.readouterr().err
    assert code == 3 and message in err and len(err.strip().splitlines()) == 1, err
    assert _status(workspace) == before and not (workspace.mon_dir / "HISTORY").exists()


@pytest.mark.parametrize(("plan", "code", "message"), [
    (None, 3, ".move_CALIB.json (a move plan) is a directory"),
    (b"[{\"source\": 1}]", 5, ".move_CALIB.json: entry 1: expected an object with exactly the keys"),
    (b"[\xff]", 5, ".move_CALIB.json:1: byte 0xff at offset 1 is not UTF-8 text; a move plan: refused"),
    (b"[" * 5000, 5, ".move_CALIB.json: not a move plan"),
    ('[{"source": "{outside}", "target": "{cal}/x.fits", "sha256": "' + "0" * 64 + '", "size": 1}]', 5,
     "entry 1: {outside} lies outside"),
    ('[{"source": "{product}", "target": "{outside}", "sha256": "' + "0" * 64 + '", "size": 1}]', 5,
     "entry 1: {outside} lies outside"),
])
def test_move_refuses_a_broken_or_tampered_plan(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                                tmp_path: object, plan: bytes | str | None, code: int,
                                                message: str) -> None:
    from pathlib import Path

    _certified(workspace)
    cal = workspace.cal_dir / "2013-02-12"
    cal.mkdir(parents=True)
    outside = Path(str(tmp_path)) / "precious.txt"
    outside.write_text("keep me\n")
    names = {"outside": str(outside), "cal": str(cal),
             "product": str(workspace.path("DFS_PRODUCT") / "BIAS_BLUE" / "2013-02-12" / "r.x_0000.fits")}
    if plan is None:
        (cal / ".move_CALIB.json").mkdir()
    else:
        for key, value in names.items():
            plan = plan.replace(f"{{{key}}}", value) if isinstance(plan, str) else plan
        (cal / ".move_CALIB.json").write_bytes(plan.encode() if isinstance(plan, str) else plan)
    before = _status(workspace)
    capsys.readouterr()
    got = main(["--root", str(workspace.root), "move", "-d", "2013-02-12"])
    err = capsys.readouterr().err
    assert got == code and message.format(**names) in err and len(err.strip().splitlines()) == 1, err
    assert outside.read_text() == "keep me\n" and _status(workspace) == before and (workspace.ab_dir / A).is_file()
