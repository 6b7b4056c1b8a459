"""The chain between modes on two NACO nights with the real recipes.

Night 1 (2013-02-11) is calibrated, certified and moved: its Ks flat is in the calibration memory.
Night 2 (2013-02-12) arrives out of order: its science first (it takes night 1's certified flat), then
its twilight flats (a better calibration: the science is superseded and made again with the night's own
flat), then a QC scientist rejects the night's Ks flat (the science that used it waits, is re-associated
with night 1's flat, is made again, and ``dfos explain`` says why).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import pytest

from dfos.ab.format import render
from dfos.ab.model import ProcessStatus
from dfos.ab.store import read_ab
from dfos.cascade.run import cascade_state
from dfos.instruments.naco import Naco
from dfos.keys import BatchId, Mode, Stage, mode_flag
from dfos.steps.cascade import exec_cascade
from dfos.steps.certify import ACCEPT, REJECT, Decision, certify
from dfos.steps.create_ab import create_abs, explain_text, supersession_log
from dfos.steps.create_job import create_job
from dfos.steps.demo_data import generate_night
from dfos.steps.headers import extract_headers
from dfos.steps.move import move
from dfos.steps.static_calib import install_static
from dfos.workspace import Workspace, init_workspace, open_workspace

pytestmark = pytest.mark.esorex

FIRST, SECOND = date(2013, 2, 11), date(2013, 2, 12)
KS_FLAT = "NACO.2013-02-12T22:40:00.112_tpl.ab"
KS_SCIENCE = ("NACO.2013-02-13T01:30:00.512_tpl.ab", "NACO.2013-02-13T03:30:00.712_tpl.ab")
H_SCIENCE = "NACO.2013-02-13T02:30:00.612_tpl.ab"
OLD_FLAT = "$DFO_CAL_DIR/2013-02-11/NA_MFLT_130211A_Ks.fits"


def _run(ws: Workspace, mode: Mode, day: date) -> dict[str, int]:
    create_abs(ws, day, mode)
    create_job(ws, day, mode)
    dag = BatchId.of(mode, day).render()
    counts = exec_cascade(ws, dag, ws.job_dir / f"execAB_{dag}").counts
    ws.status_log.append(mode_flag(mode, Stage.QC), day.isoformat(), __import__("datetime").datetime(2013, 2, 14))
    return counts


def _flat(ws: Workspace, name: str) -> str:
    (flat,) = [c.sof_path for c in read_ab(ws.ab_dir, name).mcalib if c.tag == "MASTER_IMG_FLAT"]
    return flat


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root, _ = init_workspace(tmp_path_factory.mktemp("chain") / "ws", env={}, instrument="NACO")
    ws = open_workspace(root.root, env={"DFOS_NOW": "2013-02-14T14:00:00"})
    install_static(ws, Naco())
    generate_night(ws, FIRST, small=True, seed=11)
    extract_headers(ws, FIRST)
    assert _run(ws, Mode.CALIB, FIRST)["succeeded"] == 5
    rows = create_abs(ws, FIRST, Mode.CALIB).abs
    certify(ws, Mode.CALIB, FIRST, [Decision(ab.name, ACCEPT, "fine") for ab in rows], user="anna")
    move(ws, Mode.CALIB, FIRST)
    yield ws


def test_the_chain_between_modes(nights: Workspace) -> None:
    ws = nights
    # 1. the science arrives before the night's flats: it takes the certified flat of the night before
    generate_night(ws, SECOND, small=True, seed=12, only={"IM_JITTER_OBJ"})
    extract_headers(ws, SECOND)
    assert _run(ws, Mode.SCIENCE, SECOND)["succeeded"] == 3
    assert _flat(ws, KS_SCIENCE[0]) == OLD_FLAT

    # 2. the flats arrive: a better calibration before certification supersedes the science made with the old one
    generate_night(ws, SECOND, small=True, seed=12, only={"IM_JITTER_OBJ", "CAL_FLAT_TW", "CAL_DARK",
                                                          "CAL_STD_JITTER"})
    extract_headers(ws, SECOND)
    assert _run(ws, Mode.CALIB, SECOND)["succeeded"] == 5
    again = create_abs(ws, SECOND, Mode.SCIENCE)
    assert set(again.superseded) == {*KS_SCIENCE, H_SCIENCE}
    assert all(_flat(ws, name).startswith("$DFS_PRODUCT/CAL_FLAT_TW/2013-02-12/") for name in KS_SCIENCE)
    log = supersession_log(ws, BatchId.of(Mode.SCIENCE, SECOND).render()).read_text()
    assert "(a better calibration arrived)" in log
    aside = {name: ws.path("DFO_LOG_DIR") / "2013-02-12" / "superseded" / f"{name.removesuffix('.ab')}.1"
             / f"r.{name.removesuffix('.ab')}_0000.fits" for name in KS_SCIENCE}
    assert all(path.is_file() for path in aside.values())  # the first science, kept aside

    # 3. before the science runs again, the night's Ks flat is rejected: the Ks science waits (blocked, saying
    #    why and what to do), the H science runs
    certify(ws, Mode.CALIB, SECOND, [Decision(KS_FLAT, REJECT, "flat has a ghost")], user="anna")
    assert not list((ws.vcal_dir / "2013-02-12").glob("r.NACO.2013-02-12T22:40:00.112_tpl_*.hdr"))
    dag = BatchId.of(Mode.SCIENCE, SECOND).render()
    create_job(ws, SECOND, Mode.SCIENCE)
    assert exec_cascade(ws, dag, ws.job_dir / f"execAB_{dag}").counts["succeeded"] == 1
    states = {str(row["ab"]): row for row in cascade_state(ws, dag)}
    for name in KS_SCIENCE:
        assert states[name]["state"] == "blocked"  # not run: its AB is still as createAB wrote it
        assert read_ab(ws.ab_dir, name).process_status is ProcessStatus.CREATED
        assert f"its calibration {KS_FLAT} was rejected" in str(states[name]["reason"])
        assert "dfos create-ab -m SCIENCE -d 2013-02-12" in str(states[name]["reason"])
    assert states[H_SCIENCE]["state"] == "succeeded"

    # 4. createAB re-associates the Ks science with the previous certified flat (the file), explain says why,
    #    and the products are made again
    result = create_abs(ws, SECOND, Mode.SCIENCE)
    assert set(result.written) >= set(KS_SCIENCE)
    for name in KS_SCIENCE:
        assert _flat(ws, name) == OLD_FLAT
        assert read_ab(ws.ab_dir, name).process_status is ProcessStatus.CREATED
        reason = explain_text(ws, name)
        assert f"made by {KS_FLAT} was rejected (by anna at " in reason and "flat has a ghost" in reason
        assert f"now {OLD_FLAT}" in reason
    assert _flat(ws, H_SCIENCE).startswith("$DFS_PRODUCT/CAL_FLAT_TW/2013-02-12/")  # its flat stands
    assert _run(ws, Mode.SCIENCE, SECOND)["succeeded"] == 2  # only the two re-associated ABs run
    for name in KS_SCIENCE:
        made = ws.expand(read_ab(ws.ab_dir, name).prod_path) / f"r.{name.removesuffix('.ab')}_0000.fits"
        assert made.is_file() and made.read_bytes() != aside[name].read_bytes()
    # the reason stays in explain after further createAB runs (nothing changes any more)
    assert create_abs(ws, SECOND, Mode.SCIENCE).superseded == ()
    assert "was rejected (by anna" in explain_text(ws, KS_SCIENCE[0])

    # 5. the H flat is made again after the H science ran (its CALIB AB runs anew): the science made with the
    #    earlier flat is superseded too, though its association is unchanged.  Run again as it was, the flat would
    #    take its own products (the same content key: dfos.steps.reuse) and nothing would change; the operator
    #    gives it a parameter (an edit of its AB file), so its recipe runs and makes other bytes
    h_flat = "NACO.2013-02-12T22:52:00.212_tpl.ab"
    (ws.ab_dir / h_flat).write_text(render(replace(read_ab(ws.ab_dir, h_flat), params=("--prop=TRUE",))))
    create_job(ws, SECOND, Mode.CALIB, subcascade=h_flat)
    sub = BatchId.of(Mode.CALIB, SECOND, sub=True).render()
    assert exec_cascade(ws, sub, ws.job_dir / f"execAB_{sub}").counts["succeeded"] == 1
    assert create_abs(ws, SECOND, Mode.SCIENCE).superseded == (H_SCIENCE,)
    last = supersession_log(ws, BatchId.of(Mode.SCIENCE, SECOND).render()).read_text().splitlines()[-1]
    assert H_SCIENCE in last and "(an AB it depends on was superseded)" in last

    # nothing of the science ever entered the calibration memory
    names = {p.name for p in (ws.cal_dir / "MCAL").rglob("*.hdr")} | {p.name for p in ws.vcal_dir.rglob("*.hdr")}
    assert any("2013-02-12T22" in name for name in names)  # the night's calibrations are there ...
    assert not any(stamp in name for stamp in ("2013-02-13T01", "2013-02-13T02", "2013-02-13T03") for name in names)
