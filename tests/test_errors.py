"""The error tree and the exit codes: one documented tree, the same codes in the code, README and docs."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import dfos
import dfos.errors
from dfos.errors import DfosError, ExitCode

ROOT = Path(__file__).resolve().parents[1]


def _kinds() -> list[type[DfosError]]:
    for info in pkgutil.walk_packages(dfos.__path__, prefix="dfos."):
        importlib.import_module(info.name)

    def below(cls: type[DfosError]) -> list[type[DfosError]]:
        return [c for sub in cls.__subclasses__() for c in (sub, *below(sub))]

    return [c for c in below(DfosError) if not c.__name__.startswith("_")]


def test_the_exit_codes_are_the_documented_ones() -> None:
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0, "FAILURE": 1, "USAGE": 2, "WORKSPACE": 3, "CONFIG": 4, "FORMAT": 5, "EXTERNAL_TOOL": 6,
        "AB_FAILED": 10, "CASCADE_FAILED": 11, "CASCADE_BUSY": 12, "AUTO_DAILY_BUSY": 13, "WAITS_FOR_PERSON": 14,
        "DIFFER": 15, "INTERRUPTED": 130}
    assert [int(c) for c in ExitCode if c.outcome] == [10, 11, 12, 13, 14, 15]


def test_every_error_kind_sits_in_the_documented_tree_with_its_code() -> None:
    """The tree in dfos.errors names every public DfosError subclass, wherever it is defined, and the
    code it gives beside it is the class's exit code (a kind without one has its parent's)."""
    tree = (dfos.errors.__doc__ or "").split("::", 1)[1].split("Outcomes", 1)[0]
    lines = {m[1]: m[2] for m in re.finditer(r"── (\w+)\s+(?:exit (\d+))?", tree)}
    kinds = _kinds()
    assert {k.__name__ for k in kinds} == set(lines)
    for kind in kinds:
        stated = lines[kind.__name__]
        if stated is not None:
            assert int(stated) == kind.exit_code, kind
        parent = kind.__mro__[1]
        assert parent is DfosError or parent.__name__ in lines, kind
        assert kind.exit_code in ExitCode.__members__.values() and kind.exit_code > 1, kind


def test_the_outcome_codes_of_the_commands_are_the_exit_codes() -> None:
    from dfos.cascade.run import CASCADE_BUSY, CASCADE_FAILED, CascadeBusy
    from dfos.cli.commands.processing import FAILED_EXIT
    from dfos.steps.auto_daily import AUTO_DAILY_BUSY, AutoDailyBusy

    assert (FAILED_EXIT, CASCADE_FAILED, CASCADE_BUSY, AUTO_DAILY_BUSY) == (10, 11, 12, 13)
    assert (CascadeBusy.exit_code, AutoDailyBusy.exit_code) == (ExitCode.CASCADE_BUSY, ExitCode.AUTO_DAILY_BUSY)


def test_readme_and_the_security_notes_list_the_same_codes() -> None:
    security = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    table = {int(m[1]) for m in re.finditer(r"^\| (\d+) \|", security, flags=re.MULTILINE)}
    assert table == {int(c) for c in ExitCode if 2 <= c <= 15}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Errors and exit codes", 1)[1].split("\n## ", 1)[0]
    for code in (c for c in ExitCode if 2 <= c <= 15):
        assert re.search(rf"\b{int(code)}\b", section), code
