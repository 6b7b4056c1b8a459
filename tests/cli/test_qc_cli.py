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


def test_process_ab_exits_10_when_its_implicit_processqc_failed(capsys: pytest.CaptureFixture[str],
                                                                 sleepy: Workspace,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import select

    from chains import write_chain
    from dfos.db import ab_runs, engine_for_url
    from dfos.steps.process_qc import qc_log
    from dfos.steps.score import threshold_file

    monkeypatch.setenv("DFOS_ESOREX", str(sleepy.settings.ESOREX))
    write_chain(sleepy, 2, 0)
    code, out, err = run(capsys, "--root", str(sleepy.root), "process-ab", "-a", "C0.ab")
    assert code == 0 and "C0.ab: SUCCESSFUL" in out and err == ""  # QC went well
    threshold_file(sleepy).write_text('[[threshold]]\nparam = "QC X"\nlow = 5.0\nhigh = 1.0\n')  # QC cannot score
    code, out, err = run(capsys, "--root", str(sleepy.root), "process-ab", "-a", "C1.ab")
    assert code == 10 and "C1.ab: SUCCESSFUL in" in out, (code, out, err)
    assert "C1.ab: SUCCESSFUL, but processQC failed: " in err and "low 5.0 is above high 1.0" in err
    assert len(err.strip().splitlines()) == 1
    assert "FAILED:" in qc_log(sleepy, "C1.ab").read_text()
    with engine_for_url(sleepy.db_url).begin() as db:
        runs = {r.ab: (r.status, r.message) for r in db.execute(select(ab_runs.c.ab, ab_runs.c.status,
                                                                           ab_runs.c.message))}
    assert runs["C1.ab"][0] == "SUCCESSFUL" and "processQC failed: " in str(runs["C1.ab"][1])  # the run record says it
    assert "processQC" not in str(runs["C0.ab"][1])


def test_process_qc_of_a_non_utf8_ab_is_one_line(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    from chains import write_chain

    write_chain(workspace, 1, 0)
    path = workspace.ab_dir / "C0.ab"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\n# \xff\xfe\n", 1))
    code, _, err = run(capsys, "--root", str(workspace.root), "process-qc", "-a", "C0.ab")
    assert code == 5 and str(path) in err and "not UTF-8" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(("text", "message"), [
    (b"threshold = 5\n", "'threshold' must be [[threshold]] tables"),
    (b'[[threshold]]\nparam = "QC X"\nlow = 1.0\nlast = 1.5\n', "last must be a whole number"),
    (b'[[threshold]]\nparam = "QC X"\nlow = 1.0\npro_catg = 5\n', "pro_catg must be text"),
    (b'[[threshold]]\nparam = "QC \xff"\nlow = 1.0\n', "not UTF-8 text"),
    (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "thresholds_UVES.toml"),
])
def test_a_broken_threshold_file_is_one_line_exit_4(capsys: pytest.CaptureFixture[str], workspace: Workspace,
                                                    text: bytes, message: str) -> None:
    from dfos.steps.score import threshold_file

    threshold_file(workspace).write_bytes(text)
    code, _, err = run(capsys, "--root", str(workspace.root), "health")
    assert code == 4 and message in err and len(err.strip().splitlines()) == 1, err
