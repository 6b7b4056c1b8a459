"""createAB on each instrument's synthetic night, in a workspace made by ``dfos init --instrument``:
ESO's installed rules plus dfos's product map make ABs whose recipes esorex has; an AB whose
recipe the installed pipeline lacks is INCOMPLETE and says so; the cascade links through the
product map (a later AB waits for an earlier one's virtual product)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from dfos.ab.model import Completeness
from dfos.ab.store import read_ab_file
from dfos.cli.main import main
from dfos.instruments.inventory import esorex_recipes
from dfos.synth.eso_headers import write_header_night
from dfos.workspace import open_workspace

SIX = ("NACO", "HAWKI", "MUSE", "VIMOS", "VISIR", "AMBER")
NIGHT = date(2024, 7, 12)
#: Instruments whose product map links a cascade on the synthetic night (a WAITFOR between ABs).
LINKED = ("NACO", "HAWKI", "MUSE", "VIMOS")


@pytest.fixture(scope="module")
def recipes() -> frozenset[str]:
    found = esorex_recipes()
    assert found, "esorex lists no recipes: 'make test' installs esorex and the pipelines"
    return found


@pytest.mark.parametrize("instrument", SIX)
def test_create_ab_on_a_synthetic_night(instrument: str, recipes: frozenset[str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / instrument.lower()
    assert main(["init", str(root), "--instrument", instrument.lower()]) == 0
    monkeypatch.setenv("DFOS_ROOT", str(root))
    workspace = open_workspace(root, {"DFOS_ROOT": str(root)})
    assert write_header_night(workspace.hdr_dir / NIGHT.isoformat(), instrument, NIGHT)
    capsys.readouterr()
    for mode in ("CALIB", "SCIENCE"):
        assert main(["create-ab", "-m", mode, "-d", NIGHT.isoformat()]) == 0
    out = capsys.readouterr().out
    abs_ = [read_ab_file(path) for path in sorted(workspace.ab_dir.rglob("*.ab"))]
    assert abs_ and len(re.findall(r"^  (?:COMPLETE|INCOMPLETE) ", out, re.M)) == len(abs_)
    complete = [ab for ab in abs_ if ab.completeness is Completeness.COMPLETE]
    assert complete, f"{instrument}: no COMPLETE AB"
    for ab in abs_:
        if ab.recipe in recipes:
            assert not any("is not installed" in m for m in ab.missing), ab.name
        else:  # ESO's file names a recipe Debian's pipeline lacks: said, never run
            assert ab.completeness is Completeness.INCOMPLETE, ab.name
            assert f"recipe {ab.recipe} is not installed" in " ".join(ab.missing), ab.name
    assert {ab.recipe for ab in complete} <= recipes
    if instrument in LINKED:
        names = {ab.name for ab in abs_}
        assert any(set(ab.waitfor) & names for ab in complete), f"{instrument}: no AB waits for another"
