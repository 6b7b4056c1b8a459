"""dfos compare on real results: the small synthetic UVES night processed with real esorex on this machine and on
a real Slurm cluster agrees; a changed recipe parameter, and a changed threshold, in B are found for what they are;
neither workspace is written (checksums of every file, mtimes of every directory)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from batch import batch_workspace, remove_workspace
from dfos.cli.main import main
from dfos.db import dispose_engines
from dfos.monitor.app import create_app
from dfos.qc.compare import Kind, Severity
from dfos.steps.compare import compare_workspaces, render_html, render_text
from dfos.steps.process_ab import process_ab
from dfos.steps.process_qc import process_qc
from dfos.steps.score import score_date, threshold_file
from dfos.workspace import Workspace, open_workspace, read_workspace
from nights import BIAS, NIGHT, run_night

pytestmark = [pytest.mark.esorex, pytest.mark.xdist_group("slurm")]

NOW = "2013-02-13T14:00:00"


def _processed(backend: str, base: Path, archive: Path) -> Workspace:
    """The small UVES night processed (headers, ABs, cascade with QC, cal_QC) on ``backend``."""
    ws = batch_workspace(backend, base, NOW=NOW)
    for source in archive.rglob("*.fits"):
        target = ws.archive_dir / source.relative_to(archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
    return run_night(ws)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, uves_small_archive: Path) -> Workspace:
    return _processed("local", tmp_path_factory.mktemp("cmp-local"), uves_small_archive)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory, uves_small_archive: Path,
          slurm_env: dict[str, str]) -> Iterator[Workspace]:
    ws = _processed("slurm", tmp_path_factory.mktemp("cmp-slurm"), uves_small_archive)
    yield ws
    remove_workspace(ws)


def _copy(ws: Workspace, base: Path) -> Workspace:
    """A copy of a processed workspace (its database closed first, so the copy is whole)."""
    dispose_engines()
    shutil.copytree(ws.root, base / "ws", symlinks=True)
    return open_workspace(base / "ws", env={"DFOS_NOW": NOW})


def _tree(root: Path) -> dict[str, object]:
    """Every file's SHA-256 and every directory's mtime under ``root``."""
    out: dict[str, object] = {}
    for folder, _, files in os.walk(root):
        out[folder] = os.stat(folder).st_mtime_ns
        for name in files:
            path = Path(folder) / name
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest() if not path.is_symlink() else "link"
    return out


def test_the_same_night_on_this_machine_and_on_slurm_agrees_and_neither_is_written(
        local: Workspace, slurm: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    for open_engines in (True, False):  # the databases in use (a write-ahead log beside them), then closed
        if not open_engines:
            dispose_engines()
        before = (_tree(local.root), _tree(slurm.root))
        report = compare_workspaces(read_workspace(local.root), read_workspace(slurm.root))
        assert (_tree(local.root), _tree(slurm.root)) == before
        assert report.agree, render_text(report)
        assert report.keys == ("2013-02-12",) and report.agree_on("2013-02-12")
        counts = dict(report.counts)
        assert counts["ABs"] == 7 and counts["products"] == 7 and counts["QC1 parameters"] > 100
        assert all(p.max_abs_diff == 0.0 for p in report.products if p.hdus)
        assert {p.catg for p in report.products} >= {"MASTER_BIAS_BLUE", "MASTER_DARK_BLUE", "MASTER_FLAT_BLUE"}
    before = (_tree(local.root), _tree(slurm.root))
    assert main(["compare", str(local.root), str(slurm.root), "-d", "2013-02-12", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["agree"] is True and data["keys"] == {"2013-02-12": True} and data["differences"] == []
    assert (_tree(local.root), _tree(slurm.root)) == before


def test_a_changed_recipe_parameter_in_b_is_found(local: Workspace, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    b = _copy(local, tmp_path)
    path = b.ab_dir / BIAS
    path.write_text(path.read_text(encoding="utf-8").replace(
        "# products\n", "# recipe parameters\nPARAM           --stack_method=mean\n# products\n"), encoding="utf-8")
    assert process_ab(b, BIAS).status == "SUCCESSFUL"
    process_qc(b, BIAS)
    dispose_engines()

    report = compare_workspaces(read_workspace(local.root), read_workspace(b.root), mode="CALIB")
    assert not report.agree and not report.agree_on("2013-02-12")
    assert {d.subject for d in report.differences} == {BIAS}
    first = report.differences[0]
    assert (first.kind, first.item, first.a, first.b) == (Kind.PARAMS, "PARAM", [], ["--stack_method=mean"])
    qc1 = [d for d in report.differences if d.kind is Kind.QC1]
    assert any(d.item.startswith("QC OUT1 RON MASTER") for d in qc1)
    assert all("beyond tolerance" in d.note for d in qc1)
    assert [d.severity for d in report.differences] == sorted(d.severity for d in report.differences)
    assert any(d.kind is Kind.PIXELS for d in report.differences)
    assert render_text(report).startswith("DIFFER on 1 of 1 key")
    assert "--stack_method=mean" in render_html(report)

    code = main(["compare", str(local.root), str(b.root), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 15 and data["agree"] is False and data["differences"][0]["kind"] == "params"
    # a tolerance wide enough for every QC1 parameter and every pixel leaves the parameter alone
    loose = tmp_path / "loose.toml"
    loose.write_text('[default]\nrel = 1.0\n[pixels]\nabs = 100.0\n', encoding="utf-8")
    wide = compare_workspaces(read_workspace(local.root), read_workspace(b.root), tolerances=loose)
    assert {d.kind for d in wide.differences} == {Kind.PARAMS} and wide.tolerances == str(loose)

    # the monitor's compare page: this workspace (A) against B, read-only on B
    before = _tree(b.root)
    with TestClient(create_app(local, token="compare-token"), base_url="http://127.0.0.1") as client:
        assert client.get("/login?token=compare-token").status_code == 200
        page = client.get("/compare", params={"b": str(b.root), "d": "2013-02-12", "mode": "calib"})
        assert page.status_code == 200 and "DIFFER on 1 of 1 key" in page.text and "--stack_method=mean" in page.text
        assert client.get("/compare").status_code == 200
        assert client.get("/compare", params={"b": str(tmp_path / "nowhere")}).status_code == 400
        assert client.get("/compare", params={"b": str(b.root), "d": "yesterday!"}).status_code == 400
    assert _tree(b.root) == before


def test_a_changed_threshold_in_b_changes_only_score_rows(local: Workspace, tmp_path: Path) -> None:
    b = _copy(local, tmp_path)
    shipped = Path(__file__).resolve().parents[2] / "src" / "dfos" / "qc" / "thresholds" / "UVES.toml"
    text = shipped.read_text(encoding="utf-8")
    assert 'pro_catg = "MASTER_BIAS_BLUE"\nlow = 170.0' in text
    threshold_file(b).write_text(text.replace('pro_catg = "MASTER_BIAS_BLUE"\nlow = 170.0',
                                              'pro_catg = "MASTER_BIAS_BLUE"\nlow = 171.0'), encoding="utf-8")
    score_date(b, NIGHT)
    dispose_engines()

    report = compare_workspaces(read_workspace(local.root), read_workspace(b.root))
    assert not report.agree
    assert {d.kind for d in report.differences} == {Kind.SCORE}
    (row,) = report.differences
    assert row.severity is Severity.SCORE and row.subject == BIAS and row.item.startswith("QC BIAS LEVEL")
    assert (row.a["low"], row.b["low"], row.a["score"], row.b["score"]) == (170.0, 171.0, 0, 0)
