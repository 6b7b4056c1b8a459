"""``dfos migrate`` as a user runs it: a ``migrate -A`` killed (SIGKILL) in the middle of a copy, or between placing
a file and recording it, started again completes, with every file's checksum equal and no temporary left; a pair
backwards is refused with one line; ``-I`` twice copies nothing the second time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dfos.cli.main import cli
from dfos.steps.migrate.manifest import read_manifest
from dfos.workspace import Workspace
from killpoint import run_killed
from migrate_trees import processed_old, sha


@pytest.fixture(scope="module")
def old(tmp_path_factory: pytest.TempPathFactory, uves_small_archive: Path) -> Workspace:
    return processed_old(tmp_path_factory.mktemp("migrate-cli"), uves_small_archive)


def dfos(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dfos", *argv], capture_output=True, text=True, timeout=300,
                          check=False, env=os.environ.copy())


def _set_up(old: Workspace, tmp_path: Path) -> Path:
    new = tmp_path / "new"
    done = CliRunner().invoke(cli, ["migrate", "setup", str(old.root), str(new)])
    assert done.exit_code == 0, done.output
    assert "next: dfos migrate -I" in done.output
    return new


def _expected(old: Workspace) -> list[Path]:
    """OLD's files that NEW must have: all but FITS (static calibrations excepted), temporaries, locks, the database
    and dfos.toml."""
    found = []
    for path in sorted(old.root.rglob("*")):
        rel = path.relative_to(old.root)
        if not path.is_file() or path.is_symlink() or rel.parts[0] in (".migrate", "dfos.sqlite", "dfos.toml"):
            continue
        if rel.name.startswith("dfos.sqlite") or rel.parts[:2] == ("AB", ".work"):
            continue
        if rel.name.endswith(".fits") and rel.parts[:2] != ("calib", "GEN"):
            continue
        if rel.name.startswith(".") and rel.name.endswith((".lock", ".part")):
            continue
        found.append(rel)
    return found


def _assert_complete(old: Workspace, new: Path) -> None:
    """Every file of OLD in NEW, checksums as the manifest records them (OLD's root rewritten in text files);
    no temporary anywhere in NEW."""
    assert not [p for p in new.rglob("*.part")], "a temporary was left"
    manifest = read_manifest(new / ".migrate" / "manifest")
    by_path = {}
    for entry in manifest.values():
        key, _, rel = entry.name.partition("/")
        by_path[rel if key == "ROOT" else f"{_DIRS[key]}/{rel}"] = entry
    for path in _expected(old):
        rel = str(path)
        entry = by_path[rel]
        assert sha(old.root / rel) == entry.src_sha256, rel
        assert sha(new / rel) == entry.dst_sha256, rel
        if str(old.root).encode() not in (old.root / rel).read_bytes():
            assert entry.src_sha256 == entry.dst_sha256, rel


_DIRS = {"DFO_RAW_DIR": "raw", "DFO_HDR_DIR": "headers", "DFO_CAL_DIR": "calib", "DFO_SCI_DIR": "reduced",
         "DFO_LOG_DIR": "logs", "DFO_PLT_DIR": "plots", "DFO_LST_DIR": "lists", "DFO_MON_DIR": "monitor",
         "DFO_JOB_DIR": "jobs", "DFO_CONFIG_DIR": "config", "DFO_AB_DIR": "AB", "DFS_PRODUCT": "products",
         "DFO_ARCHIVE_DIR": "archive", "GEN_CALDIR": "calib/GEN"}


@pytest.mark.parametrize(("function", "when", "nth", "leaves"), [
    ("dfos.steps.migrate.sync:_verify", "after", 9, "a temporary"),  # the copy written, not yet in place
    ("dfos.steps.migrate.sync:append_entries", "before", 14, "a file in place, not recorded"),
])
def test_migrate_all_killed_then_run_again_completes(old: Workspace, tmp_path: Path, function: str, when: str,
                                                     nth: int, leaves: str) -> None:
    new = _set_up(old, tmp_path)
    killed = run_killed(["migrate", "-A", str(old.root), str(new)], function, when=when, nth=nth)
    assert killed.returncode == -9, killed.stderr
    if leaves == "a temporary":
        assert list(new.rglob("*.part"))
    again = dfos("migrate", "-A", str(old.root), str(new))
    assert again.returncode == 0, again.stderr
    assert " 0 failed" in again.stdout and "0 conflicts" in again.stdout
    if leaves != "a temporary":
        assert "1 found in place" in again.stdout
    _assert_complete(old, new)
    third = dfos("migrate", "-A", str(old.root), str(new))
    assert ": 0 files copied (0 bytes)" in third.stdout and "0 rows inserted" in third.stdout


def test_incremental_twice_and_backwards_refused(old: Workspace, tmp_path: Path) -> None:
    new = _set_up(old, tmp_path)
    first = dfos("migrate", "-I", str(old.root), str(new), "--since", "2013-02-01")
    assert first.returncode == 0, first.stderr
    assert ": 0 files copied" not in first.stdout
    second = dfos("migrate", "-I", str(old.root), str(new), "--since", "2013-02-01")
    assert second.returncode == 0 and ": 0 files copied (0 bytes)" in second.stdout
    backwards = dfos("migrate", "-I", str(new), str(old.root), "--since", "2013-02-01")
    assert backwards.returncode != 0
    assert backwards.stderr.strip().count("\n") == 0 and "refused" in backwards.stderr
    assert "Traceback" not in backwards.stderr
    recent = dfos("migrate", "-I", str(old.root), str(new))  # default: this month and the previous one (none here)
    assert recent.returncode == 0 and ": 0 files copied (0 bytes)" in recent.stdout, recent.stdout + recent.stderr
