"""OPSHUB acceptance: a project with two science dates runs end to end with real esorex and shows on the monitor.

The OPSHUB root serves NACO and UVES (one workspace each).  Its NACO archive holds three small synthetic nights:
the 11th and the 12th only science (jitter), the 13th only calibrations (darks and twilight flats).  The project
names the 11th and the 12th; ``dfos project create`` and ``dfos project run --jobs-only`` run as an operator runs
them (subprocesses), then :func:`run_project` (in-process, to watch its progress) builds the 13th's calibrations
the science needs, CALIB and SCIENCE ABs in one cascade, downloading every raw file one at a time
(FULL_RAWDOWNLOAD, MAX_JOBS 1).  The monitor (``dfos monitor serve``) shows the project with both dates, their
states and products, over HTTP and in Chromium, with the jump menu to the UVES workspace.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from monitor_helpers import launch_chromium, monitor_server

from batch import configure
from dfos.ab.lists import read_ab_list
from dfos.ab.store import read_ab_file
from dfos.cascade.events import CascadeProgress
from dfos.keys import Mode
from dfos.monitor.projects import CREATED, projects_page
from dfos.steps.demo_data import generate_night
from dfos.steps.opshub import ProjectRun, create_project, init_opshub, project_abs, raw_wanted, run_project
from dfos.steps.static_calib import install_static
from dfos.workspace import Workspace, open_workspace

pytestmark = pytest.mark.esorex

NOW = "2013-03-02T14:00:00"
D11, D12, D13 = date(2013, 2, 11), date(2013, 2, 12), date(2013, 2, 13)
NIGHTS = {D11: ("IM_JITTER_OBJ",), D12: ("IM_JITTER_OBJ",), D13: ("CAL_DARK", "CAL_FLAT_TW")}
PROJECT = "NGC_followup"
PASSWORD = "opshub-pw"


def _env(**more: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("DFOS_")}, **more}


def _dfos(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dfos.cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=1200, check=False)


@dataclass
class Seen:
    """What the project run told: the download progress ``(done, total)`` and the most ABs running at once."""

    dots: list[tuple[int, int]] = field(default_factory=list)
    running: int = 0
    said: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    """The states of the project's dates after ``--jobs-only``."""

    order: list[str] = field(default_factory=list)
    """``dot`` and ``cascade``, as they were told."""

    def dot(self, done: int, total: int) -> None:
        self.dots.append((done, total))
        self.order.append("dot")

    def progress(self, dag: str, progress: CascadeProgress) -> None:
        self.running = max(self.running, progress.counts.get("running", 0))
        self.order.append("cascade")


def _hub(root: Path, full: bool) -> Workspace:
    """An OPSHUB root serving NACO and UVES whose NACO archive holds :data:`NIGHTS`."""
    from dfos.instruments.naco import Naco

    init_opshub(root, {}, ["NACO", "UVES"])
    configure(root / "NACO", FULL_RAWDOWNLOAD=full, SLOTS=2)
    ws = open_workspace(root / "NACO", env={"DFOS_NOW": NOW})
    for seed, (night, only) in enumerate(NIGHTS.items(), start=3):
        generate_night(ws, night, small=True, seed=seed, only=only)
    install_static(ws, Naco())
    return ws


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Workspace, Seen, ProjectRun]:
    root = tmp_path_factory.mktemp("opshub") / "hub"
    ws = _hub(root, full=True)
    env = _env(DFOS_NOW=NOW)
    made = _dfos("--root", str(root), "project", "create", PROJECT, "--instrument", "NACO", "--dates",
                 f"{D11},{D12}", env=env)
    assert made.returncode == 0, made.stderr
    jobs = _dfos("--root", str(root), "project", "run", PROJECT, "--jobs-only", env=env)  # as an operator runs it
    assert jobs.returncode == 0, jobs.stderr
    seen = Seen(created=[row.state for view in projects_page(ws).projects for row in view.rows])
    result = run_project(ws, PROJECT, seen.said.append, seen.dot, seen.progress)
    return root, ws, seen, result


def test_the_project_runs_its_science_with_calibrations_of_another_date(
        hub: tuple[Path, Workspace, Seen, ProjectRun]) -> None:
    _, ws, seen, result = hub
    assert result.ok, seen.said
    assert seen.created == [CREATED] * 3  # after --jobs-only: the 11th, 12th (science) and 13th (calibrations)
    recorded = project_abs(ws, PROJECT)
    calib = [(day, ab) for mode, day, ab in recorded if mode is Mode.CALIB]
    science = [(day, ab) for mode, day, ab in recorded if mode is Mode.SCIENCE]
    # the science of both dates; the calibrations come from the 13th, a date the project does not name
    assert {day for day, _ in science} == {D11.isoformat(), D12.isoformat()}
    assert calib and {day for day, _ in calib} == {D13.isoformat()}
    # one cascade ran them all, and every one succeeded (tagged DONE in its date's AB list)
    for mode, day in ((Mode.CALIB, D13), (Mode.SCIENCE, D11), (Mode.SCIENCE, D12)):
        entries = {e.name: e for e in read_ab_list(ws.ab_list(mode, day))}
        mine = [ab for d, ab in (calib if mode is Mode.CALIB else science) if d == day.isoformat()]
        assert mine and all(entries[ab].done for ab in mine), (mode, day)
    assert (ws.job_dir / f"execAB_PROJECT_{PROJECT}").is_file()
    # the jitter ABs read the 13th's flat, made in the same cascade (a virtual calibration)
    for _, name in science:
        ab = read_ab_file(ws.ab_dir / name)
        if ab.recipe == "naco_img_jitter":
            assert any(cal.virtual and "2013-02-13" in cal.sof_path for cal in ab.mcalib), name
            assert all((ws.expand(ab.prod_path) / p.name).is_file() for p in ab.products), name
    # every raw file, one at a time, each told; all of them before the cascade (FULL_RAWDOWNLOAD)
    wanted = {Path(r.ref).name for _, name in calib + science for r in read_ab_file(ws.ab_dir / name).rawfiles}
    assert seen.dots == [(n, len(wanted)) for n in range(1, len(wanted) + 1)]
    assert seen.order.index("cascade") > max(i for i, what in enumerate(seen.order) if what == "dot")
    assert result.downloaded == len(wanted)
    for day in (D11, D12, D13):
        assert any((ws.raw_dir / day.isoformat()).glob("*.fits")), day
    # MAX_JOBS 1 (SLOTS 2 would allow two): never two ABs running at once
    assert seen.running == 1
    # a second run finds everything done and runs nothing
    again = run_project(ws, PROJECT, seen.said.append)
    assert again.counts == {} and again.downloaded == 0


def test_without_full_rawdownload_the_cascade_starts_while_files_arrive(tmp_path: Path) -> None:
    """FULL_RAWDOWNLOAD no: the files still come one at a time, each told, beside the cascade; an AB whose frames
    are not there yet fetches them itself; the project ends as with every file first."""
    ws = _hub(tmp_path / "hub", full=False)
    create_project(ws, "single", "NACO", [D12])
    seen = Seen()
    result = run_project(ws, "single", seen.said.append, seen.dot, seen.progress)
    assert result.ok, seen.said
    assert result.downloaded and seen.dots[-1] == (result.downloaded, result.downloaded)
    assert {d for _, d, _ in project_abs(ws, "single")} == {D12.isoformat(), D13.isoformat()}
    assert not raw_wanted(ws, [read_ab_file(ws.ab_dir / ab) for _, _, ab in project_abs(ws, "single")])


@pytest.fixture(scope="module")
def server(hub: tuple[Path, Workspace, Seen, ProjectRun]) -> Iterator[str]:
    root, _, _, _ = hub
    with monitor_server(root / "NACO", _env(DFOS_MONITOR_PASSWORD=PASSWORD, DFOS_MONITOR_PUBLIC="yes")) as port:
        yield f"http://127.0.0.1:{port}"


def test_the_monitor_groups_by_project_with_both_dates(hub: tuple[Path, Workspace, Seen, ProjectRun],
                                                       server: str) -> None:
    import urllib.error
    import urllib.request

    root = hub[0]
    with urllib.request.urlopen(server + "/", timeout=30) as response:
        text = response.read().decode()
    assert f'data-project="{PROJECT}"' in text
    for day in (D11, D12, D13):
        assert f'data-date="{day}"' in text
    assert "executing or executed" in text
    assert "XDM" not in text and "<button" not in text.split("<main>", 1)[1]  # passive, no disk monitor
    assert 'href="/opshub/UVES"' in text  # the jump menu
    # another instrument's projects: only as public as that workspace's own monitor
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server + "/opshub/UVES", timeout=30)
    assert refused.value.code == 403
    refused.value.close()
    configure(root / "UVES", MONITOR_PUBLIC=True)
    with urllib.request.urlopen(server + "/opshub/UVES", timeout=30) as response:
        other = response.read().decode()
    assert "OPSHUB projects: UVES" in other and "no project yet" in other
    assert 'href="/"' in other  # back to NACO, the monitor's own


def test_the_project_page_in_chromium(hub: tuple[Path, Workspace, Seen, ProjectRun],
                                      server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    _, ws, _, _ = hub
    jitter = [read_ab_file(ws.ab_dir / ab) for mode, _, ab in project_abs(ws, PROJECT) if mode is Mode.SCIENCE]
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        try:
            page.goto(server + "/")
            project = page.locator(f'[data-project="{PROJECT}"]')
            expect(project.locator("h2")).to_contain_text(PROJECT)
            for day in (D11, D12):
                row = project.locator(f'tr[data-date="{day}"]')
                expect(row.locator('[data-field="science"]')).to_contain_text("SCIENCE")
                expect(row.locator('[data-field="state"]')).to_have_text("executing or executed")
                products = [p.name for ab in jitter if ab.batch_id == f"SCIENCE_{day}" for p in ab.products]
                assert products
                for name in products:
                    expect(row.locator('[data-field="products"]')).to_contain_text(name)
            expect(project.locator(f'tr[data-date="{D13}"] [data-field="calib"]')).to_contain_text("CALIB")
            expect(page.locator("#jump option")).to_have_count(2)
            # the jump menu, logged in (the UVES workspace's monitor need not be public)
            page.goto(server + "/login?next=/")
            page.fill("#password", PASSWORD)
            page.click("#login-button")
            page.select_option("#jump", "/opshub/UVES")
            expect(page.locator("h1")).to_have_text("OPSHUB projects: UVES")
            expect(page.locator("#no-projects")).to_be_visible()
        finally:
            browser.close()
