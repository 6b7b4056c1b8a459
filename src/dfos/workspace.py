"""Workspaces: a ``dfos.toml`` and the DFOS directory tree beneath it.

A workspace is what a ``.dfosrc`` describes at ESO: one instrument, one
flavour, and the ``$DFO_*`` directories.  Commands find it from ``--root``,
else ``DFOS_ROOT``, else by walking up from the current directory to the
first ``dfos.toml``.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path

from dfos.config.load import LoadedConfig, load_config, render_toml
from dfos.config.settings import Flavour, Settings, key_specs
from dfos.dates import parse_date
from dfos.errors import ConfigError, InvalidDate, UnknownInstrument, WorkspaceError
from dfos.fsutil import write_text_atomic
from dfos.instruments.base import Instrument
from dfos.instruments.registry import get_instrument
from dfos.keys import BatchId, KeyLike, Mode
from dfos.status.log import StatusLog

__all__ = ["CONFIG_FILE", "DIRECTORY_KEYS", "Workspace", "find_root", "init_workspace", "open_workspace",
           "read_workspace"]

#: The file that marks a workspace root.
CONFIG_FILE = "dfos.toml"

#: Settings keys that name the directories of the tree, in ``dfos env`` order.
DIRECTORY_KEYS = (
    "DFO_RAW_DIR",
    "DFO_HDR_DIR",
    "DFO_CAL_DIR",
    "DFO_SCI_DIR",
    "DFO_LOG_DIR",
    "DFO_PLT_DIR",
    "DFO_LST_DIR",
    "DFO_MON_DIR",
    "DFO_JOB_DIR",
    "DFO_CONFIG_DIR",
    "DFO_AB_DIR",
    "DFS_PRODUCT",
    "DFO_ARCHIVE_DIR",
)


@dataclass(frozen=True)
class Workspace:
    """An opened workspace: its root, its layered configuration, its paths."""

    root: Path
    config: LoadedConfig

    @property
    def settings(self) -> Settings:
        """The layered settings."""
        return self.config.settings

    @property
    def instrument(self) -> Instrument:
        """The instrument plugin of this workspace."""
        return get_instrument(self.settings.INSTRUMENT)

    def oca_rules(self) -> list[Path]:
        """The rule files ``OCA_RULES`` names, in order (relative ones from the workspace root); empty when
        it names none (then the instrument's own rules apply)."""
        return [Path(p) if Path(p).is_absolute() else self.root / p
                for p in self.settings.OCA_RULES.split(":") if p.strip()]

    def path(self, key: str) -> Path:
        """The absolute directory configured under ``key`` (e.g. ``DFO_RAW_DIR``)."""
        value = Path(str(getattr(self.settings, key)))
        return value if value.is_absolute() else self.root / value

    # Directories, named as in DFOS.
    @property
    def raw_dir(self) -> Path:
        return self.path("DFO_RAW_DIR")

    @property
    def hdr_dir(self) -> Path:
        return self.path("DFO_HDR_DIR")

    @property
    def cal_dir(self) -> Path:
        return self.path("DFO_CAL_DIR")

    @property
    def mcal_dir(self) -> Path:
        return self.cal_dir / "MCAL"

    @property
    def vcal_dir(self) -> Path:
        return self.cal_dir / "VCAL"

    @property
    def sci_dir(self) -> Path:
        """``$DFO_SCI_DIR``: certified science products, ``<DATE>/<science name>``."""
        return self.path("DFO_SCI_DIR")

    @property
    def log_dir(self) -> Path:
        return self.path("DFO_LOG_DIR")

    @property
    def lst_dir(self) -> Path:
        return self.path("DFO_LST_DIR")

    @property
    def mon_dir(self) -> Path:
        return self.path("DFO_MON_DIR")

    @property
    def job_dir(self) -> Path:
        return self.path("DFO_JOB_DIR")

    @property
    def ab_dir(self) -> Path:
        return self.path("DFO_AB_DIR")

    def ab_list(self, mode: Mode | str, key: KeyLike) -> Path:
        """``$DFO_MON_DIR/AB_list_<MODE>_<KEY>``: the ABs of a batch in cascade order (read and written
        with :mod:`dfos.ab.lists`; its writers hold :func:`dfos.ab.lists.ab_list_lock`)."""
        return self.mon_dir / f"AB_list_{BatchId.of(mode, key).render()}"

    @property
    def work_root(self) -> Path:
        """Where recipes run: ``$DFO_AB_DIR/.work`` (one directory per run; see docs/processing.md)."""
        return self.ab_dir / ".work"

    @property
    def archive_dir(self) -> Path:
        return self.path("DFO_ARCHIVE_DIR")

    @property
    def bin_dir(self) -> Path:
        """Where this dfos installation's programs are (``DFO_BIN_DIR``)."""
        return Path(sys.executable).parent

    @property
    def db_url(self) -> str:
        """The workspace database: ``DB_URL``, else SQLite ``dfos.sqlite`` in the workspace."""
        return self.settings.DB_URL or f"sqlite:///{self.root / 'dfos.sqlite'}"

    @cached_property
    def _variables(self) -> list[tuple[str, str]]:
        return sorted(((f"${name}", value) for name, value in self.env_vars()), key=lambda pair: -len(pair[0]))

    def expand(self, ref: str) -> Path:
        """A path written with DFOS variables (``$DFO_RAW_DIR/...``) as a real path."""
        for name, value in self._variables:
            if ref.startswith(name) and (len(ref) == len(name) or ref[len(name)] == "/"):
                return Path(value + ref[len(name) :])
        return Path(ref)

    @property
    def status_log(self) -> StatusLog:
        """``$DFO_MON_DIR/DFO_STATUS``."""
        return StatusLog(self.mon_dir / "DFO_STATUS")

    def date_dirs(self, key: str) -> list[date]:
        """Dates that have a ``YYYY-MM-DD`` subdirectory under the directory ``key``."""
        base = self.path(key)
        days = []
        if base.is_dir():
            for entry in base.iterdir():
                try:
                    day = parse_date(entry.name)
                except InvalidDate:
                    continue
                if entry.is_dir():
                    days.append(day)
        return sorted(days)

    def tree(self) -> list[Path]:
        """Every directory of the DFOS tree this workspace should have (``$DFO_SCI_DIR`` in every
        flavour: move -m SCIENCE puts certified science products there)."""
        return [*(self.path(key) for key in DIRECTORY_KEYS), self.mcal_dir, self.vcal_dir]

    def env_vars(self) -> list[tuple[str, str]]:
        """The DFOS environment (``DFO_*`` variables) for scripts and cron lines."""
        s = self.settings
        pairs = [
            ("DFOS_ROOT", str(self.root)),
            ("DFO_INSTRUMENT", s.INSTRUMENT),
            ("DFO_FILE_NAME", self.instrument.file_prefix),
            ("DFO_FLAVOUR", s.FLAVOUR.value),
            ("DFO_OFFSET", _number(s.DFO_OFFSET)),
            ("DFO_BIN_DIR", str(self.bin_dir)),
        ]
        pairs += [(key, str(self.path(key))) for key in DIRECTORY_KEYS]
        return pairs

    def env_script(self) -> str:
        """``export NAME=value`` lines, shell-quoted, for ``eval "$(dfos env)"``."""
        return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in self.env_vars())


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def find_root(explicit: Path | None, env: Mapping[str, str], cwd: Path) -> Path:
    """Locate the workspace root: ``--root``, else ``DFOS_ROOT``, else walk up from ``cwd``."""
    if explicit is not None:
        root, how = explicit, "--root"
    elif env.get("DFOS_ROOT"):
        root, how = Path(env["DFOS_ROOT"]), "DFOS_ROOT"
    else:
        for candidate in (cwd, *cwd.parents):
            if (candidate / CONFIG_FILE).is_file():
                return candidate.resolve()
        raise WorkspaceError(
            f"no dfos workspace here: no {CONFIG_FILE} in {cwd} or above; "
            "create one with 'dfos init DIR', or pass --root DIR or set DFOS_ROOT"
        )
    root = root.expanduser()
    if not (root / CONFIG_FILE).is_file():
        raise WorkspaceError(
            f"{how} points to {root}, which is not a dfos workspace (no {CONFIG_FILE}); "
            "create one with 'dfos init DIR'"
        )
    return root.resolve()


def open_workspace(
    root: Path | None,
    env: Mapping[str, str],
    cli: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Workspace:
    """Find and open a workspace, layering its configuration."""
    found = find_root(root, env, cwd or Path.cwd())
    config = load_config(found / CONFIG_FILE, env, cli)
    _check_instrument(config)
    return Workspace(root=found, config=config)


def read_workspace(root: Path, env: Mapping[str, str] | None = None) -> Workspace:
    """Open the workspace whose root is ``root`` exactly (no walking up, no ``DFOS_ROOT``), reading only its
    ``dfos.toml`` (and ``env``, default none): for a tool that looks at another workspace (``dfos compare``).
    Nothing is created or changed."""
    root = Path(root).expanduser()
    if not (root / CONFIG_FILE).is_file():
        raise WorkspaceError(f"{root} is not a dfos workspace (no {CONFIG_FILE})")
    config = load_config(root / CONFIG_FILE, env or {})
    _check_instrument(config)
    return Workspace(root=root.resolve(), config=config)


def _check_instrument(config: LoadedConfig) -> None:
    """An unknown INSTRUMENT is a configuration error that names where it was set."""
    try:
        get_instrument(config.settings.INSTRUMENT)
    except UnknownInstrument as exc:
        origin = config.origins["INSTRUMENT"]
        if origin.source.value == "command line":
            raise
        raise ConfigError(f"{origin.where}: {exc.message}") from None


@dataclass(frozen=True)
class _EsoRules:
    """The rules of an instrument that uses its pipeline's installed .oca: ESO's files plus dfos's product
    map, which ``init`` copies into the workspace's config directory (the operator edits the copy)."""

    plugin: Instrument
    oca: tuple[Path, ...]
    product_map: Path | None

    def _copy_name(self) -> str | None:
        if self.product_map is None:
            return None
        return f"{key_specs()['DFO_CONFIG_DIR'].default}/{self.product_map.name}"

    def setting(self) -> str:
        """The OCA_RULES value: ESO's files (absolute), then the copy (relative to the workspace root)."""
        copy = self._copy_name()
        return ":".join([*(str(p) for p in self.oca), *([copy] if copy else [])])

    def notes(self) -> list[str]:
        """Comment lines for dfos.toml saying where each rule file comes from."""
        version = pipeline_version_of(self.oca[0])
        lines = [f"{self.plugin.name} rules, read in this order:"]
        lines += [f"  {p}: ESO's rules, installed by the Debian package {self.plugin.debian_package} {version} "
                  "(do not edit; a pipeline upgrade changes this path)" for p in self.oca]
        copy = self._copy_name()
        if copy and self.product_map is not None:
            lines.append(f"  {copy}: dfos's product map (the PRO.CATG each action makes), a copy of "
                         f"dfos/rules/{self.product_map.name}; edit it here")
        return lines

    def copy_product_map(self, root: Path) -> None:
        """Copy dfos's product map into the workspace's config directory (an existing copy is kept)."""
        copy = self._copy_name()
        if copy is None or self.product_map is None:
            return
        target = root / copy
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(target, self.product_map.read_text(encoding="utf-8"))


def pipeline_version_of(oca: Path) -> str:
    """The pipeline version in an installed rule file's path (``.../naco-4.4.11/gasgano/...`` -> ``4.4.11``)."""
    for part in oca.parts:
        if "-" in part and part.split("-", 1)[1][:1].isdigit():
            return part.split("-", 1)[1]
    return "(version unknown)"


def _eso_rules(plugin: Instrument) -> _EsoRules | None:
    """ESO's rules for ``plugin`` when it has no dfos rule set of its own (None: it has);
    :class:`~dfos.errors.PipelineMissing` naming the Debian package when they are not installed."""
    if plugin.rules_name:
        return None
    maps = plugin.product_map_files()
    return _EsoRules(plugin, tuple(plugin.require_oca_files()), maps[0] if maps else None)


def init_workspace(
    directory: Path,
    env: Mapping[str, str],
    instrument: str | None = None,
    flavour: str | None = None,
) -> tuple[Workspace, bool]:
    """Create (or complete) a workspace in ``directory``.

    Returns the workspace and whether ``dfos.toml`` was newly written.  An
    existing workspace keeps its ``dfos.toml``; asking for a different
    instrument or flavour than it has is an error.
    """
    directory = directory.expanduser().resolve()
    if directory.exists() and not directory.is_dir():
        raise WorkspaceError(f"{directory} exists and is not a directory; choose another path")
    config_path = directory / CONFIG_FILE
    overrides: dict[str, str] = {}
    plugin = get_instrument(instrument) if instrument is not None else None
    if plugin is not None:
        overrides["INSTRUMENT"] = plugin.name
    if flavour is not None:
        overrides["FLAVOUR"] = Flavour(flavour.lower()).value
    created = not config_path.exists()
    if not created:
        # what the workspace *is* comes from its file, not from this shell's DFOS_* variables
        on_file = load_config(config_path, env={}).settings
        for key, wanted in overrides.items():
            have = getattr(on_file, key)
            have = have.value if isinstance(have, Flavour) else have
            if have != wanted:
                raise WorkspaceError(
                    f"{directory} is already a workspace with {key} = {have}; "
                    f"edit {config_path} to change it, or choose another directory"
                )
    eso = _eso_rules(plugin) if created and plugin is not None else None
    try:
        if created:
            directory.mkdir(parents=True, exist_ok=True)
            notes: dict[str, list[str]] = {}
            if eso is not None:
                overrides["OCA_RULES"], notes["OCA_RULES"] = eso.setting(), eso.notes()
                eso.copy_product_map(directory)
            write_text_atomic(config_path, render_toml(overrides, notes))
        config = load_config(config_path, env)
        _check_instrument(config)
        workspace = Workspace(root=directory, config=config)
        for path in workspace.tree():
            path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create {exc.filename}: {exc.strerror}; choose a writable place") from None
    return workspace, created

