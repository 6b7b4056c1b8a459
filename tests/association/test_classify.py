"""Classification and organisation with ESO's own installed rules on the synthetic nights."""

from __future__ import annotations

import glob
from datetime import date
from pathlib import Path

import pytest

from dfos.association.classify import Classifier
from dfos.association.frames import Frame
from dfos.association.organise import organise
from dfos.headers.io import read_header
from dfos.oca.parser import parse_rules
from dfos.oca.syntax import RuleSet
from dfos.steps.demo_data import generate_night, plan_night
from dfos.workspace import Workspace


def eso_rules(pipeline: str) -> RuleSet:
    (path,) = glob.glob(f"/usr/share/cpl-plugins/{pipeline}-*/gasgano/config/*.oca")
    return parse_rules(Path(path).read_text(), path)


def night_frames(ws: Workspace, instrument: str) -> tuple[list[Frame], dict[str, str]]:
    day = date(2013, 2, 12)
    generate_night(ws, day, instrument=instrument, small=True)
    intended = {f.name.render(): f.template.category for f in plan_night(instrument, day)}
    frames = []
    for name in intended:
        header = read_header(next(ws.archive_dir.rglob(name)))
        frames.append(Frame(name, dict(header.cards)))
    return frames, intended


@pytest.mark.parametrize(("instrument", "pipeline"), [("UVES", "uves"), ("GIRAFFE", "giraf")])
def test_eso_rules_classify_every_synthetic_frame_as_intended(
    workspace: Workspace, instrument: str, pipeline: str
) -> None:
    frames, intended = night_frames(workspace, instrument)
    classifier = Classifier(eso_rules(pipeline).classify)
    assert {f.name: classifier.assign(f.header).get("DO.CATG") for f in frames} == intended


def test_classification_cache_gives_the_same_answers(workspace: Workspace) -> None:
    frames, _ = night_frames(workspace, "UVES")
    rules = eso_rules("uves").classify
    cached = Classifier(rules)
    first = [cached.assign(f.header) for f in frames]
    again = [cached.assign(f.header) for f in frames]
    fresh = [Classifier(rules).assign(f.header) for f in frames]
    assert first == again == fresh
    assert len(cached._cache) < len(frames)  # frames of one setup share one evaluation


def test_eso_rules_organise_the_uves_night(workspace: Workspace) -> None:
    frames, _ = night_frames(workspace, "UVES")
    rules = eso_rules("uves")
    classifier = Classifier(rules.classify)
    result = organise([classifier.classify(f) for f in frames], rules.organise)
    summary = [(g.action, g.tag, len(g.frames)) for g in result.groups]
    assert summary == [
        ("UVES_MASTER_BIAS_B", "tpl", 5),
        ("UVES_MASTER_BIAS_R", "tpl", 5),
        ("UVES_MASTER_DARK_B", "tpl", 3),
        ("UVES_CAL_ORDERPOS_B", "frm", 1),
        ("UVES_MASTER_FLAT_B", "tpl", 5),
        ("UVES_CAL_WAVECAL_B", "frm", 1),
        ("UVES_CAL_WAVECAL_B", "frm", 1),
        ("UVES_OBS_SCIRED_B", "frm", 1),
        ("UVES_OBS_SCIRED_B", "frm", 1),
    ]
    assert result.orphans == ()
