"""The small synthetic NACO night of the tests (``dfos.instruments.naco``): its date, its ABs, and the
night processed end to end with real esorex, as ``dfos demo-data --small``, ``headers``, ``create-ab``,
``create-job`` and ``exec-cascade`` do it for CALIB, then SCIENCE (``/work/wt/nacorun.sh``), with the
QC cascade and the ``*_QC`` flag as the job file runs them.

The fixture ``naco_night`` (tests/conftest.py) builds it once per test module.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from dfos.config.settings import QcbqsType
from dfos.keys import BatchId, Mode, Stage, mode_flag
from dfos.steps.cascade import exec_cascade
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.demo_data import generate_night
from dfos.steps.headers import extract_headers
from dfos.steps.static_calib import install_static
from dfos.steps.status import append_flag
from dfos.workspace import Workspace, init_workspace, open_workspace

__all__ = ["CALIB_ABS", "DARK", "FIELD_ABS", "FLAT", "NIGHT", "NOW", "SCIENCE_ABS", "STD", "run_naco_night"]

NIGHT = date(2013, 2, 12)
NOW = "2013-02-13T14:00:00"
DARK = "NACO.2013-02-12T17:00:00.012_tpl.ab"
FLAT = {"Ks": "NACO.2013-02-12T22:40:00.112_tpl.ab", "H": "NACO.2013-02-12T22:52:00.212_tpl.ab"}
"""The twilight flat AB of each filter."""
STD = {"Ks": "NACO.2013-02-13T00:20:00.312_tpl.ab", "H": "NACO.2013-02-13T00:32:00.412_tpl.ab"}
"""The standard-star (zero point) AB of each filter."""
FIELD_ABS = {"SYN_FIELD_1": "NACO.2013-02-13T01:30:00.512_tpl.ab", "SYN_FIELD_2": "NACO.2013-02-13T02:30:00.612_tpl.ab",
             "SYN_FIELD_3": "NACO.2013-02-13T03:30:00.712_tpl.ab"}
"""The science jitter AB of each field of ``dfos.instruments.naco.FIELDS`` (in that order)."""
CALIB_ABS = (DARK, FLAT["Ks"], FLAT["H"], STD["Ks"], STD["H"])
SCIENCE_ABS = tuple(FIELD_ABS.values())


def run_naco_night(root: Path, env: Mapping[str, str] | None = None, seed: int = 1) -> Workspace:
    """A NACO workspace at ``root`` with the small night rendered, associated and processed (CALIB, then
    SCIENCE), QC included: inside each AB (QCBQS_TYPE IMPLICIT, the default), or as the QC cascade
    ``QC_<MODE>_<DATE>`` (SER, PAR; set ``DFOS_QCBQS_TYPE`` in ``env``).  Every cascade must succeed."""
    init_workspace(root, env={}, instrument="NACO")
    ws = open_workspace(root, env={"DFOS_NOW": NOW, **(env or {})})
    generate_night(ws, NIGHT, small=True, seed=seed)
    install_static(ws, ws.instrument)  # the standard-star catalogue, as 'dfos demo-data' makes it
    extract_headers(ws, NIGHT)
    for mode in (Mode.CALIB, Mode.SCIENCE):
        create_abs(ws, NIGHT, mode)
        files = create_job(ws, NIGHT, mode)
        dag = BatchId.of(mode, NIGHT).render()
        assert exec_cascade(ws, dag, files.exec_ab, slots=2).ok, dag
        if ws.settings.QCBQS_TYPE != QcbqsType.IMPLICIT:
            assert files.exec_qc is not None
            qc = BatchId.of(mode, NIGHT, qc=True).render()
            assert exec_cascade(ws, qc, files.exec_qc, slots=2).ok, qc
        append_flag(ws, mode_flag(mode, Stage.QC), NIGHT)
    return ws
