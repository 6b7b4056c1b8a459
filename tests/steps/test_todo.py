"""ToDo lists that cannot hurt, on the real UVES night with real esorex: a block that ran is marked and not run
again, create-job -r replaces its block, a stale block for a moved date changes nothing and says why, finish
removes the date's job files, reset sends a mode back to createAB."""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import date
from pathlib import Path

import pytest

from dfos.cli.main import main
from dfos.errors import StateError
from dfos.jobs.model import parse_blocks
from dfos.jobs.todo import pending_commands
from dfos.status.machine import StepState, evaluate_date, flags_by_key
from dfos.steps.certify import certify, parse_decisions
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.finish import finish
from dfos.steps.headers import extract_headers
from dfos.steps.ingest import ingest
from dfos.steps.move import move
from dfos.steps.status import append_flag
from dfos.steps.todo import reset_date
from dfos.workspace import Workspace, open_workspace
from nights import DAG, FLAT, NIGHT, ORDERPOS

pytestmark = pytest.mark.esorex
OTHER = date(2013, 2, 13)


def _tree(*roots: Path) -> dict[str, str]:
    """Every file under ``roots`` with its checksum."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for root in roots if root.is_dir()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _launch(ws: Workspace, name: str = "JOBS_NIGHT") -> subprocess.CompletedProcess[str]:
    """Run a job file as a person would: the file itself, no DFOS_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFOS_")}
    env["DFOS_NOW"] = "2013-02-13T14:00:00"
    return subprocess.run([str(ws.job_dir / name)], env=env, capture_output=True, text=True, timeout=600)


def _other_block(ws: Workspace) -> str:
    """A block of another date in JOBS_NIGHT (what finish must leave alone)."""
    return (f"# pipeline jobs for CALIB, {OTHER} (written by hand)\n"
            f'"$DFOS" check-job -m CALIB -d {OTHER}\n'
            f'"$DFOS" exec-cascade --dag-id CALIB_{OTHER} --jobs "$DFO_JOB_DIR"/execAB_CALIB_{OTHER} --wait\n'
            f'"$DFOS" exec-cascade --dag-id QC_CALIB_{OTHER} --jobs "$DFO_JOB_DIR"/execQC_CALIB_{OTHER} --wait\n'
            f'"$DFOS" end-job -m CALIB -d {OTHER}\n')


def test_a_stale_block_never_rolls_a_moved_date_back(uves_night: Workspace) -> None:
    ws = open_workspace(uves_night.root, env={"DFOS_NOW": "2013-02-13T14:00:00"})
    extract_headers(ws, NIGHT)
    create_abs(ws, NIGHT, "CALIB")
    create_job(ws, NIGHT, "CALIB")
    job = ws.job_dir / "JOBS_NIGHT"
    stale = job.read_text()

    ran = _launch(ws)  # the block processes the night with esorex, writes cal_QC, and is marked executed
    assert ran.returncode == 0, ran.stderr
    assert ws.status_log.read()[-1].flag == "cal_QC"
    (block,) = parse_blocks(job.read_text())
    assert block.executed is not None and block.executed.endswith("exit 0") and " by " in block.executed
    assert pending_commands(job.read_text()) == 0  # the monitor shows it as not pending
    status = (ws.mon_dir / "DFO_STATUS").read_bytes()
    again = _launch(ws)  # launched again: the block is commented out, nothing runs
    assert again.returncode == 0 and "exec-cascade" not in again.stdout + again.stderr
    assert (ws.mon_dir / "DFO_STATUS").read_bytes() == status

    # create-job -r writes the job anew (DONE ABs too) and replaces the block: one block, live again
    assert main(["--root", str(ws.root), "create-job", "-r", "-d", "2013-02-12"]) == 0
    blocks = parse_blocks(job.read_text())
    assert len(blocks) == 1 and blocks[0].executed is None
    assert len((ws.job_dir / f"execAB_{DAG}").read_text().splitlines()) > 5

    certify(ws, "CALIB", NIGHT, accept_green=True, user="qc")
    certify(ws, "CALIB", NIGHT, parse_decisions(f"{ORDERPOS} accept\n{FLAT} accept\n"), user="qc")
    move(ws, "CALIB", NIGHT)
    ingest(ws, "CALIB", NIGHT)
    job.write_text(stale + "\n" + _other_block(ws))  # the block as createJob wrote it, never run, and another date's
    status = (ws.mon_dir / "DFO_STATUS").read_bytes()
    before = _tree(ws.ab_dir, ws.path("DFS_PRODUCT"), ws.cal_dir, ws.mon_dir)

    refused = _launch(ws)
    assert refused.returncode != 0
    assert "CALIB 2013-02-12 is already moved (cal_Updated in DFO_STATUS)" in refused.stderr
    assert "nothing was run" in refused.stderr and "Traceback" not in refused.stderr
    assert "exec-cascade" not in refused.stdout  # refused before anything ran
    assert (ws.mon_dir / "DFO_STATUS").read_bytes() == status
    assert _tree(ws.ab_dir, ws.path("DFS_PRODUCT"), ws.cal_dir, ws.mon_dir) == before
    view = evaluate_date(NIGHT, flags_by_key(ws.status_log.read())["2013-02-12"], False)
    assert StepState.OFFER not in (view.create_ab, view.abs, view.certify_move)  # nothing offered again

    # a block written by an older dfos (no check-job, 'flag cal_QC' at its end): its cascade and its flag refuse
    old = stale.replace('"$DFOS" check-job -m CALIB -d 2013-02-12\n', "").replace(
        '"$DFOS" end-job -m CALIB -d 2013-02-12', '"$DFOS" flag cal_QC -d 2013-02-12')
    old = "".join(line for line in old.splitlines(keepends=True) if "Down_" not in line)  # its raws are here
    assert "check-job" not in old and "flag cal_QC" in old
    job.write_text(old)
    refused = _launch(ws)
    assert refused.returncode != 0 and "already moved" in refused.stderr
    assert (ws.mon_dir / "DFO_STATUS").read_bytes() == status
    assert _tree(ws.ab_dir, ws.path("DFS_PRODUCT"), ws.cal_dir, ws.mon_dir) == before
    job.write_text(stale + "\n" + _other_block(ws))

    # the other ways in refuse too: create-job, the date's cascade, a processing flag
    for argv in (["create-job", "-d", "2013-02-12"],
                 ["exec-cascade", "--dag-id", DAG, "--jobs", str(ws.job_dir / f"execAB_{DAG}")],
                 ["flag", "cal_QC", "-d", "2013-02-12"], ["end-job", "-d", "2013-02-12"]):
        assert main(["--root", str(ws.root), *argv]) == 3, argv
    assert (ws.mon_dir / "DFO_STATUS").read_bytes() == status

    # finish removes the date's job files and its block; another date's block stays
    (ws.job_dir / f"execAB_{DAG}_sub").write_text("# a subcascade\n")
    (ws.job_dir / "JOBS_AUTO").write_text(stale.replace("JOBS_NIGHT", "JOBS_AUTO"))
    result = finish(ws, NIGHT)
    left = sorted(p.name for p in ws.job_dir.iterdir() if "2013-02-12" in p.name and not p.name.endswith(".lock"))
    assert left == [], left
    assert f"execAB_{DAG}" in result.job_files and f"execQC_{DAG}" in result.job_files
    assert f"execAB_{DAG}.dag" in result.job_files and f"execAB_{DAG}_sub" in result.job_files
    assert "JOBS_NIGHT: the CALIB block of 2013-02-12" in result.job_files
    assert "JOBS_AUTO: the CALIB block of 2013-02-12" in result.job_files
    assert [b.date for b in parse_blocks(job.read_text())] == [OTHER.isoformat()]
    assert "pipeline jobs for" not in (ws.job_dir / "JOBS_AUTO").read_text()
    assert (ws.job_dir / "dfos_ab.sub").is_file()  # shared by every date's DAG: kept


def test_reset_sends_a_mode_back_to_create_ab(uves_night: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = open_workspace(uves_night.root, env={"DFOS_NOW": "2013-02-13T14:00:00"})
    extract_headers(ws, NIGHT)
    append_flag(ws, "fits_Requested", NIGHT)
    append_flag(ws, "raw_Complete", NIGHT)
    created = create_abs(ws, NIGHT, "CALIB")
    create_job(ws, NIGHT, "CALIB")
    product = ws.path("DFS_PRODUCT") / "CALIB" / "2013-02-12" / "stray.fits"  # not an AB's product: kept
    product.parent.mkdir(parents=True, exist_ok=True)
    product.write_bytes(b"x")
    made = next(ab for ab in created.abs if ab.products)  # a product of an AB, still in $DFS_PRODUCT: removed
    made_path = ws.expand(made.prod_path) / made.products[0].name
    made_path.parent.mkdir(parents=True, exist_ok=True)
    made_path.write_bytes(b"x")
    append_flag(ws, "cal_QC", NIGHT)
    monkeypatch.setenv("DFOS_ROOT", str(ws.root))
    assert main(["reset", "-m", "CALIB", "-d", "2013-02-12"]) == 2  # not a terminal (pytest's stdin), no --yes: refused
    assert all((ws.ab_dir / ab.name).is_file() for ab in created.abs)

    assert main(["reset", "-m", "CALIB", "-d", "2013-02-12", "--yes"]) == 0
    assert not any((ws.ab_dir / ab.name).exists() for ab in created.abs)
    assert not ws.ab_list("CALIB", NIGHT).exists()
    assert not any("2013-02-12" in p.name and not p.name.endswith(".lock") for p in ws.job_dir.iterdir())
    assert "pipeline jobs for" not in (ws.job_dir / "JOBS_NIGHT").read_text()
    assert product.is_file() and not made_path.exists()
    assert ws.status_log.read()[-1].flag == "cal_Reset"
    assert "cal_Reset" in (ws.mon_dir / "HISTORY").read_text()
    view = evaluate_date(NIGHT, flags_by_key(ws.status_log.read())["2013-02-12"], False)
    assert view.create_ab is StepState.OFFER and view.certify_move is StepState.WAIT
    assert view.progress("CALIB") is None

    create_abs(ws, NIGHT, "CALIB")  # runs again from the start
    create_job(ws, NIGHT, "CALIB")
    append_flag(ws, "cal_Updated", NIGHT)
    with pytest.raises(StateError, match="add --force"):
        reset_date(ws, "CALIB", NIGHT)
    assert reset_date(ws, "CALIB", NIGHT, force=True).flag == "cal_Reset"
