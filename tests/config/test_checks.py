"""Each configuration key declares its own checks beside its type; typed values are parsed once.

The refusals below are the texts dfos has always given (operators and scripts read them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfos.config.load import load_config
from dfos.config.settings import DrsType, QcbqsType, key_specs
from dfos.config.values import JobResources
from dfos.errors import ConfigError

REFUSALS = [
    ("N_DFO_HDR", "0", "N_DFO_HDR must be at least 1, not 0"),
    ("STATUS_KEEP_LINES", "0", "STATUS_KEEP_LINES must be at least 1, not 0"),
    ("N_MCAL_LIST", "0", "N_MCAL_LIST must be at least 1, not 0"),
    ("N_VCAL_LIST", "0", "N_VCAL_LIST must be at least 1, not 0"),
    ("DOWNLOAD_SLOTS", "0", "DOWNLOAD_SLOTS must be at least 1, not 0"),
    ("MAX_ATTEMPTS", "0", "MAX_ATTEMPTS must be at least 1, not 0"),
    ("AB_WARN_LIMIT", "0", "AB_WARN_LIMIT must be at least 1, not 0"),
    ("SLOTS", "-1", "SLOTS must be 0 or more, not -1"),
    ("DOWNLOAD_RETRIES", "-2", "DOWNLOAD_RETRIES must be 0 or more, not -2"),
    ("BATCH_POLL", "0.01", "BATCH_POLL must be between 0.05 and 600 seconds, not 0.01"),
    ("BATCH_POLL", "nan", "BATCH_POLL must be between 0.05 and 600 seconds, not nan"),
    ("RECIPE_TIMEOUT", "0", "RECIPE_TIMEOUT must be a positive number of seconds, not 0.0"),
    ("RECIPE_TIMEOUT", "inf", "RECIPE_TIMEOUT must be a positive number of seconds, not inf"),
    ("ARCHIVE_URL", "ftp://x", "ARCHIVE_URL must be an http:// or https:// URL, not 'ftp://x'"),
    ("DATA_QUOTA", "0", "DATA_QUOTA must be a percentage above 0 and at most 100, not 0.0"),
    ("DATA_QUOTA", "101", "DATA_QUOTA must be a percentage above 0 and at most 100, not 101.0"),
    ("DFO_OFFSET", "24", "DFO_OFFSET must be hours between -24 and 24, not 24.0"),
    ("DFO_RAW_DIR", "", "DFO_RAW_DIR must name a directory, not be empty"),
    ("DFO_ARCHIVE_DIR", " ", "DFO_ARCHIVE_DIR must name a directory, not be empty"),
    ("NOW", "tomorrow", "NOW: 'tomorrow' is not a UT timestamp: write it as YYYY-MM-DDThh:mm:ss"),
    ("INSTRUMENT", "1x", "INSTRUMENT '1x' is not an instrument name"),
    ("MCAL_NAME_PATTERN", "{code}", "naming pattern '{code}' must hold each of {code} {kind} {yymmdd}"),
    ("DRS_TYPE", "xx", "DRS_TYPE must be CON, CPL or INT, not 'xx'"),
    ("QCBQS_TYPE", "nope", "QCBQS_TYPE must be SER, PAR or IMPLICIT, not 'nope'"),
    ("EXECUTOR", "lsf", "EXECUTOR must be local, slurm or condor, not 'lsf'"),
    ("RECIPE_LIMITS", "a=0", "RECIPE_LIMITS: 'a=0' is not 'recipe=N' with N >= 1"),
    ("BATCH_RESOURCES", "x=0//", "BATCH_RESOURCES: 'x=0//': CPUS must be a whole number >= 1, not '0'"),
    ("FLAVOUR", "x", "FLAVOUR = 'x' is not one of dfos_ops, opshub, phoenix; fix or remove it"),
    ("MONITOR_PUBLIC", "maybe", "MONITOR_PUBLIC = 'maybe' is not a boolean (yes/no); fix or remove it"),
]


@pytest.mark.parametrize(("key", "value", "refusal"), REFUSALS)
def test_each_key_refuses_a_bad_value_in_its_own_words(key: str, value: str, refusal: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, env={f"DFOS_{key}": value})
    assert err.value.message.startswith(f"environment DFOS_{key}: {refusal}")


def test_the_checks_are_declared_with_the_keys() -> None:
    specs = key_specs()
    checked = {name for name, spec in specs.items() if spec.checks}
    assert {key for key, _, _ in REFUSALS} - {"FLAVOUR", "MONITOR_PUBLIC"} <= checked
    assert all(spec.checks for spec in specs.values() if spec.section == "directories")


def test_typed_values_are_parsed_once_at_load(tmp_path: Path) -> None:
    toml = tmp_path / "dfos.toml"
    toml.write_text('DRS_TYPE = "cpl"\nQCBQS_TYPE = "Par"\nEXECUTOR = "SLURM"\nINSTRUMENT = "giraffe"\n'
                    'RECIPE_LIMITS = "uves_cal_mflat=1, gimasterbias=2"\nBATCH_RESOURCES = "*=1/2G/60, x=2//"\n')
    loaded = load_config(toml, env={})
    s = loaded.settings
    assert s.DRS_TYPE is DrsType.CPL and s.QCBQS_TYPE is QcbqsType.PAR and s.QCBQS_TYPE == "PAR"
    assert (s.EXECUTOR, s.INSTRUMENT) == ("slurm", "GIRAFFE")
    assert s.recipe_limits == {"uves_cal_mflat": 1, "gimasterbias": 2}
    assert s.recipe_limits is s.recipe_limits  # parsed once, kept
    assert s.batch_resources == {"*": JobResources(1, 2048, 60), "x": JobResources(2, None, None)}
    assert s.batch_resources is s.batch_resources
    rows = {key: value for key, value, _ in loaded.rows()}
    assert (rows["DRS_TYPE"], rows["QCBQS_TYPE"], rows["RECIPE_LIMITS"]) == ("CPL", "PAR", s.RECIPE_LIMITS)


def test_the_defaults_are_typed_too() -> None:
    s = load_config(None, env={}).settings
    assert s.DRS_TYPE is DrsType.CON and s.QCBQS_TYPE is QcbqsType.IMPLICIT
    assert s.recipe_limits == {} and s.batch_resources == {"*": JobResources()}


def test_a_choice_key_that_is_not_text_says_what_it_may_be(tmp_path: Path) -> None:
    toml = tmp_path / "dfos.toml"
    toml.write_text("DRS_TYPE = 3\n")
    with pytest.raises(ConfigError, match=r"DRS_TYPE = 3 is not one of CON, CPL, INT; fix or remove it"):
        load_config(toml, env={})
