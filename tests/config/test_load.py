"""Layered configuration: defaults < dfos.toml < DFOS_<KEY> < command line, with provenance."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfos.config.load import Source, load_config, parse_assignment, render_toml
from dfos.config.settings import Flavour, key_specs
from dfos.errors import ConfigError, UsageError


def test_defaults_only() -> None:
    cfg = load_config(None, env={})
    assert cfg.settings.N_DFO_HDR == 20
    assert cfg.settings.DFO_OFFSET == 0.0
    assert cfg.settings.FLAVOUR is Flavour.DFOS_OPS
    assert all(origin.source is Source.DEFAULT for origin in cfg.origins.values())


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    toml = tmp_path / "dfos.toml"
    toml.write_text('[status]\nN_DFO_HDR = 7\nSTATUS_KEEP_LINES = 100\n[dates]\nDFO_OFFSET = 1.5\n')
    cfg = load_config(
        toml,
        env={"DFOS_N_DFO_HDR": "3", "DFOS_STATUS_KEEP_LINES": "200", "UNRELATED": "x"},
        cli={"N_DFO_HDR": "2"},
    )
    s, o = cfg.settings, cfg.origins
    assert (s.N_DFO_HDR, o["N_DFO_HDR"].source) == (2, Source.CLI)
    assert (s.STATUS_KEEP_LINES, o["STATUS_KEEP_LINES"].source) == (200, Source.ENV)
    assert o["STATUS_KEEP_LINES"].where == "DFOS_STATUS_KEEP_LINES"
    assert (s.DFO_OFFSET, o["DFO_OFFSET"].source) == (1.5, Source.FILE)
    assert o["DFO_OFFSET"].where == f"{toml}:5"
    assert o["INSTRUMENT"].source is Source.DEFAULT


def test_rows_show_value_and_origin(tmp_path: Path) -> None:
    toml = tmp_path / "dfos.toml"
    toml.write_text('FLAVOUR = "phoenix"\n')
    rows = {key: (value, origin) for key, value, origin in load_config(toml, env={}).rows()}
    assert rows["FLAVOUR"][0] == "phoenix"
    assert rows["FLAVOUR"][1].where == f"{toml}:1"
    assert list(rows) == list(key_specs())


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    toml = tmp_path / "dfos.toml"
    toml.write_text('INSTRUMENT = "UVES"\n\nN_DFO_HDR = = 3\n')
    with pytest.raises(ConfigError) as err:
        load_config(toml, env={})
    assert str(err.value).startswith(f"{toml}:3:")


def test_unknown_key_names_its_line(tmp_path: Path) -> None:
    toml = tmp_path / "dfos.toml"
    toml.write_text('[status]\nN_DFO_HDR = 3\nn_dfo_hdrx = 4\n')
    with pytest.raises(ConfigError, match=rf"{toml}:3: unknown configuration key 'n_dfo_hdrx'"):
        load_config(toml, env={})


def test_wrong_type_in_file(tmp_path: Path) -> None:
    toml = tmp_path / "dfos.toml"
    toml.write_text('N_DFO_HDR = "many"\n')
    with pytest.raises(ConfigError, match=r"dfos.toml:1: N_DFO_HDR = 'many' is not an integer"):
        load_config(toml, env={})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DFOS_N_DFO_HDR", "three", "is not an integer"),
        ("DFOS_N_DFO_HDR", "0", "must be at least 1"),
        ("DFOS_DFO_OFFSET", "noon", "is not a number"),
        ("DFOS_FLAVOUR", "nightly", "is not one of dfos_ops, opshub, phoenix"),
        ("DFOS_NOW", "tomorrow", "NOW"),
        ("DFOS_DFO_RAW_DIR", "", "must name a directory"),
    ],
)
def test_bad_environment_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        load_config(None, env={name: value})
    assert name in str(err.value)


def test_now_is_taken_from_the_environment() -> None:
    cfg = load_config(None, env={"DFOS_NOW": "2013-02-13T10:00:00"})
    assert cfg.settings.NOW == "2013-02-13T10:00:00"
    assert cfg.origins["NOW"].source is Source.ENV


def test_command_line_mistakes_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown configuration key 'NOPE'"):
        load_config(None, env={}, cli={"NOPE": "1"})
    with pytest.raises(UsageError, match="command line N_DFO_HDR: N_DFO_HDR = 'x' is not an integer"):
        load_config(None, env={}, cli={"N_DFO_HDR": "x"})


def test_parse_assignment() -> None:
    assert parse_assignment("N_DFO_HDR=3") == ("N_DFO_HDR", "3")
    assert parse_assignment("NOW=") == ("NOW", "")
    with pytest.raises(UsageError):
        parse_assignment("N_DFO_HDR")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e9", "24", "-24", "-1e6"])
def test_offset_must_be_finite_hours_within_a_day(value: str) -> None:
    with pytest.raises(ConfigError, match="DFO_OFFSET must be hours between -24 and 24"):
        load_config(None, env={"DFOS_DFO_OFFSET": value})


def test_non_utf8_file_names_file_and_line(tmp_path: Path) -> None:
    toml = tmp_path / "dfos.toml"
    toml.write_bytes(b'INSTRUMENT = "UVES"\nN_DFO_HDR = 3 # \xff\n')
    with pytest.raises(ConfigError, match=rf"{toml}:2: not UTF-8 text"):
        load_config(toml, env={})


def test_unquoted_toml_datetime_is_accepted_for_now(tmp_path: Path) -> None:
    toml = tmp_path / "dfos.toml"
    toml.write_text("[dates]\nNOW = 2013-02-13T10:00:00\n")
    assert load_config(toml, env={}).settings.NOW == "2013-02-13T10:00:00"


def test_nested_table_names_its_line(tmp_path: Path) -> None:
    toml = tmp_path / "dfos.toml"
    toml.write_text("[status]\nN_DFO_HDR = 3\n\n[status.extra]\nX = 1\n")
    with pytest.raises(ConfigError, match=rf"{toml}:4: table \[status.extra\]"):
        load_config(toml, env={})


def test_rendered_toml_loads_back_with_the_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "dfos.toml"
    toml.write_text(render_toml({"INSTRUMENT": "GIRAFFE", "DFO_OFFSET": 2.0}))
    cfg = load_config(toml, env={})
    assert cfg.settings.INSTRUMENT == "GIRAFFE"
    assert cfg.settings.DFO_OFFSET == 2.0
    assert cfg.origins["N_DFO_HDR"].source is Source.DEFAULT  # commented out, documented
    assert "# N_DFO_HDR = 20" in toml.read_text()


def test_recipe_limits() -> None:
    from dfos.config.load import recipe_limits

    assert recipe_limits("uves_cal_mflat=1, gimasterbias=2") == {"uves_cal_mflat": 1, "gimasterbias": 2}
    with pytest.raises(ConfigError, match="RECIPE_LIMITS"):
        load_config(None, env={"DFOS_RECIPE_LIMITS": "uves_cal_mflat=0"})


def test_batch_resources_per_recipe() -> None:
    from dfos.config.load import JobResources, batch_resources

    found = batch_resources("*=1/2G/60, uves_cal_mflat=2/512M/, gimasterbias=4")
    assert found == {"*": JobResources(1, 2048, 60), "uves_cal_mflat": JobResources(2, 512, None),
                     "gimasterbias": JobResources(4, None, None)}
    assert batch_resources("") == {"*": JobResources()}
    for bad, reason in [("x=0//", "CPUS"), ("x=1/lots/", "MEMORY"), ("x=1//-3", "MINUTES"), ("x", "recipe=CPUS"),
                        ("x=1/2/3/4", "recipe=CPUS")]:
        with pytest.raises(ValueError, match=reason):
            batch_resources(bad)


def test_deep_nesting_and_huge_numbers_are_configuration_errors(tmp_path: Path) -> None:
    toml = tmp_path / "dfos.toml"
    toml.write_text("N_DFO_HDR = " + "[" * 5000 + "1" + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(toml, env={})
    toml.write_text("DFO_OFFSET = 1" + "0" * 400 + "\n")
    with pytest.raises(ConfigError, match="DFO_OFFSET"):
        load_config(toml, env={})


def test_secret_values_are_masked_and_never_echoed(tmp_path: Path) -> None:
    from dfos.config.secrets import mask_url

    toml = tmp_path / "dfos.toml"
    toml.write_text('MONITOR_PASSWORD = "in-the-file"\nDB_URL = "postgresql://u:p4ss@h:5432/db?sslmode=require"\n')
    rows = {k: v for k, v, _ in load_config(toml, env={}).rows()}
    assert rows["MONITOR_PASSWORD"] == "(set, hidden)" and rows["DB_URL"] == "postgresql://u:***@h:5432/db?sslmode=require"
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db" and mask_url("sqlite:////x/y") == "sqlite:////x/y"
    toml.write_text("MONITOR_PASSWORD = 12345678\n")
    with pytest.raises(ConfigError) as err:
        load_config(toml, env={})
    assert "12345678" not in err.value.message
