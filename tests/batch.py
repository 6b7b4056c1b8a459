"""Workspaces for the executors: the same synthetic cascade on this machine, on Slurm and on HTCondor.

A batch job opens the workspace itself, so everything it must see is in ``dfos.toml`` (not in a
test's environment dictionary).  A workspace for the HTCondor pool lives where the pool's job
user can reach it (``engines.condor_pool.WORK``) and its batch directory belongs to that user.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from astropy.io import fits
from sqlalchemy import insert, select

from dfos.ab.lists import read_ab_list
from dfos.ab.store import read_ab
from dfos.cascade.run import cascade_state
from dfos.db import ab_runs, engine_for_url, qc1_params
from dfos.workspace import Workspace, init_workspace, open_workspace

SLEEP_RECIPE = Path(__file__).resolve().parents[1] / "benchmarks" / "sleep_recipe.sh"


def configure(root: Path, **keys: object) -> None:
    """Set keys in a workspace's dfos.toml (each key's commented default line becomes its value)."""
    path = root / "dfos.toml"
    text = path.read_text(encoding="utf-8")
    for key, value in keys.items():
        literal = json.dumps(value) if not isinstance(value, bool) else str(value).lower()
        text, found = re.subn(rf"^# {key} = .*$", f"{key} = {literal}", text, count=1, flags=re.MULTILINE)
        assert found, f"{key} is not a key of dfos.toml"
    path.write_text(text, encoding="utf-8")


def batch_workspace(backend: str, base: Path, instrument: str = "UVES", **keys: object) -> Workspace:
    """A fresh workspace (UVES unless said) whose cascades run on ``backend`` (local, slurm, condor)."""
    if backend == "condor":
        from engines import condor_pool

        base = Path(tempfile.mkdtemp(prefix="ws-", dir=condor_pool.WORK))
        base.chmod(0o755)
        keys = {"CONDOR_COMMAND": condor_pool.condor_command(), "BATCH_DFOS": condor_pool.batch_dfos(), **keys}
    ws, _ = init_workspace(base / "ws", env={}, instrument=instrument)
    configure(ws.root, EXECUTOR=backend, BATCH_POLL=0.5, **keys)
    if backend == "condor":
        uid, gid = condor_pool.user_ids()
        (ws.job_dir / "batch").mkdir()
        os.chown(ws.job_dir / "batch", uid, gid)
    return open_workspace(ws.root, env={})


def remove_workspace(ws: Workspace) -> None:
    if "dfos-condor-work" in str(ws.root):
        shutil.rmtree(ws.root.parent, ignore_errors=True)


def ran_before(ws: Workspace, recipe: str, seconds: float) -> None:
    """An earlier successful run of ``recipe`` (of another batch) in the workspace's run records: the cascade
    knows it short, and clusters its ABs (BATCH_CLUSTER_SECONDS)."""
    with engine_for_url(ws.db_url).begin() as db:
        db.execute(insert(ab_runs).values(ab="EARLIER.ab", batch_id="CALIB_2013-02-11", recipe=recipe,
                                          started="2013-02-12T10:00:00", ended="2013-02-12T10:00:01",
                                          status="SUCCESSFUL", wall_s=seconds))


def runs(ws: Workspace) -> list[dict[str, object]]:
    with engine_for_url(ws.db_url).begin() as db:
        return [dict(r) for r in db.execute(select(ab_runs)).mappings()]


def summary(ws: Workspace, dag_id: str) -> dict[str, object]:
    """What must not depend on where a cascade ran: states, run records, products, QC1 values, DONE flags."""
    states = {str(r["ab"]): (r["state"], r["attempts"], r["exit_code"]) for r in cascade_state(ws, dag_id)}
    records = sorted((str(r["ab"]), r["dag_id"], r["attempt"], r["status"], r["failure"], r["exit_code"], r["recipe"])
                     for r in runs(ws))
    products = {}
    for name in states:
        ab = read_ab(ws.ab_dir, name)
        found = []
        for product in ab.products:
            path = ws.expand(ab.prod_path) / product.name
            if path.exists():
                with fits.open(path) as hdus:
                    data = hdus[0].data
                    found.append((product.name, hdus[0].header.get("HIERARCH ESO PRO CATG"),
                                  None if data is None else data.shape,
                                  None if data is None else round(float(data.astype(float).mean()), 4)))
        products[name] = (ab.process_status.value, found)
    with engine_for_url(ws.db_url).begin() as db:
        qc = sorted((r.ab, r.product, r.name, None if r.value is None else float(f"{r.value:.6g}"))
                    for r in db.execute(select(qc1_params)))
    day = dag_id.split("_", 1)[1]
    done = sorted(e.name for e in read_ab_list(ws.mon_dir / f"AB_list_{dag_id.split('_')[0]}_{day}") if e.done)
    return {"states": states, "records": records, "products": products, "qc1": qc, "done": done}
