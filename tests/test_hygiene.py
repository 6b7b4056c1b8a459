"""Code hygiene the project promises: small modules, honest public APIs, docstrings, layering."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import dfos
import dfos.errors

SRC = Path(dfos.__file__).parent
MODULES = sorted(SRC.rglob("*.py"))


def test_no_module_over_600_lines() -> None:
    sizes = {str(p.relative_to(SRC)): len(p.read_text().splitlines()) for p in MODULES}
    assert {name: n for name, n in sizes.items() if n > 600} == {}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_every_module_states_its_responsibility(path: Path) -> None:
    if path.name == "__init__.py" and not path.read_text().strip():
        return
    assert ast.get_docstring(ast.parse(path.read_text())), f"{path} has no module docstring"


def test_every_name_in___all___exists() -> None:
    for info in pkgutil.walk_packages([str(SRC)], prefix="dfos."):
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"{info.name}.__all__ names missing {name!r}"


def _uses(path: Path, owner: str, attr: str) -> bool:
    return any(
        isinstance(node, ast.Attribute) and node.attr == attr
        and isinstance(node.value, ast.Name) and node.value.id == owner
        for node in ast.walk(ast.parse(path.read_text()))
    )


def test_only_the_cli_reads_the_environment() -> None:
    """The library takes the environment as an argument; only the command line passes os.environ
    (and processAB hands it on to the recipe it starts)."""
    readers = {str(p.relative_to(SRC)) for p in MODULES if _uses(p, "os", "environ") or _uses(p, "os", "getenv")}
    assert readers == {"cli/context.py", "steps/process_ab.py"}


def test_only_the_clock_reads_the_system_time() -> None:
    calls = ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time(", "datetime.today(")
    readers = {str(p.relative_to(SRC)) for p in MODULES if any(c in p.read_text() for c in calls)}
    assert readers == {"clock.py"}


def test_every_error_raised_has_a_documented_exit_code() -> None:
    """DfosError itself is abstract: each raise names a kind whose exit code is 2-6, or an outcome 10-14."""
    raising_root = [str(p.relative_to(SRC)) for p in MODULES
                    if any(isinstance(n, ast.Raise) and isinstance(n.exc, ast.Call)
                           and isinstance(n.exc.func, ast.Name) and n.exc.func.id == "DfosError"
                           for n in ast.walk(ast.parse(p.read_text())))]
    assert raising_root == []
    for info in pkgutil.walk_packages([str(SRC)], prefix="dfos."):
        importlib.import_module(info.name)

    def subclasses(cls: type[dfos.errors.DfosError]) -> list[type[dfos.errors.DfosError]]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    codes = {c.__qualname__: c.exit_code for c in subclasses(dfos.errors.DfosError)}
    assert codes and {n: c for n, c in codes.items() if c not in (2, 3, 4, 5, 6, 10, 11, 12, 13)} == {}
