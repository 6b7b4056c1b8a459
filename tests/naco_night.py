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
from dfos.instruments.naco import Naco
from dfos.keys import BatchId, Mode, Stage, mode_flag
from dfos.steps.cascade import exec_cascade
from dfos.steps.create_ab import create_abs
from dfos.steps.create_job import create_job
from dfos.steps.demo_data import generate_night
from dfos.steps.headers import extract_headers
from dfos.steps.static_calib import install_static
from dfos.steps.status import append_flag
from dfos.synth.plan import Template
from dfos.synth.scene import Scene
from dfos.workspace import Workspace, init_workspace, open_workspace

__all__ = ["CALIB_ABS", "DARK", "FIELD_ABS", "FLAT", "NIGHT", "NOW", "SCENES", "SCIENCE_ABS", "STD", "ab_name",
           "phoenix_workspace", "run_naco_night"]

NIGHT = date(2013, 2, 12)
NOW = "2013-02-13T14:00:00"


def ab_name(template: Template) -> str:
    """The AB createAB makes of a template: ``NACO.<TPL.START with milliseconds>_tpl.ab``."""
    return f"NACO.{template.start.isoformat(timespec='milliseconds')}_tpl.ab"


_TEMPLATES = tuple(Naco().night(NIGHT))
SCENES: dict[str, Scene] = {ab_name(t): t.scene for t in _TEMPLATES if t.scene is not None}
"""AB name -> the injected truth of its template (the small night is rendered at the scenes' own size)."""
DARK = next(ab_name(t) for t in _TEMPLATES if t.category == "CAL_DARK")
FLAT = {t.scene.filter: ab_name(t) for t in _TEMPLATES if t.category == "CAL_FLAT_TW" and t.scene}
"""The twilight flat AB of each filter."""
STD = {t.scene.filter: ab_name(t) for t in _TEMPLATES if t.category == "CAL_STD_JITTER" and t.scene}
"""The standard-star (zero point) AB of each filter."""
FIELD_ABS = {t.obs_name: ab_name(t) for t in _TEMPLATES if t.category == "IM_JITTER_OBJ"}
"""The science jitter AB of each field (``dfos.instruments.naco.FIELDS``)."""
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


def phoenix_workspace(root: Path, *nights: date, env: Mapping[str, str] | None = None) -> Workspace:
    """A phoenix-flavour NACO workspace at ``root`` whose archive holds the small synthetic ``nights`` (seeds 3,
    4, ...), with the static calibrations installed: what ``dfos phoenix`` reprocesses."""
    init_workspace(root, env={}, instrument="NACO", flavour="phoenix")
    ws = open_workspace(root, env={"DFOS_NOW": "2013-03-02T14:00:00", **(env or {})})
    for seed, night in enumerate(nights, start=3):
        generate_night(ws, night, small=True, seed=seed)
    install_static(ws, Naco())
    return ws
