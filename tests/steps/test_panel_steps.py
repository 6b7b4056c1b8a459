"""The steps behind the dfoMonitor's panels: the memory depth written into dfos.toml, the calibration plan
calChecker reads from the rules, the live autoDaily state file."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import pytest

from dfos.errors import UsageError
from dfos.oca.parser import parse_rules
from dfos.steps.auto_state import read_state, write_state
from dfos.steps.cal_checker import calibration_plan, check
from dfos.steps.memory_depth import memory_summary, set_memory_depth
from dfos.workspace import Workspace, open_workspace

RULES = """
action A
{
  minRet = 1; maxRet = 1;
  select file as MASTER_BIAS from calibFiles where DO.CATG == "MASTER_BIAS"
     and inputFile.DET.BINX == DET.BINX using CLOSEST within 1, 7, 30 days;
  select file as MASTER_FLAT from calibFiles where DO.CATG == "MASTER_FLAT" and inputFile.INS.MODE == INS.MODE
     using CLOSEST within 3 days;
  select file as LINES from calibFiles where DO.CATG == "LINES";
  recipe r_a;
}
action B
{
  minRet = 1; maxRet = 1;
  select file as MASTER_BIAS from calibFiles where DO.CATG == "MASTER_BIAS"
     and inputFile.DET.READ == DET.READ using PREVIOUS within 2, 60 days;
  recipe r_b;
}
"""


def test_the_plan_takes_the_strictest_first_and_the_widest_last_window() -> None:
    plan = calibration_plan(parse_rules(RULES))
    assert sorted(plan) == ["MASTER_BIAS", "MASTER_FLAT"]  # LINES has no window: static, never due
    bias = plan["MASTER_BIAS"]
    assert (bias.due_days, bias.valid_days, bias.setup_keys) == (1.0, 60.0, ("DET.BINX", "DET.READ"))
    assert (plan["MASTER_FLAT"].due_days, plan["MASTER_FLAT"].valid_days) == (3.0, 3.0)


def test_check_dates_each_setup_by_its_newest_folder(workspace: Workspace) -> None:
    from dfos.headers.io import card_text, dotted_header

    def header(kind: str, day: str, name: str, catg: str, binx: int) -> None:
        folder = workspace.cal_dir / kind / day
        folder.mkdir(parents=True, exist_ok=True)
        values = [("SIMPLE", True), ("PRO.CATG", catg), ("DET.BINX", binx), ("DET.READ", "fast")]
        (folder / name).write_text(card_text(dotted_header(values)))

    header("MCAL", "2013-01-01", "a.hdr", "MASTER_BIAS", 1)
    header("VCAL", "2013-02-10", "b.hdr", "MASTER_BIAS", 1)  # newer, not yet certified: it counts
    header("MCAL", "2013-01-01", "c.hdr", "MASTER_BIAS", 2)
    header("MCAL", "2013-03-01", "d.hdr", "MASTER_BIAS", 2)  # after TODAY: not counted
    report = check(workspace, parse_rules(RULES), today=date(2013, 2, 12))
    found = {(c.catg, c.setup): (c.last, c.memory, c.age_days, c.status) for c in report.checks}
    assert found[("MASTER_BIAS", "DET.BINX=1 DET.READ=fast")] == ("2013-02-10", "VCAL", 2, "due")
    assert found[("MASTER_BIAS", "DET.BINX=2 DET.READ=fast")] == ("2013-01-01", "MCAL", 42, "due")
    assert found[("MASTER_FLAT", "-")] == (None, "", None, "missing")
    assert report.checks[0].status == "missing"  # the worst first


def test_the_depth_goes_into_dfos_toml_wherever_it_stands(workspace: Workspace) -> None:
    toml = workspace.root / "dfos.toml"
    original = toml.read_text()
    assert "# N_MCAL_LIST = 10" in original  # the commented-out default line becomes the value
    set_memory_depth(workspace, {"N_MCAL_LIST": "4"})
    text = toml.read_text()
    assert "N_MCAL_LIST = 4" in text and "# N_MCAL_LIST" not in text
    set_memory_depth(workspace, {"N_MCAL_LIST": 6})  # an active line is replaced
    assert tomllib.loads(toml.read_text())["association"]["N_MCAL_LIST"] == 6
    assert len(toml.read_text().splitlines()) == len(original.splitlines())
    ws = open_workspace(workspace.root, env={})
    assert [r.depth for r in memory_summary(ws)] == [6, 3] and memory_summary(ws)[0].source == "file"
    toml.write_text('INSTRUMENT = "UVES"\n')  # no [association] table, no line: added at the top
    set_memory_depth(workspace, {"N_VCAL_LIST": "2"})
    assert tomllib.loads(toml.read_text()) == {"N_VCAL_LIST": 2, "INSTRUMENT": "UVES"}
    for bad in ({"N_VCAL_LIST": "0"}, {"N_VCAL_LIST": "1e3"}, {"N_VCAL_LIST": "9999999"}, {"DB_URL": "1"}):
        with pytest.raises(UsageError):
            set_memory_depth(workspace, bad)
    assert tomllib.loads(toml.read_text()) == {"N_VCAL_LIST": 2, "INSTRUMENT": "UVES"}


def test_the_live_state_file(workspace: Workspace, tmp_path: Path) -> None:
    assert read_state(workspace).state == "idle"
    write_state(workspace, "running", "2013-02-13T14:00:00", "2013-02-13T14:00:02", "a\nmulti-line   step",
                workspace.mon_dir / "AUTO_DAILY" / "x.log")
    state = read_state(workspace)
    assert state.running and state.step == "a multi-line step" and state.log == "monitor/AUTO_DAILY/x.log"
    text = (workspace.mon_dir / "AUTO_DAILY" / "state").read_text()
    assert text.startswith("state=running\nstarted=2013-02-13T14:00:00\n")
    write_state(workspace, "idle", "2013-02-13T14:00:00", "2013-02-13T14:00:09", "done", tmp_path / "elsewhere.log")
    assert read_state(workspace).log == ""  # a log outside the workspace is not linked
    (workspace.mon_dir / "AUTO_DAILY" / "state").write_text("state=rm -rf\nlog=/etc/passwd\npid=x\n")
    garbage = read_state(workspace)
    assert garbage.state == "idle" and garbage.log == "" and garbage.pid is None
