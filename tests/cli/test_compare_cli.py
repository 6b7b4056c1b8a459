"""``dfos compare A B`` from the command line: its exit codes (0 agree, 15 differ, errors their own), its forms,
and that it creates nothing in either workspace (not even a database)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from dfos.ab.format import render
from dfos.ab.lists import ABList, write_ab_list
from dfos.ab.model import AB, Completeness, ProcessStatus, Product, RawInput
from dfos.cli.main import main
from dfos.workspace import Workspace, init_workspace

KEY = "2013-02-12"


def _ab(name: str, params: tuple[str, ...] = ()) -> AB:
    return AB(name=name, instrument="UVES", date=KEY, dpr_catg="CALIB", raw_type="BIAS_BLUE", recipe="uves_cal_mbias",
              drs_type="CON", batch_id=f"CALIB_{KEY}", event="E", action="A", completeness=Completeness.COMPLETE,
              process_status=ProcessStatus.SUCCESSFUL, obs_prog_id="60.A-9022(C)", obs_id="1", obs_mode="NONE",
              mjd_obs=56335.7, mjd_obs_mod=56335.7, prod_root="r." + name.removesuffix(".ab"),
              prod_path=f"$DFS_PRODUCT/BIAS_BLUE/{KEY}", log_name=f"r.{name.removesuffix('.ab')}.log", match_keys=(),
              rawfiles=(RawInput(f"$DFO_RAW_DIR/{KEY}/UVES.2013-02-12T18:05:00.500.fits", "BIAS_BLUE"),), mcalib=(),
              massoc=(), params=params,
              products=(Product(f"r.{name.removesuffix('.ab')}_0000.fits", "MASTER_BIAS_BLUE"),),
              waitfor=(), missing=())


def _with_abs(ws: Workspace, *abs_: AB) -> Workspace:
    write_ab_list(ws.ab_list("CALIB", KEY), [ABList.of(ab, done=True) for ab in abs_])
    for ab in abs_:
        (ws.ab_dir / ab.name).write_text(render(ab), encoding="utf-8")
    return ws


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Workspace, Workspace]:
    a, _ = init_workspace(tmp_path / "a", env={}, instrument="UVES")
    b, _ = init_workspace(tmp_path / "b", env={}, instrument="UVES")
    return _with_abs(a, _ab("UVES.X_tpl.ab")), _with_abs(b, _ab("UVES.X_tpl.ab"))


def _tree(root: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for folder, _, files in os.walk(root):
        out[folder] = os.stat(folder).st_mtime_ns
        for name in files:
            out[os.path.join(folder, name)] = hashlib.sha256(Path(folder, name).read_bytes()).hexdigest()
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_agreeing_workspaces_exit_0_and_nothing_is_created_in_either(pair: tuple[Workspace, Workspace],
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    a, b = pair
    before = (_tree(a.root), _tree(b.root))
    code, out, _ = run(capsys, "compare", str(a.root), str(b.root))
    assert code == 0 and out.splitlines()[0] == "AGREE within tolerance on 1 key (1 ABs, 0 products, 0 QC1 parameters)"
    code, out, err = run(capsys, "compare", str(a.root), str(b.root), "--since", "2013-02-13")
    assert code == 0 and "on 0 keys" in out and "Warning: nothing compared" in err
    assert (_tree(a.root), _tree(b.root)) == before
    assert not (a.root / "dfos.sqlite").exists() and not (b.root / "dfos.sqlite").exists()


def test_a_difference_exits_15_in_every_form(pair: tuple[Workspace, Workspace], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    a, b = pair
    _with_abs(b, _ab("UVES.X_tpl.ab", params=("--stack_method=mean",)), _ab("UVES.Y_tpl.ab"))
    code, out, _ = run(capsys, "compare", str(a.root), str(b.root), "-d", KEY, "-m", "calib")
    lines = out.splitlines()
    assert code == 15 and lines[0].startswith("DIFFER on 1 of 1 key: 2 differences (1 missing, 1 processing)")
    assert lines.index(next(line for line in lines if "UVES.Y_tpl.ab" in line)) < \
        lines.index(next(line for line in lines if "--stack_method=mean" in line))
    code, out, _ = run(capsys, "compare", str(a.root), str(b.root), "--format", "json")
    data = json.loads(out)
    assert code == 15 and [d["kind"] for d in data["differences"]] == ["ab", "params"]
    report = tmp_path / "report.html"
    code, out, _ = run(capsys, "compare", str(a.root), str(b.root), "--format", "html", "-o", str(report))
    assert code == 15 and out == f"DIFFER: report in {report}\n"
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    # neither has SCIENCE ABs: nothing differs there
    code, out, _ = run(capsys, "compare", str(a.root), str(b.root), "-m", "SCIENCE")
    assert code == 0


@pytest.mark.parametrize(("argv", "code", "says"), [
    (["-d", KEY, "--since", KEY], 2, "not both"),
    (["-d", "2013-02-30"], 2, "2013-02-30"),
    (["--format", "pdf"], 2, "pdf"),
    (["--tolerances", "/nonexistent/tol.toml"], 2, "no tolerance file"),
])
def test_bad_input_is_one_line_with_its_code(pair: tuple[Workspace, Workspace], capsys: pytest.CaptureFixture[str],
                                             argv: list[str], code: int, says: str) -> None:
    a, b = pair
    found, _, err = run(capsys, "compare", str(a.root), str(b.root), *argv)
    assert found == code and says in err and len(err.strip().splitlines()) == 1


def test_workspaces_and_files_that_cannot_be_compared(pair: tuple[Workspace, Workspace], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    a, b = pair
    code, _, err = run(capsys, "compare", str(a.root), str(tmp_path / "nowhere"))
    assert code == 3 and "is not a dfos workspace" in err
    code, _, err = run(capsys, "compare", str(a.root), str(a.root))
    assert code == 3 and "the same workspace" in err
    code, _, err = run(capsys, "compare", str(a.root), str(b.root), "-o", str(b.root / "report.txt"))
    assert code == 2 and "writes into neither" in err and not (b.root / "report.txt").exists()
    (a.path("DFO_CONFIG_DIR") / "compare_tolerances.toml").write_text("[default]\nrel = -1\n", encoding="utf-8")
    code, _, err = run(capsys, "compare", str(a.root), str(b.root))
    assert code == 5 and "compare_tolerances.toml [default]: rel must be a number >= 0" in err
    (a.path("DFO_CONFIG_DIR") / "compare_tolerances.toml").write_text("[default]\nrel = 1\n", encoding="utf-8")
    code, out, _ = run(capsys, "compare", str(a.root), str(b.root))
    assert code == 0 and "tolerances: " + str(a.path("DFO_CONFIG_DIR") / "compare_tolerances.toml") in out
    ab_list = b.ab_list("CALIB", KEY)
    ab_list.write_text("garbage line\n", encoding="utf-8")
    code, _, err = run(capsys, "compare", str(a.root), str(b.root))
    assert code == 5 and str(ab_list) in err
