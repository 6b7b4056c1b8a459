"""OPSHUB without esorex: the root of one workspace per instrument, project names and files, science lists,
``dfos project create`` at the root, the date states of the monitor, the download dots.
(The end-to-end run with real esorex: tests/monitor/test_opshub_project.py.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from dfos.cli.commands.project import _Dots
from dfos.cli.main import main
from dfos.errors import FormatError, StateError, UsageError
from dfos.monitor.projects import CREATED, EXECUTING, NO_ABS, date_state
from dfos.steps.opshub import (
    Project,
    create_project,
    hub_instruments,
    init_opshub,
    load_project,
    parse_project,
    parse_science_list,
    project_dir,
    project_name,
    render_project,
    siblings,
)
from dfos.workspace import init_workspace, open_workspace


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """``dfos ARGS`` in-process: (exit status, stdout and stderr)."""
    def run(*args: str) -> tuple[int, str]:
        code = main(list(args))
        said = capsys.readouterr()
        return code, said.out + said.err

    return run


@pytest.mark.parametrize("name", ["NGC253_followup", "p", "HC-red.2024+new"])
def test_project_names_that_are_keys(name: str) -> None:
    assert project_name(name) == name


@pytest.mark.parametrize("name", ["2013-02-12", "090.C-0456(A)", "../x", "", "1abc", "a b", "x" * 81, "a/b"])
def test_project_names_refused(name: str) -> None:
    with pytest.raises(UsageError, match="project name"):
        project_name(name)


def test_a_project_file_round_trips() -> None:
    project = Project("P1", "NACO", (date(2013, 2, 11), date(2013, 2, 12)),
                      ("NACO.2013-02-12T01:20:00.000.fits",), "2013-03-02T14:00:00")
    assert parse_project(render_project(project), "project.conf") == project


@pytest.mark.parametrize(("text", "why"), [
    ("PROJECT_NAME P1\nINSTRUMENT NACO\n", "no DATE line"),
    ("PROJECT_NAME P1\nDATE 2013-02-12\n", "no INSTRUMENT line"),
    ("PROJECT_NAME P1\nINSTRUMENT NACO\nDATE 2013-02-30\n", "calendar date"),
    ("PROJECT_NAME ../x\nINSTRUMENT NACO\nDATE 2013-02-12\n", "project name"),
    ("PROJECT_NAME P1\nINSTRUMENT NACO\nDATE 2013-02-12\nOWNER me\n", "project.conf:4: not a project line"),
    ("PROJECT_NAME P1\nINSTRUMENT NACO\nDATE 2013-02-12\nSCIENCE_FILE ../../etc/passwd\n", "project.conf"),
])
def test_damaged_project_files_are_named(text: str, why: str) -> None:
    with pytest.raises(FormatError, match=why.replace("(", r"\(")):
        parse_project(text, "project.conf")


def test_a_science_list_takes_dates_and_file_names() -> None:
    text = "# the follow-up\n2013-02-11\n\nNACO.2013-02-13T01:20:00.000.fits  # after midnight: the 12th\n2013-02-11\n"
    days, files = parse_science_list(text, "list")
    assert days == [date(2013, 2, 11), date(2013, 2, 12)]
    assert files == ["NACO.2013-02-13T01:20:00.000.fits"]


@pytest.mark.parametrize(("text", "where"), [("2013-02-11\nnot-a-file\n", "list:2"), ("# nothing\n", "no date"),
                                             ("2013-13-01\n", "list:1"), ("x/NACO.2013-02-13T01:20:00.000.fits", "1")])
def test_a_bad_science_list_names_its_line(text: str, where: str) -> None:
    with pytest.raises(FormatError, match=where):
        parse_science_list(text, "list")


@pytest.mark.parametrize(("nodes", "state"), [
    ({}, CREATED), ({"a.ab": "waiting"}, CREATED), ({"a.ab": "waiting", "b.ab": "running"}, EXECUTING),
    ({"a.ab": "succeeded", "b.ab": "failed"}, EXECUTING), ({"c.ab": "running"}, CREATED)])
def test_the_two_states_of_a_project_date(nodes: dict[str, str], state: str) -> None:
    assert date_state(["a.ab", "b.ab"], nodes) == state
    assert date_state([], nodes) == NO_ABS


def test_init_makes_one_workspace_per_instrument(tmp_path: Path, run: Callable[..., tuple[int, str]]) -> None:
    code, out = run("init", str(tmp_path / "hub"), "--flavour", "opshub", "--instrument", "naco",
                     "--instrument", "UVES")
    assert code == 0, out
    assert hub_instruments(tmp_path / "hub") == ["NACO", "UVES"]
    naco = open_workspace(tmp_path / "hub" / "NACO", env={})
    assert naco.settings.FLAVOUR.value == "opshub" and naco.settings.INSTRUMENT == "NACO"
    assert [name for name, _ in siblings(naco)] == ["NACO", "UVES"]
    # a line of the OPSHUB file that is no instrument name is never a path to another directory
    hub = tmp_path / "hub" / "OPSHUB"
    hub.write_text(hub.read_text() + "../ops\nnot a name\n")
    assert hub_instruments(tmp_path / "hub") == ["NACO", "UVES"]
    # again, with one more: the others are kept (checked), the new one added
    code, out = run("init", str(tmp_path / "hub"), "--flavour", "opshub", "--instrument", "GIRAFFE")
    assert code == 0, out
    assert hub_instruments(tmp_path / "hub") == ["NACO", "UVES", "GIRAFFE"]
    # a workspace is no OPSHUB root, and two instruments make no plain workspace
    init_workspace(tmp_path / "ops", env={})
    with pytest.raises(StateError, match="is a workspace already"):
        init_opshub(tmp_path / "ops", {}, ["NACO"])
    code, out = run("init", str(tmp_path / "two"), "--instrument", "NACO", "--instrument", "UVES")
    assert code == 2 and "only with --flavour opshub" in out
    assert not (tmp_path / "two").exists()


def test_project_create_at_the_root(tmp_path: Path, run: Callable[..., tuple[int, str]]) -> None:
    root = tmp_path / "hub"
    init_opshub(root, {}, ["NACO", "UVES"])
    listed = tmp_path / "science.txt"
    listed.write_text("2013-02-11\nNACO.2013-02-13T01:20:00.000.fits\n", encoding="utf-8")
    code, out = run("--root", str(root), "project", "create", "P1", "--instrument", "NACO", "--science-list",
                     str(listed))
    assert code == 0, out
    naco = open_workspace(root / "NACO", env={})
    conf = project_dir(naco, "P1") / "project.conf"
    assert "DATE          2013-02-12" in conf.read_text()
    assert load_project(naco, "P1").files == ("NACO.2013-02-13T01:20:00.000.fits",)
    # the same again is harmless; other dates under the same name are refused
    assert run("--root", str(root), "project", "create", "P1", "--instrument", "NACO", "--science-list",
                str(listed))[0] == 0
    code, out = run("--root", str(root), "project", "create", "P1", "--instrument", "NACO", "--dates", "2013-02-11")
    assert code == 3 and "exists with other dates" in out
    # list at the root: every instrument's projects (UVES has none); run finds the one holding the project
    code, out = run("--root", str(root), "project", "list")
    assert code == 0 and out.splitlines() == ["P1  NACO  2013-02-11 2013-02-12  0 CALIB, 0 SCIENCE AB(s)"]
    code, out = run("--root", str(root), "project", "list", "--instrument", "UVES")
    assert code == 0 and out == ""
    code, out = run("--root", str(root), "project", "list", "--instrument", "NACO")
    assert code == 0 and out.startswith("P1  NACO  2013-02-11 2013-02-12  0 CALIB, 0 SCIENCE")
    code, out = run("--root", str(root), "project", "run", "P1")
    assert code == 3 and "the archive holds no frame of 2013-02-11, 2013-02-12" in out
    code, out = run("--root", str(root), "project", "create", "P2", "--instrument", "VIMOS", "--dates", "2013-02-11")
    assert code == 2 and "serves NACO, UVES, not VIMOS" in out
    # inside an instrument's workspace, that instrument only
    uves = open_workspace(root / "UVES", env={})
    with pytest.raises(UsageError, match="is for UVES, not NACO"):
        create_project(uves, "P3", "NACO", [date(2013, 2, 11)])


def test_the_download_dots(capsys: pytest.CaptureFixture[str]) -> None:
    dots = _Dots()
    for done in (1, 2, 3):
        dots(done, 3)
    assert capsys.readouterr().err == "raw files: 3 to download, one at a time: ... 3/3\n"


def test_the_opshub_monitor_is_passive(tmp_path: Path) -> None:
    """``/`` is the projects page; ``/dates`` shows the date table without action buttons or XDM, even logged in,
    and an action posted anyway is refused."""
    import re

    from starlette.testclient import TestClient

    from dfos.monitor.app import create_app
    from dfos.steps.demo_data import generate_night
    from dfos.steps.headers import extract_headers
    from dfos.steps.status import append_flag

    night = date(2013, 2, 12)
    init_opshub(tmp_path / "hub", {}, ["UVES"])
    ws = open_workspace(tmp_path / "hub" / "UVES", env={"DFOS_NOW": "2013-02-13T14:00:00"})
    generate_night(ws, night, small=True)
    extract_headers(ws, night)
    append_flag(ws, "raw_Complete", night)  # the dfoMonitor would offer createAB now
    create_project(ws, "P1", "UVES", [night])
    with TestClient(create_app(ws, token="tok"), base_url="http://127.0.0.1") as client:
        front = client.get("/login?token=tok")
        assert front.status_code == 200 and 'id="logout"' in front.text
        assert "OPSHUB projects: UVES" in front.text and 'data-project="P1"' in front.text
        assert NO_ABS in front.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', front.text)
        assert csrf
        dates = client.get("/dates")
        assert dates.status_code == 200 and str(night) in dates.text and "OFFER" in dates.text
        assert 'id="xdm"' not in dates.text and "offer-button" not in dates.text
        assert 'action="/action/' not in dates.text and 'action="/postit"' not in dates.text
        refused = client.post("/action/create_ab", data={"csrf": csrf[1], "date": str(night), "mode": "CALIB"})
        assert refused.status_code == 403 and "no actions" in refused.text
        assert "cal_AB" not in ws.status_log.path.read_text()
