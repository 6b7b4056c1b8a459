"""A dfos command killed (``SIGKILL``, as ``kill -9``) at an exact point of its work, for tests of what a
killed run leaves and how the next run resumes.

The command runs in a Python process of its own (the CLI's ``main``, as a user runs it) in which one function is
wrapped: once the wrapped call has been made ``nth`` times, the process kills itself, before or after the call.
So a test places a kill between two steps that take milliseconds (a move's flag and its plan's removal), which
a kill from outside rarely hits.  Nothing in dfos knows of it: the process dies as any killed dfos dies.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["AFTER_FLAG", "run_killed"]

_CHILD = r"""
import importlib, inspect, os, signal, sys
spec, when, nth, text = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
module_name, _, attribute = spec.partition(":")
owner = importlib.import_module(module_name)
for part in attribute.split(".")[:-1]:
    owner = getattr(owner, part)
name = attribute.split(".")[-1]
original = getattr(owner, name)
static = isinstance(owner, type) and isinstance(inspect.getattr_static(owner, name), staticmethod)
calls = 0

def shown(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)

def wrapped(*args, **kwargs):
    global calls
    if text and not any(text in shown(a) for a in (*args, *kwargs.values())):
        return original(*args, **kwargs)
    calls += 1
    if calls == nth and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    result = original(*args, **kwargs)
    if calls == nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return result

setattr(owner, name, staticmethod(wrapped) if static else wrapped)
from dfos.cli.main import main
sys.exit(main(sys.argv[5:]))
"""

#: What writes DFO_STATUS lines: ``run_killed(..., AFTER_FLAG, text="sci_Updated 2013-02-12")`` kills the command
#: right after that flag of that date is written (by any of the status log's ways to append).
AFTER_FLAG = "dfos.status.log:StatusLog._write_all"


def run_killed(argv: Sequence[str], function: str, *, when: str = "after", nth: int = 1, text: str = "",
               env: Mapping[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``dfos <argv>`` and kill it at the ``nth`` call of ``function`` (``module:Class.name``), ``before`` or
    ``after`` the call; with ``text``, only calls with an argument that holds it (as text) count.  The process's
    result (its return code is -9 when the kill came, the command's own when it never made the call)."""
    assert when in ("before", "after")
    return subprocess.run([sys.executable, "-c", _CHILD, function, when, str(nth), text, *argv],
                          env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True, timeout=600,
                          check=False)
