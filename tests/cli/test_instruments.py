"""``dfos instruments``, ``dfos init --instrument`` for the instruments on ESO's installed rules, and
``dfos demo-data`` for an instrument without a synthetic night, in-process on the installed pipelines."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest

from dfos.cli.main import main
from dfos.instruments.inventory import esorex_recipes, rule_recipes
from dfos.instruments.registry import _scan
from dfos.oca.io import load_rules

SIX = ("NACO", "HAWKI", "MUSE", "VIMOS", "VISIR", "AMBER")

#: Recipes ESO's rule files name that no installed package provides (see tests/instruments/test_inventory.py).
ABSENT = {"detmon_ir_lg", "detmon_opt_lg", "detmon_opt_lg_mr", "hawki_cal_illum", "vmimflatscreen", "vmimflatsky",
          "vmimobsjitter", "vmimobsstare", "vmimpreimaging", "vmimstandard", "vmmasktoccd", "vmmosobsjitter",
          "vmskyccd", "vmspflat"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_instruments_lists_all_eight(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no workspace here
    code, out, err = run(capsys, "instruments")
    assert code == 0 and err == ""
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    for name in ("UVES", "GIRAFFE", *SIX):
        assert "built-in" in lines[name] and "cpl-plugin-" in lines[name], name
    assert "4/4 recipes" in lines["AMBER"] and lines["AMBER"].split()[1] == "ok"
    assert "missing detmon_ir_lg" in lines["NACO"] and "RECIPES MISSING" in lines["NACO"]
    code, out, _ = run(capsys, "instruments", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert code == 0 and {"UVES", "GIRAFFE", *SIX} <= set(rows)
    for row in rows.values():
        assert row["installed"] and row["version"] and row["recipes"]["esorex"]
        assert set(row["recipes"]["missing"]) <= ABSENT
    assert rows["UVES"]["recipes"]["ok"] and rows["UVES"]["rules_source"] == "dfos"
    assert rows["MUSE"]["rules_source"] == "ESO" and rows["MUSE"]["product_map"].endswith("muse.products.oca")


@pytest.mark.parametrize("name", SIX)
def test_init_makes_a_workspace_on_esos_rules_and_a_copied_product_map(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str) -> None:
    root = tmp_path / "ws"
    code, out, err = run(capsys, "init", str(root), "--instrument", name.lower())
    assert code == 0, err
    assert f"workspace for {name}" in out
    text = (root / "dfos.toml").read_text()
    doc = tomllib.loads(text)
    assert doc["workspace"]["INSTRUMENT"] == name
    files = doc["association"]["OCA_RULES"].split(":")
    pipeline = name.lower()
    assert files[0].startswith(f"/usr/share/cpl-plugins/{pipeline}-") and files[0].endswith(f"/{pipeline}.oca")
    assert files[1] == f"config/{pipeline}.products.oca"
    copy = root / files[1]
    shipped = Path(__file__).resolve().parents[2] / "src" / "dfos" / "rules" / f"{pipeline}.products.oca"
    assert copy.read_text() == shipped.read_text()
    assert f"Debian package cpl-plugin-{pipeline}" in text and "edit it here" in text
    code, out, err = run(capsys, "oca", "check", *(str(root / f) if not f.startswith("/") else f for f in files))
    assert code == 0 and out.count(": ok: ") == 2, err
    rules = load_rules([Path(f) if f.startswith("/") else root / f for f in files])
    recipes = esorex_recipes()
    assert recipes is not None
    assert set(rule_recipes(rules)) - recipes <= ABSENT
    code, out, _ = run(capsys, "--root", str(root), "instruments", "--json")
    row = next(r for r in json.loads(out) if r["name"] == name)
    assert code == 0 and row["rules_source"] == "workspace" and row["product_map"] == str(copy)


def test_init_of_an_instrument_whose_pipeline_is_missing_names_the_package(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin registered by a (fake) distribution on sys.path: listed with its entry point, and init
    refuses it in one line naming the Debian package to install."""
    dist = tmp_path / "ghost_dfos-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ghost-dfos\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[dfos.instruments]\nGHOST = ghost_plugin:Ghost\n")
    (tmp_path / "ghost_plugin.py").write_text(
        "from dfos.instruments.base import Instrument\n\n"
        "class Ghost(Instrument):\n    name = 'GHOST'\n    file_prefix = 'GHOST'\n    pipeline = 'ghostpipe'\n"
        "    product_map = 'naco.products.oca'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _scan.cache_clear()
    try:
        code, out, _ = run(capsys, "instruments", "--json")
        ghost = next(r for r in json.loads(out) if r["name"] == "GHOST")
        assert code == 0 and ghost["origin"] == "entry point ghost_plugin:Ghost"
        assert not ghost["installed"] and ghost["status"] == "NOT INSTALLED"
        code, out, _ = run(capsys, "instruments")
        assert code == 0 and "apt-get install cpl-plugin-ghostpipe" in out
        code, _, err = run(capsys, "init", str(tmp_path / "ws"), "--instrument", "ghost")
        assert code == 4 and len(err.strip().splitlines()) == 1
        assert "install the Debian package cpl-plugin-ghostpipe" in err
        assert not (tmp_path / "ws" / "dfos.toml").exists()
    finally:
        _scan.cache_clear()
        sys.modules.pop("ghost_plugin", None)


def test_uves_and_giraffe_init_as_before(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for name in ("UVES", "GIRAFFE"):
        code, _, _ = run(capsys, "init", str(tmp_path / name), "--instrument", name)
        doc = tomllib.loads((tmp_path / name / "dfos.toml").read_text())
        assert code == 0 and "OCA_RULES" not in doc.get("association", {})
        assert list((tmp_path / name / "config").iterdir()) == []


def test_demo_data_for_an_instrument_without_synthetic_night_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "ws"
    assert run(capsys, "init", str(root), "--instrument", "MUSE")[0] == 0
    code, _, err = run(capsys, "--root", str(root), "demo-data", "--date", "2013-02-12")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no synthetic FITS night of MUSE" in err and "GIRAFFE, NACO, UVES" in err
    assert not any((root / "archive").rglob("*.fits"))
    assert "demo-data --headers" in err


def test_demo_data_headers_gives_a_night_create_ab_associates(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    root = tmp_path / "ws"
    assert run(capsys, "init", str(root), "--instrument", "naco")[0] == 0
    code, out, err = run(capsys, "--root", str(root), "demo-data", "--headers", "--date", "2024-07-12")
    written = sorted((root / "headers" / "2024-07-12").glob("NACO.*.hdr"))
    assert code == 0 and err == "" and f"{len(written)} synthetic headers" in out and len(written) > 20
    assert not any((root / "archive").rglob("*.fits"))  # headers only: nothing to process
    code, out, _ = run(capsys, "--root", str(root), "create-ab", "-d", "2024-07-12")
    assert code == 0 and "COMPLETE   NACO.2024-07-12T17:00:00.012_tpl.ab  naco_img_dark" in out
    # UVES has a synthetic FITS night, no header night: the flag says what to run instead
    assert run(capsys, "init", str(tmp_path / "uves"), "--instrument", "UVES")[0] == 0
    code, _, err = run(capsys, "--root", str(tmp_path / "uves"), "demo-data", "--headers", "--date", "2013-02-12")
    assert code == 2 and "run 'dfos demo-data' without --headers" in err
