"""The instrument plugins on the pipelines as Debian installs them: registry, rules, product maps, inventory."""

from __future__ import annotations

import glob
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from dfos.errors import PipelineMissing
from dfos.instruments.inventory import esorex_recipes, inventory, parse_recipe_list, pipeline_version, rule_recipes
from dfos.instruments.naco import Naco
from dfos.instruments.registry import BUILTIN, collect, get_instrument
from dfos.oca.io import load_rules
from dfos.oca.parser import parse_rules

ESO_BASED = {"NACO": "naco", "HAWKI": "hawki", "MUSE": "muse", "VIMOS": "vimos", "VISIR": "visir", "AMBER": "amber"}
ALL = {"UVES", "GIRAFFE", *ESO_BASED}

#: Recipes ESO's installed rule files name that no installed package provides: ESO's detmon kit is not
#: packaged in Debian, HAWK-I 2.4.11 has no hawki_cal_illum, and vimos.oca still names the imaging and
#: MOS recipes VIMOS 4.x replaced.  A change here is a change of the installed pipelines: look again.
NOT_INSTALLED = {
    "NACO": {"detmon_ir_lg"},
    "HAWKI": {"detmon_ir_lg", "hawki_cal_illum"},
    "MUSE": {"detmon_opt_lg_mr"},
    "VIMOS": {"detmon_opt_lg", "vmimflatscreen", "vmimflatsky", "vmimobsjitter", "vmimobsstare", "vmimpreimaging",
              "vmimstandard", "vmmasktoccd", "vmmosobsjitter", "vmskyccd", "vmspflat"},
    "VISIR": set(),
    "AMBER": set(),
}


@pytest.fixture(scope="module")
def recipes() -> frozenset[str]:
    found = esorex_recipes()
    assert found, "esorex --recipes listed nothing"
    return found


def test_the_six_plugins_know_their_names_prefixes_and_pipelines() -> None:
    for name, pipeline in ESO_BASED.items():
        plugin = get_instrument(name.lower())
        assert (plugin.name, plugin.file_prefix, plugin.pipeline) == (name, name, pipeline)
        assert plugin.debian_package == f"cpl-plugin-{pipeline}"
        assert plugin.telescope.startswith("ESO-VLT")
        assert plugin.has_synthetic_night == (name == "NACO")  # NACO's imaging night; the others: headers only
        assert (plugin.arms(small=True) == {}) == (name != "NACO")
    assert get_instrument("NACO").instrume_values == ("NACO", "NAOS+CONICA")
    assert get_instrument("HAWKI").instrume_values == ("HAWKI",)
    assert get_instrument("UVES").has_synthetic_night and get_instrument("GIRAFFE").has_synthetic_night


@pytest.mark.parametrize("name", sorted(ESO_BASED))
def test_rules_are_esos_installed_file_then_the_product_map(name: str) -> None:
    plugin = get_instrument(name)
    files = plugin.rules_files()
    assert [str(p) for p in files[:-1]] == glob.glob(f"/usr/share/cpl-plugins/{plugin.pipeline}-*/gasgano/config/*.oca")
    assert files[-1].name == f"{name.lower()}.products.oca" and files[-1].is_file()
    load_rules(files)  # parses and merges


@pytest.mark.parametrize("name", sorted(ESO_BASED))
def test_every_product_map_action_exists_in_esos_file_and_keeps_its_recipe(name: str) -> None:
    plugin = get_instrument(name)
    eso = load_rules(plugin.oca_files())
    ours = load_rules(plugin.product_map_files())
    assert ours.actions and not ours.classify and not ours.organise
    assert set(ours.actions) <= set(eso.actions), set(ours.actions) - set(eso.actions)
    merged = load_rules(plugin.rules_files())
    for action in ours.actions.values():
        assert action.products and action.recipe is None
        assert merged.actions[action.name].recipe == eso.actions[action.name].recipe
        assert {p.catg for p in merged.actions[action.name].products} >= {p.catg for p in action.products}


@pytest.mark.parametrize(("name", "action", "tag"), [
    ("MUSE", "muse_dark", "MASTER_BIAS"), ("MUSE", "muse_wave", "TRACE_TABLE"),
    ("MUSE", "muse_geometry", "WAVECAL_TABLE"), ("MUSE", "muse_scibasic", "GEOMETRY_TABLE"),
    ("MUSE", "muse_twilight", "MASTER_FLAT"),
    ("NACO", "naco_img_jitter", "MASTER_IMG_FLAT"),
    ("HAWKI", "SKY_FLATS", "MASTER_DARK"), ("HAWKI", "SCIENCE_FRAMES", "MASTER_TWILIGHT_FLAT"),
    ("VIMOS", "vmDark", "MASTER_BIAS"), ("VIMOS", "vmIfuScience", "IFU_IDS"),
    ("AMBER", "AMBER_P2VM", "AMBER_FLATFIELD"), ("AMBER", "AMBER_P2VM", "AMBER_BADPIX"),
])
def test_the_cascade_links_up_a_select_finds_a_declared_product(name: str, action: str, tag: str) -> None:
    """A later action's select of a product's tag is met by a product some action declares, and ESO's
    classification turns that PRO.CATG into the DO.CATG the select asks for."""
    from dfos.association.classify import Classifier
    from dfos.association.frames import Frame

    plugin = get_instrument(name)
    rules = load_rules(plugin.rules_files())
    select = next(s for s in rules.actions[action].selects if s.tag == tag)
    makers = [a.name for a in rules.actions.values() if any(p.catg == tag for p in a.products)]
    assert makers, f"no action of {name} declares {tag}"
    # a virtual product's header: the raw frame's (INSTRUME ...) without DPR.*, plus PRO.CATG
    header = {"INSTRUME": plugin.instrume_values[-1], "PRO.CATG": tag, "INS.OPTI1.NAME": "Blue"}
    product = Frame("r.x_0000.fits", header)
    assert Classifier(rules.classify).classify(product).classes.get("DO.CATG") == tag
    assert tag in str(select.condition)


def test_a_pipeline_not_installed_names_its_debian_package() -> None:
    ghost = type("Ghost", (Naco,), {"name": "GHOST", "pipeline": "ghostpipe"})()
    with pytest.raises(PipelineMissing, match="install the Debian package cpl-plugin-ghostpipe") as caught:
        ghost.rules_files()
    assert caught.value.exit_code == 4 and "\n" not in caught.value.message
    assert pipeline_version("ghostpipe") is None


def test_esorex_recipe_list_parsing() -> None:
    text = ("List of Available Recipes :\n\n  muse_bias             : Combine several separate bias images into one\n"
            "                          master: bias file.\n  muse_scipost_make_cube: Make a MUSE cube.\n"
            "[ INFO  ] esorex: x: y\n")
    assert parse_recipe_list(text) == {"muse_bias", "muse_scipost_make_cube"}


def test_recipes_esos_rules_name_exist_except_the_known_absent_ones(recipes: frozenset[str]) -> None:
    for name, absent in NOT_INSTALLED.items():
        named = set(rule_recipes(load_rules(get_instrument(name).rules_files())))
        assert named - recipes == absent, name
    for name in ("UVES", "GIRAFFE"):  # dfos's own rule sets name installed recipes only
        assert set(rule_recipes(load_rules(get_instrument(name).rules_files()))) <= recipes


def test_inventory_lists_all_eight_with_versions_and_recipe_checks() -> None:
    rows = {row.name: row for row in inventory()}
    assert set(rows) >= ALL
    for name in ALL:
        row = rows[name]
        assert row.origin == BUILTIN and row.installed and row.problem is None, name
        assert row.version and row.version[0].isdigit()
        assert row.package_version is None or row.package_version.startswith(row.version)
        assert row.recipes.esorex and set(row.recipes.missing) == NOT_INSTALLED.get(name, set()), name
        assert row.recipes.ok == (not NOT_INSTALLED.get(name)), name
        assert row.status == ("ok" if row.recipes.ok else "RECIPES MISSING")
    assert rows["UVES"].rules_source == "dfos" and rows["NACO"].rules_source == "ESO"
    assert rows["NACO"].product_map and rows["NACO"].product_map.endswith("naco.products.oca")
    assert rows["NACO"].recipes.summary() == "12/13 recipes, missing detmon_ir_lg"
    assert rows["AMBER"].recipes.summary() == "4/4 recipes"


def test_inventory_without_esorex_says_so() -> None:
    rows = {row.name: row for row in inventory(esorex="/nonexistent/esorex")}
    assert rows["UVES"].status == "NO ESOREX" and rows["UVES"].recipes.summary() == "esorex not found"


def test_an_entry_point_plugin_is_listed_with_its_origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ghost_instrument.py").write_text(
        "from dfos.instruments.naco import Naco\n\n"
        "class Ghost(Naco):\n    name = 'GHOST'\n    file_prefix = 'GHOST'\n    pipeline = 'ghostpipe'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint("GHOST", "ghost_instrument:Ghost", "dfos.instruments"),
           EntryPoint("UVES", "dfos.instruments.uves:Uves", "dfos.instruments"),
           EntryPoint("BROKEN", "no_such_module:X", "dfos.instruments")]
    found = collect(eps)
    assert found["GHOST"].origin == "entry point ghost_instrument:Ghost"
    assert found["UVES"].origin == BUILTIN and "BROKEN" not in found
    sys.modules.pop("ghost_instrument", None)


def test_product_maps_parse_and_name_only_upper_case_categories() -> None:
    for name in ESO_BASED:
        text = get_instrument(name).product_map_files()[0].read_text(encoding="utf-8")
        rules = parse_rules(text, name)
        for action in rules.actions.values():
            assert all(p.catg == p.catg.upper() for p in action.products)


def test_create_ab_takes_naco_frames_by_their_instrume() -> None:
    from dfos.steps.create_ab import _bad_header

    accepted = get_instrument("NACO").instrume_values
    assert _bad_header({"MJD-OBS": 56000.1, "INSTRUME": "NAOS+CONICA"}, "NACO", accepted) is None
    assert _bad_header({"MJD-OBS": 56000.1, "INSTRUME": "NACO"}, "NACO", accepted) is None
    assert _bad_header({"MJD-OBS": 56000.1, "INSTRUME": "UVES"}, "NACO", accepted) == \
        "INSTRUME is 'UVES', this workspace is for NACO"
