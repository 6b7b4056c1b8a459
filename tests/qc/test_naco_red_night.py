"""A NACO night whose science field lost its AO correction (rendered with a 20-pixel PSF, 0.54"), QC run
as the QC cascade of each mode (QCBQS_TYPE PAR, as the job file runs it): the coadd scores red and waits
for a person, the calibrations stay green."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from dfos.cascade.run import cascade_state
from dfos.db import ab_qc, certifications, engine_for_url, qc1_params
from dfos.instruments import naco
from dfos.keys import BatchId, Mode
from dfos.steps.process_qc import qc_log
from dfos.workspace import Workspace
from naco_night import CALIB_ABS, NIGHT, run_naco_night

pytestmark = pytest.mark.esorex

BLURRED_FWHM = 20.0
FIELD = ("SYN_FIELD_BLURRED", 150.10, -30.20, "Ks", BLURRED_FWHM, 1500.0, 8)
SCIENCE = "NACO.2013-02-13T01:30:00.512_tpl.ab"  # the first science template's start


@pytest.fixture(scope="module")
def blurred_night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(naco, "FIELDS", (FIELD,))  # the night's one science field, rendered through the real model
        yield run_naco_night(tmp_path_factory.mktemp("naco-blurred") / "ws", env={"DFOS_QCBQS_TYPE": "PAR"})


def _scores(ws: Workspace, ab: str) -> dict[str, tuple[float | None, int | None]]:
    with engine_for_url(ws.db_url).begin() as db:
        rows = db.execute(select(qc1_params.c.name, qc1_params.c.value, qc1_params.c.score)
                          .where(qc1_params.c.ab == ab)).all()
    return {r.name: (r.value, r.score) for r in rows}


def test_qc_ran_as_the_qc_cascade_of_each_mode(blurred_night: Workspace) -> None:
    for mode, names in ((Mode.CALIB, set(CALIB_ABS)), (Mode.SCIENCE, {SCIENCE})):
        dag = BatchId.of(mode, NIGHT, qc=True).render()
        state = cascade_state(blurred_night, dag)
        assert {str(r["ab"]) for r in state} == names and {r["state"] for r in state} == {"succeeded"}
        text = (blurred_night.job_dir / f"execQC_{BatchId.of(mode, NIGHT).render()}").read_text()
        assert "QCBQS_TYPE PAR" in text and all(f"{name} || processQC || -a {name} || NONE" in text for name in names)
    assert qc_log(blurred_night, SCIENCE).read_text().splitlines()[-1].startswith("score ")


def test_the_blurred_coadd_scores_red_and_is_not_certified(blurred_night: Workspace) -> None:
    scores = _scores(blurred_night, SCIENCE)
    fwhm, score = scores["QC FWHM ARCSEC"]
    assert fwhm is not None and fwhm > 0.35 and score == 1  # the recipe measures the blurred PSF
    assert scores["QC FWHM PIX"][1] == 1
    assert scores["QC BACKGD"][1] == 0 and scores["QC ZPOINT"][1] == 0  # the sky and the zero point are fine
    with engine_for_url(blurred_night.db_url).begin() as db:
        verdicts = {r.ab: r.verdict for r in db.execute(select(ab_qc.c.ab, ab_qc.c.verdict))}
        certified = set(db.execute(select(certifications.c.ab)).scalars())
    assert verdicts == {**{ab: "green" for ab in CALIB_ABS}, SCIENCE: "red"}
    assert certified == set(CALIB_ABS)  # the red coadd waits for a person
