"""``dfos monitor export`` for the QC web: static pages without actions and with relative links, swapped into
place in one step (a failing or killed export leaves the previous one), published by ``EXPORT_COMMAND`` (its
failure said in one line, the export kept), and run from cron every ``EXPORT_EVERY`` minutes."""

from __future__ import annotations

import re
import shlex
import stat
from datetime import date, datetime
from pathlib import Path

import pytest
from health_data import qc1_row, write_qc1

from dfos.cli.main import main
from dfos.monitor import export
from dfos.monitor.export import command_argv, export_site
from dfos.steps.create_ab import create_abs
from dfos.steps.headers import extract_headers
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, open_workspace
from killpoint import run_killed

NIGHT = date(2013, 2, 12)
ACTIONS = ("<form", "<button", "<script", "csrf", "method=\"post\"", "/login", "/logout", "/action/", "/todo/",
           "/certify/", "/api/", "/static/", "/file?")


@pytest.fixture
def night(uves_night: Workspace) -> Workspace:
    ws = open_workspace(uves_night.root, env={"DFOS_NOW": "2013-02-13T14:00:00"})
    extract_headers(ws, NIGHT)
    append_flag(ws, "raw_Complete", NIGHT)
    create_abs(ws, NIGHT, "CALIB")
    write_qc1(ws, [qc1_row(datetime(2013, 2, 12, 22), "QC BIAS LEVEL", "MASTER_BIAS_BLUE", 181.0, 0, 170.0, 190.0)])
    return ws


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_the_export_has_no_actions_and_only_relative_links(night: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "web"
    assert export_site(night, target, wait=30) == 4
    pages = {p.name: p.read_text() for p in target.glob("*.html")}
    assert sorted(pages) == ["abs_2013-02-12.html", "health.html", "history.html", "index.html"]
    for name, text in pages.items():
        for action in ACTIONS:
            assert action not in text, (name, action)
        for link in re.findall(r'(?:href|src|action)="([^"]*)"', text):
            assert not link.startswith(("/", "http:", "https:", "javascript:")), (name, link)
            assert link == "monitor.css" or link.startswith("#") or (target / link.split("#")[0]).is_file() \
                or link.endswith(".html"), (name, link)
    assert 'href="abs_2013-02-12.html"' in pages["index.html"]
    assert pages["abs_2013-02-12.html"].count('<tr data-ab="') == 7
    assert "<svg" in pages["health.html"] and 'class="band"' in pages["health.html"]
    assert 'data-light="green" data-param="QC BIAS LEVEL"' in pages["health.html"]
    mode = (target / "index.html").stat().st_mode
    assert stat.S_IMODE(target.stat().st_mode) == 0o755 and mode & stat.S_IROTH  # a web server may read it


def test_a_failing_writer_leaves_the_previous_export(night: Workspace, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "www" / "web"
    export_site(night, target, wait=30)
    before = files(target)
    original = export._render

    def failing(path: Path, *args: object) -> None:
        if path.name == "history.html":
            raise OSError(28, "No space left on device")
        original(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(export, "_render", failing)
    append_flag(night, "cal_AB", NIGHT)  # the next export would differ
    with pytest.raises(OSError, match="No space left"):
        export_site(night, target, wait=30)
    assert files(target) == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["web"]  # the half-written one is gone


def test_a_killed_export_leaves_the_previous_export(night: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "www" / "web"
    export_site(night, target, wait=30)
    before = files(target)
    append_flag(night, "cal_AB", NIGHT)
    argv = ["--root", str(night.root), "monitor", "export", "--out", str(target)]
    killed = run_killed(argv, "dfos.monitor.export:_render", nth=2, env={"DFOS_NOW": "2013-02-13T14:00:00"})
    assert killed.returncode == -9, killed.stderr
    assert files(target) == before  # the previous export, whole
    left = [p for p in target.parent.iterdir() if p.name != "web"]
    assert len(left) == 1 and (left[0] / "index.html").is_file()  # the killed one's work, beside it
    done = run_killed(argv, "dfos.monitor.export:_render", nth=99, env={"DFOS_NOW": "2013-02-13T14:00:00"})
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in target.parent.iterdir()) == ["web"]  # the next export cleared it
    assert files(target) != before and "cal_AB" in (target / "history.html").read_text()


def test_export_command_publishes_and_its_failure_is_said(night: Workspace, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "publish.sh"
    script.write_text('#!/bin/sh\n[ -n "$FAIL" ] && { echo "ssh: connect to host qcweb: No route to host" >&2; '
                      'exit 3; }\nexec cp -r "$1" "$2"\n')
    script.chmod(0o755)
    target, copy = tmp_path / "web site", tmp_path / "published"  # a space: the path stays one argument
    monkeypatch.setenv("DFOS_EXPORT_COMMAND", f"{shlex.quote(str(script))} {{dir}} {shlex.quote(str(copy))}")
    monkeypatch.setenv("DFOS_NOW", "2013-02-13T14:00:00")
    code = main(["--root", str(night.root), "monitor", "export", "--out", str(target)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"published: {shlex.quote(str(script))} '{target}' {copy}" in out.out
    assert files(copy) == files(target) and "health.html" in files(copy)
    monkeypatch.setenv("FAIL", "1")
    code = main(["--root", str(night.root), "monitor", "export", str(target)])
    err = capsys.readouterr().err.strip()
    assert code == 6 and len(err.splitlines()) == 1, err
    assert "EXPORT_COMMAND failed (exit 3)" in err and "No route to host" in err and "is kept" in err
    assert sorted(files(target)) == sorted(files(copy))  # the new export stands, whole
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_missing_program_and_a_bad_command_are_one_line(night: Workspace, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = ["--root", str(night.root)]
    monkeypatch.setenv("DFOS_EXPORT_COMMAND", "no-such-publisher-program {dir}")
    assert main([*root, "monitor", "export"]) == 6
    err = capsys.readouterr().err.strip()
    assert "exit 127" in err and "no program 'no-such-publisher-program'" in err and len(err.splitlines()) == 1
    assert (night.mon_dir / "export" / "index.html").is_file()  # the default directory
    monkeypatch.setenv("DFOS_EXPORT_COMMAND", "rsync -a '{dir}/ host:")
    assert main([*root, "monitor", "export"]) == 4
    assert "EXPORT_COMMAND: No closing quotation" in capsys.readouterr().err
    monkeypatch.delenv("DFOS_EXPORT_COMMAND")
    assert main([*root, "monitor", "export", str(tmp_path / "a"), "--out", str(tmp_path / "b")]) == 2
    assert "name the export directory once" in capsys.readouterr().err


def test_the_command_template_keeps_the_directory_one_argument() -> None:
    assert command_argv("rsync -a {dir}/ 'qc host:/qc/web/'", Path("/x/my export; rm -rf ~")) == \
        ["rsync", "-a", "/x/my export; rm -rf ~/", "qc host:/qc/web/"]


def test_cron_install_has_the_export_line(workspace: Workspace, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = ["--root", str(workspace.root)]
    assert main([*root, "cron", "install"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if "-t export" in line] == \
        [f"*/10 * * * * {workspace.bin_dir / 'dfos'} --root {workspace.root} cron run -t export"]
    monkeypatch.setenv("DFOS_EXPORT_EVERY", "60")
    assert main([*root, "cron", "install"]) == 0
    hourly = capsys.readouterr().out.splitlines()
    assert any(line.startswith("0 * * * * ") and line.endswith("-t export") for line in hourly)
    monkeypatch.setenv("DFOS_EXPORT_EVERY", "0")
    assert main([*root, "cron", "install"]) == 0
    assert "-t export" not in capsys.readouterr().out
    monkeypatch.setenv("DFOS_EXPORT_EVERY", "61")
    assert main([*root, "cron", "install"]) == 4


def test_cron_runs_the_export(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(workspace.root), "cron", "run", "-t", "export"]) == 0
    assert (workspace.mon_dir / "export" / "index.html").is_file()
    [log] = (workspace.mon_dir / "CRON_LOGS").glob("export_*.log")
    text = log.read_text()
    assert "$ dfos monitor export" in text and "pages in" in text and text.endswith("exit 0\n")


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_an_export_replaces_the_previous_one(night: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             exchange: bool) -> None:
    if not exchange:
        monkeypatch.setattr(export, "_exchange", lambda a, b: False)
    target = tmp_path / "www" / "web"
    export_site(night, target, wait=30)
    (target / "stale.html").write_text("from an older export")
    append_flag(night, "cal_AB", NIGHT)
    export_site(night, target, wait=30)
    assert not (target / "stale.html").exists() and "cal_AB" in (target / "history.html").read_text()
    assert sorted(p.name for p in target.parent.iterdir()) == ["web"]
