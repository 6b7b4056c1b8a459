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
    from sqlalchemy import insert, select

    from dfos.cli.main import cli
    from dfos.db import ab_runs, certifications, engine_for_url

    day = date(2013, 2, 12)
    names = ["UVES.2013-02-12T18:05:00.500_tpl.ab", "UVES.2013-02-12T18:40:00.500_tpl.ab"]
    (workspace.mon_dir / "AB_list_CALIB_2013-02-12").write_text(
        "".join(f"{n}  BIAS_BLUE  uves_cal_mbias  COMPLETE\n" for n in names))
    with engine_for_url(workspace.db_url).begin() as db:
        db.execute(insert(ab_runs), [{"ab": n, "batch_id": "CALIB_2013-02-12", "recipe": "r", "started": "s",
                                      "ended": "e", "status": "SUCCESSFUL"} for n in names])
    append_flag(workspace, "cal_QC", day)
    result = CliRunner().invoke(cli, ["--root", str(workspace.root), "certify", "-d", "2013-02-12", "--user", "anna",
                                      "--interactive"], input="a\nclean\na\n\n")
    assert result.exit_code == 0, result.output
    assert "[a]ccept, [r]eject, [s]kip, [q]uit" in result.output and "certified (cal_Certif)" in result.output
    with engine_for_url(workspace.db_url).begin() as db:
        rows = db.execute(select(certifications.c.ab, certifications.c.by, certifications.c.comment)).all()
    assert sorted(rows) == [(names[0], "anna", "clean"), (names[1], "anna", "")]
