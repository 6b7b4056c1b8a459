"""The dfos rule sets agree with ESO's installed rules; classification does not depend on order."""

from __future__ import annotations

import glob
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dfos.association.classify import Classifier
from dfos.association.frames import Frame
from dfos.headers.io import read_header
from dfos.instruments.registry import get_instrument
from dfos.oca.io import load_rules
from dfos.oca.parser import parse_rules
from dfos.steps.demo_data import generate_night, plan_night
from dfos.workspace import Workspace

PIPELINES = {"UVES": "uves", "GIRAFFE": "giraf"}


def frames_of(ws: Workspace, instrument: str) -> list[Frame]:
    generate_night(ws, date(2013, 2, 12), instrument=instrument, small=True)
    names = [f.name.render() for f in plan_night(instrument, date(2013, 2, 12))]
    return [Frame(n, dict(read_header(next(ws.archive_dir.rglob(n))).cards)) for n in names]


@pytest.mark.parametrize("instrument", ["UVES", "GIRAFFE"])
def test_dfos_rules_classify_like_eso_frame_by_frame(workspace: Workspace, instrument: str) -> None:
    (eso_path,) = glob.glob(f"/usr/share/cpl-plugins/{PIPELINES[instrument]}-*/gasgano/config/*.oca")
    eso = Classifier(parse_rules(Path(eso_path).read_text(), eso_path).classify)
    ours = Classifier(load_rules(get_instrument(instrument).rules_files()).classify)
    for frame in frames_of(workspace, instrument):
        assert ours.assign(frame.header)["DO.CATG"] == eso.assign(frame.header)["DO.CATG"], frame.name


@pytest.fixture(scope="module")
def uves_headers(tmp_path_factory: pytest.TempPathFactory) -> list[Frame]:
    from dfos.workspace import init_workspace

    ws, _ = init_workspace(tmp_path_factory.mktemp("rules") / "ws", env={}, instrument="UVES")
    return frames_of(ws, "UVES")


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False))
def test_classification_is_order_independent(uves_headers: list[Frame], rng: random.Random) -> None:
    rules = load_rules(get_instrument("UVES").rules_files()).classify
    reference = {f.name: Classifier(rules).assign(f.header) for f in uves_headers}
    shuffled = list(uves_headers)
    rng.shuffle(shuffled)
    classifier = Classifier(rules)  # one cache across the shuffled night
    assert {f.name: classifier.assign(f.header) for f in shuffled} == reference


MIXED = st.one_of(st.integers(0, 2), st.sampled_from([0.0, 1.0, 2.5]), st.booleans(),
                  st.sampled_from(["1", "1.0", "2", "x", "BIAS"]), st.none())


@settings(max_examples=200, deadline=None)
@given(st.lists(MIXED, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_classification_is_order_independent_for_mixed_types(values: list[Any], rng: random.Random) -> None:
    rules = parse_rules("""
        if X like "1" then { DO.CATG = "LIKE_ONE"; }
        if X == 1 then { RAW.TYPE = "NUMERIC_ONE"; }
        if X == "x" or X > 2 then { DO.CATG = "OTHER"; }
    """).classify
    headers = [{"X": v} if v is not None else {} for v in values]
    reference = [Classifier(rules).assign(h) for h in headers]
    order = list(range(len(headers)))
    rng.shuffle(order)
    classifier = Classifier(rules)
    shuffled = {i: classifier.assign(headers[i]) for i in order}
    assert [shuffled[i] for i in range(len(headers))] == reference
