"""The QC commands refuse what they cannot do with one line and a non-zero exit."""

from __future__ import annotations

import pytest

from dfos.cli.main import main
from dfos.workspace import Workspace


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_one_line_errors(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    root = ["--root", str(workspace.root)]
    code, _, err = run(capsys, *root, "trend", "--param", "QC BIAS LEVEL")
    assert code == 2 and "no values of 'QC BIAS LEVEL'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, *root, "qc1", "--param", "QC BIAS LEVEL")
    assert code == 2 and "--param needs --since" in err
    code, _, err = run(capsys, *root, "qc1")
    assert code == 2 and "either -d DATE or --param" in err
    code, _, err = run(capsys, *root, "score", "-d", "2013-02-12")
    assert code == 2 and "no AB of 2013-02-12 has QC yet" in err
    code, _, err = run(capsys, *root, "process-qc", "-a", "NOPE.ab")
    assert code == 2 and "no AB NOPE.ab" in err
    code, _, err = run(capsys, *root, "health")
    assert code == 0 and "no health-check trends yet" in err


def test_a_broken_threshold_file_names_the_entry(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    from dfos.steps.score import threshold_file

    threshold_file(workspace).write_text('[[threshold]]\nparam = "QC X"\nlow = 5.0\nhigh = 1.0\n')
    code, _, err = run(capsys, "--root", str(workspace.root), "health")
    assert code == 4 and "threshold 1 (QC X): low 5.0 is above high 1.0" in err
