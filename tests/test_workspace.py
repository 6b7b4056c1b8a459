"""Workspaces: the DFOS tree, finding the root, dfos env."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from dfos.errors import ConfigError, UnknownInstrument, WorkspaceError
from dfos.workspace import CONFIG_FILE, find_root, init_workspace, open_workspace


def test_init_creates_the_dfos_tree(tmp_path: Path) -> None:
    ws, created = init_workspace(tmp_path / "ws", env={}, instrument="giraffe")
    assert created
    assert ws.settings.INSTRUMENT == "GIRAFFE"
    for name in ("raw", "headers", "calib/MCAL", "calib/VCAL", "reduced", "logs", "plots", "lists", "monitor",
                 "jobs", "config", "AB", "products", "archive"):
        assert (ws.root / name).is_dir(), name  # reduced ($DFO_SCI_DIR): move -m SCIENCE in every flavour
    assert 'INSTRUMENT = "GIRAFFE"' in (ws.root / CONFIG_FILE).read_text()


def test_phoenix_gets_a_science_directory_too(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path / "ws", env={}, flavour="PHOENIX")
    assert ws.settings.FLAVOUR.value == "phoenix"
    assert (ws.root / "reduced").is_dir()


def test_init_twice_keeps_the_config_and_refuses_a_conflict(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path / "ws", env={}, instrument="UVES")
    (ws.root / "logs").rmdir()
    again, created = init_workspace(tmp_path / "ws", env={})
    assert not created and (again.root / "logs").is_dir()
    with pytest.raises(WorkspaceError, match="already a workspace with INSTRUMENT = UVES"):
        init_workspace(tmp_path / "ws", env={}, instrument="GIRAFFE")


def test_init_rejects_an_unknown_instrument(tmp_path: Path) -> None:
    known = "AMBER, GIRAFFE, HAWKI, MUSE, NACO, UVES, VIMOS, VISIR"
    with pytest.raises(UnknownInstrument, match=f"known instruments are {known}$"):
        init_workspace(tmp_path / "ws", env={}, instrument="XSHOOTER")
    assert not (tmp_path / "ws").exists()


def test_find_root_order(tmp_path: Path) -> None:
    a, _ = init_workspace(tmp_path / "a", env={})
    b, _ = init_workspace(tmp_path / "b", env={})
    deep = a.root / "logs" / "2013-02-12"
    deep.mkdir(parents=True)
    assert find_root(None, {}, deep) == a.root  # walk up
    assert find_root(None, {"DFOS_ROOT": str(b.root)}, deep) == b.root  # env beats walking
    assert find_root(a.root, {"DFOS_ROOT": str(b.root)}, deep) == a.root  # --root beats env


def test_find_root_errors(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="no dfos workspace here"):
        find_root(None, {}, tmp_path)
    with pytest.raises(WorkspaceError, match="DFOS_ROOT points to"):
        find_root(None, {"DFOS_ROOT": str(tmp_path)}, tmp_path)
    with pytest.raises(WorkspaceError, match="--root points to"):
        find_root(tmp_path / "nowhere", {}, tmp_path)


def test_open_rejects_an_unknown_configured_instrument_naming_where(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path / "ws", env={})
    with pytest.raises(ConfigError, match="DFOS_INSTRUMENT: unknown instrument 'NACO2'"):
        open_workspace(ws.root, env={"DFOS_INSTRUMENT": "NACO2"})
    toml = ws.root / CONFIG_FILE
    toml.write_text('[workspace]\nINSTRUMENT = "SPHERE"\n')
    with pytest.raises(ConfigError, match=rf"{toml}:2: unknown instrument 'SPHERE'"):
        open_workspace(ws.root, env={})
    with pytest.raises(UnknownInstrument):
        open_workspace(ws.root, env={}, cli={"INSTRUMENT": "FORS"})


def test_init_judges_an_existing_workspace_by_its_file_not_the_shell(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path / "ws", env={}, instrument="UVES")
    _, created = init_workspace(ws.root, env={"DFOS_INSTRUMENT": "GIRAFFE"}, instrument="UVES")
    assert not created
    # a new workspace is written from the options, whatever the shell says
    fresh, created = init_workspace(tmp_path / "new", env={"DFOS_INSTRUMENT": "GIRAFFE"}, instrument="UVES")
    assert created and 'INSTRUMENT = "UVES"' in (fresh.root / CONFIG_FILE).read_text()


def test_init_in_an_impossible_place_is_an_operator_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(WorkspaceError):
        init_workspace(tmp_path / "afile", env={})
    with pytest.raises(WorkspaceError, match="cannot create"):
        init_workspace(tmp_path / "afile" / "sub", env={})


def test_date_dirs_take_only_real_dates(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path / "ws", env={})
    for name in ("2013-02-12", "2013-W07-2", "20130212", "2013-02-30", "notes"):
        (ws.raw_dir / name).mkdir()
    (ws.raw_dir / "2013-02-13").write_text("a file, not a directory")
    assert [d.isoformat() for d in ws.date_dirs("DFO_RAW_DIR")] == ["2013-02-12"]


def test_absolute_directory_overrides(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path / "ws", env={})
    other = open_workspace(ws.root, env={"DFOS_DFO_RAW_DIR": str(tmp_path / "bigdisk" / "raw")})
    assert other.raw_dir == tmp_path / "bigdisk" / "raw"
    assert other.hdr_dir == ws.root / "headers"


def test_env_script_is_valid_shell(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path / "with space", env={})
    script = ws.env_script()
    names = [line.split("=", 1)[0].removeprefix("export ") for line in script.splitlines()]
    for required in ("DFO_RAW_DIR", "DFO_HDR_DIR", "DFO_CAL_DIR", "DFO_LOG_DIR", "DFO_PLT_DIR", "DFO_LST_DIR",
                     "DFO_MON_DIR", "DFO_JOB_DIR", "DFO_CONFIG_DIR", "DFO_AB_DIR", "DFS_PRODUCT",
                     "DFO_INSTRUMENT", "DFO_FILE_NAME", "DFO_OFFSET", "DFOS_ROOT", "DFO_ARCHIVE_DIR"):
        assert required in names
    # nothing that would override a configuration key when the output is eval'ed
    assert [n for n in names if n.startswith("DFOS_")] == ["DFOS_ROOT"]
    shell = f'{script}\nprintf "%s\\n" "$DFO_RAW_DIR" "$DFO_FILE_NAME"'
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [str(ws.root / "raw"), "UVES"]
    assert shlex.quote(str(ws.root)) in script
