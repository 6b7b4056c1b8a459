"""The NACO night, calibrations then science, on this machine and on a real Slurm cluster: the same
products, QC and run records (the issue's acceptance: science runs on a batch engine as it runs here)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from batch import batch_workspace, summary
from dfos.instruments.naco import Naco
from dfos.keys import BatchId, Mode
from dfos.steps.cascade import exec_cascade
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.headers import extract_headers
from dfos.steps.static_calib import install_static
from dfos.workspace import Workspace, init_workspace

NIGHT = date(2013, 2, 12)
MODES = (Mode.CALIB, Mode.SCIENCE)

pytestmark = pytest.mark.esorex


@pytest.fixture(scope="module")
def naco_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small synthetic NACO night's archive, made once."""
    from dfos.steps.demo_data import generate_night

    ws, _ = init_workspace(tmp_path_factory.mktemp("naco-night") / "ws", env={}, instrument="NACO")
    generate_night(ws, NIGHT, small=True, seed=5)
    return ws.archive_dir


def _run_night(backend: str, base: Path, archive: Path) -> Workspace:
    """Both modes of the NACO night, associated, queued and run on ``backend``: CALIB, then SCIENCE."""
    ws = batch_workspace(backend, base, instrument="NACO", NOW="2013-02-13T14:00:00")
    for source in archive.rglob("*.fits"):
        target = ws.archive_dir / source.relative_to(archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
    extract_headers(ws, NIGHT)
    install_static(ws, Naco())
    for mode in MODES:
        create_abs(ws, NIGHT, mode)
        create_job(ws, NIGHT, mode)
        dag = BatchId.of(mode, NIGHT).render()
        assert exec_cascade(ws, dag, ws.job_dir / f"execAB_{dag}").ok, f"{dag} on {backend}"
    return ws


@pytest.mark.xdist_group("slurm")
def test_the_naco_night_on_slurm_gives_the_same_products_and_qc(
        tmp_path_factory: pytest.TempPathFactory, naco_archive: Path, slurm_env: dict[str, str]) -> None:
    here = _run_night("local", tmp_path_factory.mktemp("local"), naco_archive)
    there = _run_night("slurm", tmp_path_factory.mktemp("slurm"), naco_archive)
    for mode in MODES:
        dag = BatchId.of(mode, NIGHT).render()
        local, slurm = summary(here, dag), summary(there, dag)
        assert slurm == local, dag
        states = local["states"]
        assert isinstance(states, dict)
        succeeded = {ab for ab, (state, _, _) in states.items() if state == "succeeded"}
        assert len(succeeded) == (5 if mode is Mode.CALIB else 3)  # every AB of both modes
    science = summary(there, BatchId.of(Mode.SCIENCE, NIGHT).render())["products"]
    assert isinstance(science, dict)
    catgs = {catg for _, found in science.values() for _, catg, _, _ in found}
    assert catgs == {"COADDED_IMG"}
