"""``dfos cron install --apply`` against a stand-in ``crontab`` program: this workspace's block is replaced,
every other line of the crontab is kept byte for byte, and a machine without ``crontab`` is told so."""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

import pytest

from dfos.cli.commands.auto import merged_crontab
from dfos.cli.main import main
from dfos.workspace import Workspace

#: A crontab of other users' making: env lines, odd spacing, a disabled job, a line cron would refuse.
OTHERS = """# Edit this file to introduce tasks to be run by cron.
MAILTO=ops@example.org
SHELL=/bin/bash

# backups
0 3 * * * /usr/local/bin/backup --all   # nightly
@reboot /usr/bin/startup.sh
#15 * * * * /disabled/job
*/5 * * * * echo "a % b" > /tmp/x
PATH=/usr/bin:/bin
# other user stuff{pad}
30 1 * * 1-5   /home/u/weekday.sh
this is not a cron line
""".format(pad="   ")  # a comment with trailing blanks


@pytest.fixture
def crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``crontab`` on PATH that keeps the table in a file (``-l`` prints it, ``-`` replaces it)."""
    table = tmp_path / "table"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "crontab"
    program.write_text(f"""#!/bin/sh
if [ "$1" = "-l" ]; then
  [ -f {shlex.quote(str(table))} ] || {{ echo "no crontab for $USER" >&2; exit 1; }}
  exec cat {shlex.quote(str(table))}
fi
exec cat > {shlex.quote(str(table))}
""")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return table


def _apply(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["--root", str(workspace.root), "cron", "install", "--apply"]) == 0
    installed = capsys.readouterr().out
    assert main(["--root", str(workspace.root), "cron", "install"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert installed == f"installed {len(lines) - 1} crontab lines\n"  # every line but the marker comment
    assert any("cron run -t calChecker" in line and line.startswith("*/30 ") for line in lines)
    return lines


def test_the_block_is_added_and_replaced_keeping_every_other_line(workspace: Workspace, crontab: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    crontab.write_text(OTHERS)
    lines = _apply(workspace, capsys)
    assert crontab.read_text() == OTHERS + "\n".join(lines) + "\n"
    mine = "5 * * * * /home/u/after-the-block.sh\n"  # added by hand right behind dfos's lines
    crontab.write_text(crontab.read_text() + mine)
    _apply(workspace, capsys)
    _apply(workspace, capsys)  # again: still one block
    assert crontab.read_text() == OTHERS + mine + "\n".join(lines) + "\n"


def test_an_empty_crontab_gets_the_block(workspace: Workspace, crontab: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    lines = _apply(workspace, capsys)  # "crontab -l" fails: no crontab yet
    assert crontab.read_text() == "\n".join(lines) + "\n"


def test_without_a_crontab_program_the_lines_are_to_be_added_by_hand(
        workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert main(["--root", str(workspace.root), "cron", "install", "--apply"]) == 1
    assert "no crontab program on this machine; add the lines printed without --apply" in capsys.readouterr().err


def test_another_workspace_s_block_is_not_touched() -> None:
    theirs = ["# dfos /data/fors", "17 * * * * /data/fors/bin/dfos --root /data/fors cron run -t autoDaily"]
    ours = ["# dfos /data/uves", "17 * * * * /data/uves/bin/dfos --root /data/uves cron run -t autoDaily"]
    old = ["# dfos /data/uves", "0 * * * * /old/dfos --root /data/uves cron run -t autoDaily"]
    current = "\n".join([*old, *theirs]) + "\n"
    assert merged_crontab(current, ours, "/data/uves") == "\n".join([*theirs, *ours]) + "\n"
    assert merged_crontab(merged_crontab(current, ours, "/data/uves"), ours, "/data/uves") == \
        "\n".join([*theirs, *ours]) + "\n"
