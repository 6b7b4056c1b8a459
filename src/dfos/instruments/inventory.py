"""What dfos can run on this machine (``dfos instruments``): every instrument plugin, its pipeline package
and version, whether esorex finds the recipes its rules name, where its rules come from, its product map.

Everything is read from the machine as it is: the plugin registry, ``/usr/share/cpl-plugins/<pipeline>-<version>``
and ``/usr/lib/*/cpl/plugins/<pipeline>-<version>``, ``dpkg-query`` (when there is one) and one
``esorex --recipes`` for all instruments.  A missing pipeline or esorex is reported, never an error.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dfos.errors import DfosError
from dfos.fsutil import write_text_atomic
from dfos.instruments.base import Instrument
from dfos.instruments.registry import registered
from dfos.oca.io import load_rules
from dfos.oca.syntax import RuleSet

__all__ = [
    "InstrumentReport",
    "RecipeCheck",
    "cached_esorex_recipes",
    "esorex_recipes",
    "inventory",
    "parse_recipe_list",
    "pipeline_version",
    "rule_sources",
]

#: Seconds a system tool (esorex, dpkg-query) may take before it counts as failed.
TOOL_TIMEOUT = 60.0

#: Where rules come from (the ``rules`` column).
ESO, DFOS, WORKSPACE = "ESO", "dfos", "workspace"


@dataclass(frozen=True)
class RecipeCheck:
    """Whether esorex finds the recipes a rule set names."""

    named: tuple[str, ...]
    """Recipes the rules name, sorted."""
    missing: tuple[str, ...]
    """Those esorex does not list."""
    esorex: bool
    """False: esorex is missing or failed, nothing could be checked."""

    @property
    def ok(self) -> bool:
        """esorex ran and lists every recipe the rules name."""
        return self.esorex and bool(self.named) and not self.missing

    def summary(self) -> str:
        """``13/13 recipes``, ``12/13 recipes, missing detmon_ir_lg``, ``esorex not found``."""
        if not self.esorex:
            return "esorex not found"
        if not self.named:
            return "no recipes named"
        found = len(self.named) - len(self.missing)
        text = f"{found}/{len(self.named)} recipes"
        return text + (f", missing {', '.join(self.missing)}" if self.missing else "")


@dataclass(frozen=True)
class InstrumentReport:
    """One row of ``dfos instruments``."""

    name: str
    origin: str
    """``built-in`` or ``entry point pkg.module:Class``."""
    pipeline: str
    package: str
    """Debian package of the pipeline (``cpl-plugin-naco``)."""
    version: str | None
    """Pipeline version from its installed directory (``4.4.11``); None: not installed."""
    package_version: str | None
    """``dpkg-query`` version of the package (``4.4.11+dfsg-1``); None: not installed or no dpkg-query."""
    rules_source: str
    """:data:`ESO` (the pipeline's installed .oca), :data:`DFOS` (dfos's own rule set) or :data:`WORKSPACE`
    (the workspace's ``OCA_RULES``)."""
    rules: tuple[str, ...]
    """The rule files, in reading order."""
    product_map: str | None
    """The file that names the actions' products: dfos's product map or the workspace's copy; for dfos's own
    rule set the rule file itself; None: none."""
    actions_with_products: int
    """Actions of the rule set that declare products."""
    actions_with_recipes: int
    recipes: RecipeCheck
    problem: str | None = None
    """Why the rules could not be read (pipeline not installed, a rule file error)."""

    @property
    def installed(self) -> bool:
        return self.version is not None

    @property
    def ok(self) -> bool:
        """The pipeline is installed, the rules read, and esorex finds every recipe they name."""
        return self.installed and self.problem is None and self.recipes.ok

    @property
    def status(self) -> str:
        """``ok``, ``NOT INSTALLED``, ``RULES UNREADABLE``, ``NO ESOREX`` or ``RECIPES MISSING``."""
        if not self.installed:
            return "NOT INSTALLED"
        if self.problem is not None:
            return "RULES UNREADABLE"
        if not self.recipes.esorex:
            return "NO ESOREX"
        return "ok" if self.recipes.ok else "RECIPES MISSING"

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready values (recipes with their counts, ``ok`` and ``installed``)."""
        doc = asdict(self)
        doc["rules"] = list(self.rules)
        doc["recipes"] = {"named": list(self.recipes.named), "missing": list(self.recipes.missing),
                          "esorex": self.recipes.esorex, "ok": self.recipes.ok, "summary": self.recipes.summary()}
        return {**doc, "installed": self.installed, "ok": self.ok, "status": self.status}


def parse_recipe_list(text: str) -> frozenset[str]:
    """Recipe names of ``esorex --recipes`` output: the lines ``  name  : description`` (two blanks in);
    continuation lines of descriptions are indented further and never match."""
    return frozenset(re.findall(r"^  ([A-Za-z_]\w*)\s*:", text, flags=re.MULTILINE))


def esorex_recipes(esorex: str = "esorex") -> frozenset[str] | None:
    """The recipes ``esorex --recipes`` lists (run once, argv list, with a timeout); None when esorex is
    missing, fails, times out or lists none."""
    program = shutil.which(esorex)
    if program is None:
        return None
    try:
        done = subprocess.run([program, "--recipes"], capture_output=True, text=True, errors="replace",
                              timeout=TOOL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    names = parse_recipe_list(done.stdout)
    return names or None  # a program that lists no recipe (a stand-in such as 'true') tells nothing


def _esorex_fingerprint(program: str) -> str:
    """What decides esorex's recipe list: the program itself and the installed pipelines' plugin
    directories (a package installed or removed changes their times)."""
    parts = [program]
    for path in [program, *sorted(glob.glob("/usr/lib/*/cpl/plugins")), *sorted(glob.glob("/usr/lib/*/cpl/plugins/*"))]:
        try:
            info = os.stat(path)
        except OSError:
            continue
        parts.append(f"{path}:{info.st_mtime_ns}:{info.st_size}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def cached_esorex_recipes(esorex: str, cache: Path) -> frozenset[str] | None:
    """:func:`esorex_recipes`, kept in ``cache`` (one name per line after a fingerprint line) until esorex
    or an installed pipeline changes: createAB asks for every run, esorex takes about a second to answer.
    None when esorex is missing or fails (nothing is cached then)."""
    program = shutil.which(esorex)
    if program is None:
        return None
    fingerprint = _esorex_fingerprint(program)
    try:
        first, *names = cache.read_text(encoding="utf-8").splitlines()
        if first == fingerprint:
            return frozenset(names)
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    found = esorex_recipes(program)
    if found is not None:
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            write_text_atomic(cache, "".join(f"{line}\n" for line in [fingerprint, *sorted(found)]))
    return found


def pipeline_version(pipeline: str) -> str | None:
    """The newest installed version of a pipeline, from ``/usr/share/cpl-plugins/<pipeline>-<version>``
    (else the recipe directory ``/usr/lib/*/cpl/plugins/<pipeline>-<version>``); None: not installed."""
    versions = set()
    for pattern in (f"/usr/share/cpl-plugins/{pipeline}-*", f"/usr/lib/*/cpl/plugins/{pipeline}-*"):
        for path in glob.glob(pattern):
            version = Path(path).name[len(pipeline) + 1:]
            if re.fullmatch(r"\d[\w.+~-]*", version):
                versions.add(version)
    return max(versions, key=_version_key) if versions else None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def package_version(package: str) -> str | None:
    """``dpkg-query -W -f '${Version}' PACKAGE`` (argv list, timeout); None when the package is not
    installed or there is no dpkg-query."""
    program = shutil.which("dpkg-query")
    if program is None:
        return None
    try:
        done = subprocess.run([program, "-W", "-f", "${Version}", package], capture_output=True, text=True,
                              errors="replace", timeout=TOOL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version else None


def rule_sources(plugin: Instrument, configured: Sequence[Path] = ()) -> tuple[str, list[Path]]:
    """Where the instrument's rules come from and which files: the workspace's ``OCA_RULES`` files when
    ``configured``, else dfos's own rule set, else ESO's installed .oca plus dfos's product map
    (:class:`~dfos.errors.PipelineMissing` when it is not installed)."""
    source = _source(plugin, configured)
    return source, list(configured) if source == WORKSPACE else plugin.rules_files()


def _source(plugin: Instrument, configured: Sequence[Path]) -> str:
    """Where the instrument's rules come from (the ``rules`` column), without reading anything."""
    return WORKSPACE if configured else DFOS if plugin.rules_name else ESO


def rule_recipes(rules: RuleSet) -> tuple[str, ...]:
    """The recipe names the rule set's actions name (the first word of each recipe string), sorted."""
    return tuple(sorted({action.recipe.split()[0] for action in rules.actions.values() if action.recipe}))


def _product_map(source: str, plugin: Instrument, paths: Sequence[Path]) -> str | None:
    """The file naming the actions' products (see :attr:`InstrumentReport.product_map`)."""
    if source == DFOS:
        return str(paths[0])
    if source == ESO:
        maps = plugin.product_map_files()
        return str(maps[0]) if maps else None
    eso = {str(p) for p in plugin.oca_files()}
    own = [p for p in paths if str(p) not in eso and p.name.endswith(".products.oca")]
    return str(own[0]) if own else None


def report(name: str, origin: str, plugin: Instrument, recipes: frozenset[str] | None,
           configured: Sequence[Path] = ()) -> InstrumentReport:
    """The inventory row of one instrument; ``recipes`` is esorex's list (None: esorex missing)."""
    version = pipeline_version(plugin.pipeline)
    base: dict[str, Any] = {
        "name": name, "origin": origin, "pipeline": plugin.pipeline, "package": plugin.debian_package,
        "version": version, "package_version": package_version(plugin.debian_package),
    }
    source = _source(plugin, configured)
    try:
        source, paths = rule_sources(plugin, configured)
        rules = load_rules(paths)
    except DfosError as exc:
        return InstrumentReport(**base, rules_source=source, rules=(), product_map=None, actions_with_products=0,
                                actions_with_recipes=0, recipes=RecipeCheck((), (), recipes is not None),
                                problem=exc.message)
    named = rule_recipes(rules)
    missing = tuple(r for r in named if recipes is not None and r not in recipes)
    actions = rules.actions.values()
    return InstrumentReport(
        **base, rules_source=source, rules=tuple(str(p) for p in paths),
        product_map=_product_map(source, plugin, paths),
        actions_with_products=sum(1 for a in actions if a.products),
        actions_with_recipes=sum(1 for a in actions if a.recipe),
        recipes=RecipeCheck(named, missing, recipes is not None),
    )


def inventory(esorex: str = "esorex", workspace_instrument: str | None = None,
              workspace_rules: Iterable[Path] = ()) -> list[InstrumentReport]:
    """Every instrument dfos knows, sorted by name.  ``esorex --recipes`` runs once for all.  Inside a
    workspace, its instrument's rules are the workspace's ``OCA_RULES`` files (``workspace_rules``)."""
    recipes = esorex_recipes(esorex)
    configured = list(workspace_rules)
    rows = []
    for name, entry in sorted(registered().items()):
        mine = configured if workspace_instrument is not None and name == workspace_instrument.upper() else []
        rows.append(report(name, entry.origin, entry.cls(), recipes, mine))
    return rows


def render_table(rows: Sequence[InstrumentReport]) -> str:
    """The plain-text table of ``dfos instruments``: one line per instrument, then its rule files."""
    header = ("INSTRUMENT", "STATUS", "ORIGIN", "PACKAGE", "VERSION", "RULES", "PRODUCTS", "RECIPES")
    lines = [header]
    for row in rows:
        version = row.package_version or row.version or f"- (apt-get install {row.package})"
        recipes = row.recipes.summary() if row.problem is None else "-"
        products = (f"{row.actions_with_products}/{row.actions_with_recipes} actions"
                    if row.problem is None else "-")
        lines.append((row.name, row.status, row.origin, row.package, version, row.rules_source, products, recipes))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)) + "  " + line[-1]
           for line in lines]
    out.append("")
    for row in rows:
        if row.problem:
            out.append(f"{row.name}: {row.problem}")
            continue
        out.append(f"{row.name}: rules {':'.join(row.rules)}")
        out.append(f"{' ' * len(row.name)}  product map {row.product_map or 'none'}")
    return "\n".join(line.rstrip() for line in out) + "\n"
