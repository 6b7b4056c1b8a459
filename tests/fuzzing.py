"""The fuzzing budget shared by every parser's fuzz test (tests/fuzz/).

Each parser's contract is "parse or raise FormatError", within a time limit per input. ``make test``
runs a short fuzz (FUZZ_EXAMPLES inputs per parser, default 150); ``make fuzz`` runs a long one and
prints, through Hypothesis' statistics, how many inputs each parser was given.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: Inputs per parser: short in make test, long in make fuzz.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
#: One input may take at most this long (ms) to be parsed or refused.
DEADLINE_MS = 2000

fuzz = settings(max_examples=EXAMPLES, deadline=DEADLINE_MS, derandomize=EXAMPLES <= 150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
"""Decorate a fuzz test with ``@fuzz`` (below ``@given``)."""
