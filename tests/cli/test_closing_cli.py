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
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err


def test_a_decision_file_with_a_mistake_names_its_line(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                                       tmp_path: object) -> None:
    from pathlib import Path

    decisions = Path(str(tmp_path)) / "decisions.txt"
    decisions.write_text("# my decisions\nUVES.2013-02-12T18:05:00.500_tpl.ab maybe\n")
    code = main(["--root", str(workspace.root), "certify", "-d", "2013-02-12", "--decisions", str(decisions)])
    err = capsys.readouterr().err
    assert code == 5 and "decisions.txt:2: expected '<AB> accept|reject [comment]'" in err
