"""Shared fixtures: workspaces built in temporary directories, never hidden data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dfos.workspace import Workspace, init_workspace, open_workspace


@pytest.fixture(autouse=True)
def _clean_dfos_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No DFOS_* variable of the developer's shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("DFOS_"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture(scope="session")
def postgres_base() -> Iterator[str]:
    """A private PostgreSQL server for this test session (see tests/postgres.py)."""
    from postgres import server

    with server() as base:
        yield base


@pytest.fixture(scope="session")
def slurm_env() -> Iterator[dict[str, str]]:
    """A private single-node Slurm cluster for this test session (see tests/engines/slurm_cluster.py);
    its SLURM_CONF is in this process's environment, so dfos' sbatch and squeue reach it."""
    import os

    from engines.slurm_cluster import cluster

    with cluster() as env:
        saved = os.environ.get("SLURM_CONF")
        os.environ.update(env)
        try:
            yield env
        finally:
            if saved is None:
                os.environ.pop("SLURM_CONF", None)
            else:
                os.environ["SLURM_CONF"] = saved


@pytest.fixture(scope="session")
def condor_pool() -> Iterator[None]:
    """The personal HTCondor pool (set up once, started for this session; tests/engines/condor_pool.py)."""
    from engines.condor_pool import pool

    with pool():
        yield


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The database suite runs twice: "" (the workspace's own SQLite file) and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return
    from postgres import database

    with database(request.getfixturevalue("postgres_base")) as url:
        yield url


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh UVES dfos_ops workspace."""
    ws, _ = init_workspace(tmp_path / "ws", env={}, instrument="UVES")
    return ws


def reopen(ws: Workspace, **env: str) -> Workspace:
    """The same workspace opened again with some DFOS_* variables set."""
    return open_workspace(ws.root, env=env)


@pytest.fixture(scope="session")
def uves_small_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive directory holding one small synthetic UVES night (2013-02-12), made once."""
    from datetime import date

    from dfos.steps.demo_data import generate_night

    ws, _ = init_workspace(tmp_path_factory.mktemp("uves-night") / "ws", env={}, instrument="UVES")
    generate_night(ws, date(2013, 2, 12), small=True, seed=7)
    return ws.archive_dir


@pytest.fixture
def uves_night(workspace: Workspace, uves_small_archive: Path) -> Workspace:
    """A fresh workspace whose archive holds the small UVES night (files hard-linked)."""
    import os

    for source in uves_small_archive.rglob("*.fits"):
        target = workspace.archive_dir / source.relative_to(uves_small_archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
    return workspace


@pytest.fixture
def sleepy(workspace: Workspace) -> Workspace:
    """The workspace with a sleeping stand-in as its esorex (recipe ``sleepX`` sleeps X seconds).

    The stand-in is ``benchmarks/sleep_recipe.sh``; cascades of it need no esorex.
    """
    return open_workspace(workspace.root, env={"DFOS_ESOREX": str(Path(__file__).resolve().parents[1] / "benchmarks"
                                                                 / "sleep_recipe.sh")})


@pytest.fixture(scope="module")
def naco_night(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The small NACO night processed end to end with real esorex (CALIB, then SCIENCE; QC inside each AB),
    built once per test module (tests/naco_night.py: its date and AB names)."""
    from naco_night import run_naco_night

    return run_naco_night(tmp_path_factory.mktemp("naco-night") / "ws")
