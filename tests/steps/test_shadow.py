"""Shadow mode with real esorex: a reference installation processes three synthetic UVES nights; a new one,
set up from it, shadows them (``dfos shadow --reference``), compares each date equal, becomes ready, and takes
over autoDaily (``dfos cron install --apply``); the reference tree is byte for byte what it was."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from dfos.steps.auto_daily import auto_daily
from dfos.steps.demo_data import generate_night
from dfos.steps.shadow import read_state, shadow_dir
from dfos.workspace import Workspace, init_workspace, open_workspace

pytestmark = [pytest.mark.esorex, pytest.mark.xdist_group("shadow")]

NIGHTS = (date(2013, 2, 12), date(2013, 2, 13), date(2013, 2, 14))
NOW = "2013-02-15T14:00:00"


def _with_keys(root: Path, **keys: str) -> None:
    """Top-level keys put in front of the tables of dfos.toml."""
    config = root / "dfos.toml"
    config.write_text("".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in keys.items()) + config.read_text())


def tree_sums(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root`` (and every directory, as a marker)."""
    sums = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        sums[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def dfos(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dfos.cli.main", "--root", str(root), *args], text=True,
                          capture_output=True, env={**os.environ, "DFOS_NOW": NOW, **(env or {})}, check=False)


@pytest.fixture(scope="module")
def installations(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Path]]:
    """The reference (three nights processed by autoDaily, as in operations) and the root of the new
    installation set up from it; the archive (NGAS) lies outside both."""
    base = tmp_path_factory.mktemp("shadow")
    archive, _ = init_workspace(base / "ngas", env={}, instrument="UVES")
    for seed, night in enumerate(NIGHTS, start=7):
        generate_night(archive, night, small=True, seed=seed)
    ref, _ = init_workspace(base / "old", env={}, instrument="UVES")
    _with_keys(ref.root, DFO_ARCHIVE_DIR=str(archive.archive_dir))
    ref = open_workspace(ref.root, env={"DFOS_NOW": NOW})
    for night in NIGHTS:
        auto_daily(ref, dates=[night])
    setup = dfos(base / "old", "migrate", "setup", str(ref.root), str(base / "new"))
    assert setup.returncode == 0, setup.stderr
    # the starter set: the reference's DFO_STATUS, ABs, AB lists, job files and QC1 rows (no FITS); shadow mode
    # processes the dates afresh all the same (it sets the copied state aside)
    copied = dfos(base / "old", "migrate", "-I", str(ref.root), str(base / "new"), "--since", "2013-02-01")
    assert copied.returncode == 0, copied.stderr
    _with_keys(base / "new", SHADOW_READY_DATES="3")
    yield ref, base / "new"


def test_shadow_mode_reaches_ready_and_never_writes_into_the_reference(
        installations: tuple[Workspace, Path], tmp_path: Path) -> None:
    ref, new = installations
    before = tree_sums(ref.root)

    first = dfos(new, "shadow", "--reference", str(ref.root), "--since", "2013-02-12")
    assert first.returncode == 0, first.stdout + first.stderr
    for night in NIGHTS:
        assert f"{night}: agrees with the reference" in first.stdout
        assert re.search(rf"{night}: [1-9]\d* file\(s\) copied from the reference \(dfos migrate\) set aside",
                         first.stdout)
        assert (shadow_dir(open_workspace(new, env={})) / f"compare_{night}.json").is_file()
    assert "ready to take over" in first.stdout
    state = read_state(open_workspace(new, env={}))
    assert state.ready and state.streak == 3 and state.transition == "2013-02-12"

    again = dfos(new, "shadow")  # the reference is remembered; nothing new to do
    assert again.returncode == 0, again.stderr
    assert "nothing to shadow" in again.stdout

    # the new installation never certified or ingested: its DFO_STATUS has processing flags only
    flags = (new / "monitor" / "DFO_STATUS").read_text()
    assert "cal_QC" in flags and "cal_Certif" not in flags and "cal_Ingested" not in flags
    assert tree_sums(ref.root) == before

    # a date that differs (a QC1 value changed here) is found, exits with compare's status and resets the count
    with sqlite3.connect(new / "dfos.sqlite") as db:
        row = db.execute("SELECT id, value FROM qc1_params WHERE date = '2013-02-13' AND value IS NOT NULL "
                         "AND value != 0 LIMIT 1").fetchone()
        db.execute("UPDATE qc1_params SET value = ? WHERE id = ?", (row[1] * 2, row[0]))
    differs = dfos(new, "shadow", "-d", "2013-02-13")
    assert differs.returncode == 15, differs.stdout + differs.stderr
    assert "2013-02-13: differs from the reference" in differs.stdout
    assert not read_state(open_workspace(new, env={})).ready
    with sqlite3.connect(new / "dfos.sqlite") as db:
        db.execute("UPDATE qc1_params SET value = ? WHERE id = ?", (row[1], row[0]))
    assert dfos(new, "shadow", "-d", "2013-02-13").returncode == 0
    assert read_state(open_workspace(new, env={})).ready
    assert tree_sums(ref.root) == before

    _migration_page_in_chromium(new)

    # the autoDaily line moves from the reference to the new installation
    table = tmp_path / "crontab.txt"
    program = tmp_path / "bin" / "crontab"
    program.parent.mkdir()
    quoted = shlex.quote(str(table))
    program.write_text(f'#!/bin/sh\nif [ "$1" = -l ]; then cat {quoted}; else cat > {quoted}; fi\n')
    program.chmod(0o755)
    old_lines = dfos(ref.root, "cron", "install").stdout
    table.write_text(old_lines)
    path = {"PATH": f"{program.parent}:{os.environ['PATH']}"}
    moved = dfos(new, "cron", "install", "--apply", env=path)
    assert moved.returncode == 0, moved.stderr
    assert "autoDaily moved here" in moved.stdout
    crontab = table.read_text().splitlines()
    ours = f"--root {shlex.quote(str(new))} cron run -t autoDaily"
    assert any(ours in line and not line.startswith("#") for line in crontab)
    theirs = [line for line in crontab if f"--root {shlex.quote(str(ref.root))} cron run -t autoDaily" in line]
    assert theirs and all(line.startswith("# autoDaily moved to") for line in theirs)
    assert read_state(open_workspace(new, env={})).took_over
    refused = dfos(new, "shadow")
    assert refused.returncode != 0 and "shadow mode is over" in refused.stderr
    assert tree_sums(ref.root) == before


def test_taking_over_is_refused_before_shadow_mode_is_ready(installations: tuple[Workspace, Path],
                                                            tmp_path: Path) -> None:
    ref, _new = installations
    other = tmp_path / "other"
    assert dfos(ref.root, "migrate", "setup", str(ref.root), str(other)).returncode == 0
    conf = shadow_dir(open_workspace(other, env={}))
    conf.mkdir(parents=True)
    (conf / "SHADOW.conf").write_text(f"reference = {ref.root}\ntransition = 2013-02-12\n")
    refused = dfos(other, "cron", "install", "--apply")
    assert refused.returncode == 3
    assert "is not ready to take over: 0 of 5 consecutive compared dates agree" in refused.stderr


def test_a_reference_that_is_not_a_workspace_or_shares_the_database_is_refused(
        installations: tuple[Workspace, Path], tmp_path: Path) -> None:
    _ref, new = installations
    nothing = dfos(new, "shadow", "--reference", str(tmp_path))
    assert nothing.returncode == 2 and "is not a dfos workspace" in nothing.stderr
    itself = dfos(new, "shadow", "--reference", str(new))
    assert itself.returncode == 2 and "is this workspace" in itself.stderr


def _migration_page_in_chromium(new: Path) -> None:
    """The monitor's migration page: the phases with their state, ready, each date's compare report."""
    from playwright.sync_api import expect, sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitor"))  # the monitor tests' helpers
    from monitor_helpers import launch_chromium, monitor_server

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DFOS_")},
           "DFOS_MONITOR_PASSWORD": "pw", "DFOS_NOW": NOW}
    with monitor_server(new, env) as port, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/login?next=/migration")
            page.fill("#password", "pw")
            page.click("#login-button")
            page.click("text=migration")
            expect(page.locator("#verdict")).to_contain_text("ready to take over")
            states = {row.get_attribute("data-phase"): row.get_attribute("data-state")
                      for row in page.locator("#phases tr[data-phase]").all()}
            assert states == {"baseline": "done", "verification": "done", "commissioning": "done",
                              "operations": "current"}
            assert page.locator("#compared tr[data-date]").count() == 3
            page.click("#compared a >> text=2013-02-13")
            expect(page.locator("#report")).to_contain_text("2013-02-13")
        finally:
            browser.close()
