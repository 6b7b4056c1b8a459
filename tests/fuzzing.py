"""The fuzzing budget shared by every parser's fuzz test (tests/fuzz/).

Each parser's contract is "parse or raise FormatError", within a time limit per input. ``make test``
runs a short fuzz (FUZZ_EXAMPLES inputs per parser, default 150); ``make fuzz`` runs a long one and
prints, through Hypothesis' statistics, how many inputs each parser was given.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Inputs per parser: short in make test, long in make fuzz.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
#: One input may take at most this long (ms) to be parsed or refused.
DEADLINE_MS = 2000

fuzz = settings(max_examples=EXAMPLES, deadline=DEADLINE_MS, derandomize=EXAMPLES <= 150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
"""Decorate a fuzz test with ``@fuzz`` (below ``@given``)."""


@st.composite
def mutated_bytes(draw: st.DrawFn, samples: Sequence[bytes], odd: Sequence[bytes], huge: Sequence[bytes]) -> bytes:
    """One of ``samples`` (real files) with 1-4 mutations: a cut, an inserted odd byte run (from ``odd`` or
    random), an inserted ``huge`` run, a line duplicated or two lines swapped, or the file truncated."""
    data = draw(st.sampled_from(list(samples)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["cut", "insert", "huge", "duplicate", "swap", "truncate"]))
        if kind == "cut":
            data = data[:at] + data[at + draw(st.integers(1, 40)):]
        elif kind == "insert":
            data = data[:at] + draw(st.sampled_from(list(odd)) | st.binary(max_size=8)) + data[at:]
        elif kind == "huge":
            data = data[:at] + draw(st.sampled_from(list(huge))) + data[at:]
        elif kind in ("duplicate", "swap"):
            lines = data.split(b"\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if kind == "duplicate":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        else:
            data = data[:at]
    return data
