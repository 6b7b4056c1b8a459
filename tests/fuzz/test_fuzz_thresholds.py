"""Fuzzing the QC thresholds parser (``thresholds_<INSTRUMENT>.toml``): mutations of the thresholds dfos
ships (cut and duplicated lines, swapped values, odd and non-UTF-8 bytes, huge numbers, deep nesting)
and random text and bytes.  The file is configuration, so its contract is "parse or raise ConfigError"
(exit 4; the one exception to the parsers' FormatError), within the fuzzing deadline; what parses
can score any value."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dfos.errors import ConfigError
from dfos.qc.scoring import Threshold, find_threshold, limits, load_thresholds, parse_thresholds, score
from fuzzing import fuzz, mutated_bytes

SHIPPED = [p.read_bytes() for p in files("dfos.qc.thresholds").iterdir() if p.name.endswith(".toml")]
ODD = [b"\xff", b"\x00", b"\n", b"=", b"[", b"]", b"[[", b"]]", b"\"", b"'", b"#", b"nan", b"inf", b"-inf", b"true",
       b"1.5", b"-1", b"\"stat\"", b"\"*\"", b"{", b"}", b",", b"threshold", b"last", b"low", b"high"]
HUGE = [b"9" * 5000, b"a = " + b"[" * 3000, b"x" * 100_000, b"[[threshold]]\n" * 2000]


def _usable(found: list[Threshold]) -> None:
    for value in (0.0, -1e300, 1e300, float("nan")):
        rule = find_threshold(found, "QC BIAS LEVEL", "MASTER_BIAS_BLUE", "BLUE")
        if rule is not None:
            assert score(value, limits(rule, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])) in (0, 1, None)


def _thresholds_or_config_error(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        found = load_thresholds(path)
    except ConfigError as exc:
        assert str(path) in exc.message and "\n" not in exc.message
        return
    _usable(found)


@given(mutated_bytes(SHIPPED, ODD, HUGE))
@fuzz
def test_mutated_threshold_files(tmp_path: Path, data: bytes) -> None:
    _thresholds_or_config_error(tmp_path / "thresholds_UVES.toml", data)


@given(st.binary(max_size=400))
@fuzz
def test_random_bytes_as_thresholds(tmp_path: Path, data: bytes) -> None:
    _thresholds_or_config_error(tmp_path / "thresholds_UVES.toml", data)


@given(st.dictionaries(st.sampled_from(["param", "pro_catg", "setup", "method", "low", "high", "k", "last",
                                        "min_values", "health", "label", "x"]),
                       st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
                       | st.lists(st.integers(), max_size=2), max_size=8))
@fuzz
def test_threshold_entries_of_any_type(entry: dict[str, object]) -> None:
    import json
    import math

    def toml(value: object) -> str:
        if not isinstance(value, float) or math.isfinite(value):
            return json.dumps(value)
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"

    text = "[[threshold]]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in entry.items() if v is not None)
    try:
        _usable(parse_thresholds(text, "fuzz.toml"))
    except ConfigError as exc:
        assert exc.message.startswith("fuzz.toml")
