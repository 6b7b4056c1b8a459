"""Waiting on what a test can observe, instead of sleeping for a time that assumes a machine's speed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 60.0, interval: float = 0.05,
               what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy and return that value.

    ``timeout`` is a hang guard, not a speed assumption: a slow machine only waits longer.  On timeout
    an :class:`AssertionError` names ``what`` (and the last value seen), so a failing test says which
    state never came.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last value: {value!r})")
        time.sleep(interval)
