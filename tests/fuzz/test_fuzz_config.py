"""Fuzzing the configuration loader: ``dfos.toml`` text, ``DFOS_<KEY>`` values and ``--set KEY=VALUE``.

Contract (configuration is not a data file, so its kind is ConfigError, exit 4): a ``dfos.toml`` or a
``DFOS_<KEY>`` value is loaded or refused with :class:`ConfigError`; a ``--set`` assignment is an
argument of the command, loaded or refused with :class:`UsageError` (exit 2).  Nothing else escapes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dfos.config.load import load_config, parse_assignment, render_toml
from dfos.config.settings import key_specs
from dfos.errors import ConfigError, UsageError
from fuzzing import fuzz

KEYS = sorted(key_specs())
_ODD = ["", " ", "0", "-1", "1e309", "-1e309", "nan", "inf", "1" * 5000, "yes", "NO", "\x00", "\udcff", "ü",
        "${HOME}", "'", '"', "\\", "\n", "a=b", "*=1/2G/60", "uves_cal_mflat=0", "2013-02-13T14:00:00",
        "2013-13-45T99:00:00", "{code}_{kind}_{yymmdd}{letter}_{setup}.fits", "{code}", "http://x", "ftp://x",
        "local", "SLURM", "CON", "phoenix", "../../etc", "/", "9" * 400]
_TOML_VALUES = ["1", "-1", "0", "1.5", "nan", "inf", "-inf", "1e400", "true", "false", '"text"', "'lit'", "[]",
                "[1, 2]", "{}", "{a = 1}", "2013-02-13T14:00:00", "2013-02-13", "14:00:00",
                "2013-02-13T14:00:00+01:00", '"""multi\nline"""', "9" * 30, "0x10", "1_000", '"\\u00e9"']


def _load_file(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    with contextlib.suppress(ConfigError):
        load_config(path, env={})


@given(st.binary(max_size=2000))
@fuzz
def test_random_bytes_as_dfos_toml(tmp_path: Path, data: bytes) -> None:
    _load_file(tmp_path / "dfos.toml", data)


@given(st.text(max_size=2000))
@fuzz
def test_random_text_as_dfos_toml(tmp_path: Path, text: str) -> None:
    _load_file(tmp_path / "dfos.toml", text.encode("utf-8", "surrogatepass"))


@st.composite
def near_valid_toml(draw: Any) -> bytes:
    """The generated dfos.toml with keys set to odd values, lines cut, swapped or duplicated, odd bytes."""
    lines = render_toml({}).splitlines()
    for _ in range(draw(st.integers(0, 8))):
        key = draw(st.sampled_from(KEYS))
        value = draw(st.one_of(st.sampled_from(_TOML_VALUES),
                               st.text(max_size=40).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"')
                                                        .replace("\n", "\\n") + '"')))
        written = draw(st.sampled_from([key, key.lower(), key + "X"]))
        lines.insert(draw(st.integers(0, len(lines))), f"{written} = {value}")
    for _ in range(draw(st.integers(0, 3))):
        if lines:
            index = draw(st.integers(0, len(lines) - 1))
            choice = draw(st.sampled_from(["cut", "dup", "swap", "trunc", "table", "nest"]))
            if choice == "cut":
                del lines[index]
            elif choice == "dup":
                lines.insert(index, lines[index])
            elif choice == "swap":
                other = draw(st.integers(0, len(lines) - 1))
                lines[index], lines[other] = lines[other], lines[index]
            elif choice == "trunc":
                lines[index] = lines[index][: draw(st.integers(0, max(0, len(lines[index]) - 1)))]
            elif choice == "table":
                lines.insert(index, draw(st.sampled_from(["[monitor]", "[monitor.sub]", "[[arr]]", "[", "[a.b.c]"])))
            else:
                depth = draw(st.integers(1, 3000))
                lines.insert(index, "N_DFO_HDR = " + "[" * depth + "1" + "]" * depth)
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


@given(near_valid_toml())
@fuzz
def test_near_valid_dfos_toml(tmp_path: Path, data: bytes) -> None:
    _load_file(tmp_path / "dfos.toml", data)


_VALUE = st.one_of(st.sampled_from(_ODD), st.text(max_size=200))


@given(st.dictionaries(st.sampled_from(KEYS), _VALUE, max_size=6))
@fuzz
def test_environment_values(values: dict[str, str]) -> None:
    with contextlib.suppress(ConfigError):
        load_config(None, env={f"DFOS_{key}": value for key, value in values.items()})


@given(st.lists(st.one_of(st.text(max_size=200),
                          st.tuples(st.sampled_from(KEYS), _VALUE).map(lambda kv: f"{kv[0]}={kv[1]}")), max_size=6))
@fuzz
def test_set_assignments(assignments: list[str]) -> None:
    with contextlib.suppress(UsageError):
        load_config(None, env={}, cli=dict(parse_assignment(text) for text in assignments))
