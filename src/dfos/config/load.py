"""Layered configuration loading with per-value provenance.

Layers, lowest to highest: embedded defaults (:class:`~dfos.config.settings.Settings`)
< the workspace's ``dfos.toml`` < ``DFOS_<KEY>`` environment variables < values
given on the command line (``--set KEY=VALUE`` and command options).  Each value
remembers where it came from, which ``dfos config show`` prints.

This module never reads ``os.environ`` itself: callers pass the environment as
a mapping, so tests and library users control it completely.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from dfos.config.settings import KeySpec, Settings, key_specs
from dfos.errors import ConfigError, InvalidDate, UsageError

__all__ = [
    "JobResources",
    "LoadedConfig",
    "Origin",
    "Source",
    "batch_resources",
    "load_config",
    "parse_assignment",
    "recipe_limits",
    "render_toml",
]


class Source(StrEnum):
    """Where a configuration value came from, least to most explicit."""

    DEFAULT = "default"
    FILE = "file"
    ENV = "environment"
    CLI = "command line"


@dataclass(frozen=True)
class Origin:
    """Provenance of one value."""

    source: Source
    """The layer that set the value."""
    where: str
    """Human pointer: ``embedded``, ``/ws/dfos.toml:12``, ``DFOS_N_DFO_HDR`` or ``--set``."""


@dataclass(frozen=True)
class LoadedConfig:
    """Settings after layering, with the origin of every key."""

    settings: Settings
    origins: Mapping[str, Origin]

    def rows(self) -> list[tuple[str, str, Origin]]:
        """``(key, rendered value, origin)`` for every key, in declaration order; secret values masked
        (:func:`dfos.config.secrets.shown_value`)."""
        from dfos.config.secrets import shown_value

        out = []
        for name, spec in key_specs().items():
            value = getattr(self.settings, name)
            shown = value.value if isinstance(value, Enum) else value
            out.append((name, shown_value(spec, str(shown)), self.origins[name]))
        return out


_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n"}


def _cast(spec: KeySpec, raw: Any, where: str) -> Any:
    """Convert a raw TOML or string value to the key's type, or raise ConfigError."""

    def bad(expected: str) -> ConfigError:
        shown = "(a secret, not shown)" if spec.secret else repr(raw)
        return ConfigError(f"{where}: {spec.name} = {shown} is not {expected}; fix or remove it")

    kind = spec.type
    if kind is bool:
        if isinstance(raw, bool):
            value: Any = raw
        elif isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            value = raw.strip().lower() in _TRUE
        else:
            raise bad("a boolean (yes/no)")
    elif kind is int:
        if isinstance(raw, bool):
            raise bad("an integer")
        try:
            value = int(raw) if isinstance(raw, (int, str)) else None
        except ValueError:
            value = None
        if value is None:
            raise bad("an integer")
    elif kind is float:
        if isinstance(raw, bool):
            raise bad("a number")
        try:
            value = float(raw) if isinstance(raw, (int, float, str)) else None
        except (ValueError, OverflowError):
            value = None
        if value is None:
            raise bad("a number")
    elif isinstance(kind, type) and issubclass(kind, Enum):
        choices = {m.value.lower(): m for m in kind}
        if not isinstance(raw, str) or raw.strip().lower() not in choices:
            raise bad("one of " + ", ".join(sorted(choices)))
        value = choices[raw.strip().lower()]
    else:
        if spec.name == "NOW" and isinstance(raw, datetime) and raw.tzinfo is None:
            raw = raw.isoformat()  # an unquoted TOML local date-time
        if not isinstance(raw, str):
            raise bad("a string")
        value = raw.strip()
    _validate(spec, value, where)
    return value


def _validate(spec: KeySpec, value: Any, where: str) -> None:
    """Key-specific checks beyond the type."""
    choices = _CHOICES.get(spec.name)
    if choices and value.casefold() not in {c.casefold() for c in choices}:
        raise ConfigError(f"{where}: {spec.name} must be {', '.join(choices[:-1])} or {choices[-1]}, not {value!r}")
    parse = _PARSED.get(spec.name)
    if parse is not None:
        try:
            parse(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {spec.name}: {exc}") from None
    if spec.name == "BATCH_POLL" and not (math.isfinite(value) and 0.05 <= value <= 600):
        raise ConfigError(f"{where}: BATCH_POLL must be between 0.05 and 600 seconds, not {value}")
    if spec.name in {"SLOTS"} and value < 0:
        raise ConfigError(f"{where}: {spec.name} must be 0 or more, not {value}")
    if spec.name == "RECIPE_TIMEOUT" and not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{where}: RECIPE_TIMEOUT must be a positive number of seconds, not {value}")
    if spec.name in {"N_DFO_HDR", "STATUS_KEEP_LINES", "N_MCAL_LIST", "N_VCAL_LIST", "DOWNLOAD_SLOTS",
                     "MAX_ATTEMPTS", "AB_WARN_LIMIT"} and value < 1:
        raise ConfigError(f"{where}: {spec.name} must be at least 1, not {value}")
    if spec.name == "MCAL_NAME_PATTERN":
        from dfos.errors import FormatError
        from dfos.naming import pattern_regex

        try:
            pattern_regex(value)
        except FormatError as exc:
            raise ConfigError(f"{where}: {exc.message}") from None
    if spec.name == "DOWNLOAD_RETRIES" and value < 0:
        raise ConfigError(f"{where}: DOWNLOAD_RETRIES must be 0 or more, not {value}")
    if spec.name == "ARCHIVE_URL" and value and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: ARCHIVE_URL must be an http:// or https:// URL, not {value!r}")
    if spec.name == "DATA_QUOTA" and not (math.isfinite(value) and 0 < value <= 100):
        raise ConfigError(f"{where}: DATA_QUOTA must be a percentage above 0 and at most 100, not {value}")
    if spec.name == "DFO_OFFSET" and not (math.isfinite(value) and -24 < value < 24):
        raise ConfigError(f"{where}: DFO_OFFSET must be hours between -24 and 24, not {value}")
    if spec.section == "directories" and not value:
        raise ConfigError(f"{where}: {spec.name} must name a directory, not be empty")
    if spec.name == "NOW" and value:
        from dfos.dates import parse_timestamp

        try:
            parse_timestamp(value)
        except InvalidDate as exc:
            raise ConfigError(f"{where}: NOW: {exc}") from None
    if spec.name == "INSTRUMENT" and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value):
        raise ConfigError(f"{where}: INSTRUMENT {value!r} is not an instrument name")


def recipe_limits(text: str) -> dict[str, int]:
    """``"recipe=n,recipe=n"`` as a dictionary (ValueError when malformed)."""
    limits: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        recipe, sep, count = item.partition("=")
        if not sep or not recipe.strip() or not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"{item!r} is not 'recipe=N' with N >= 1")
        limits[recipe.strip()] = int(count)
    return limits


@dataclass(frozen=True)
class JobResources:
    """What one batch job of a recipe asks for."""

    cpus: int = 1
    mem_mb: int | None = None
    """Memory in MB (None: the batch system's default)."""
    minutes: int | None = None
    """Time limit in minutes (None: the partition's)."""


_MEM_UNITS = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


def batch_resources(text: str) -> dict[str, JobResources]:
    """``"*=1/2G/60, uves_cal_mflat=2/4G/"`` (recipe=CPUS/MEMORY/MINUTES; ``*`` every other recipe;
    an empty field: the batch system's default) as a dictionary; ValueError when malformed."""
    found: dict[str, JobResources] = {"*": JobResources()}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        recipe, sep, spec = item.partition("=")
        fields = spec.split("/")
        if not sep or not recipe.strip() or len(fields) > 3:
            raise ValueError(f"{item!r} is not 'recipe=CPUS/MEMORY/MINUTES'")
        fields += [""] * (3 - len(fields))
        cpus_text, mem_text, minutes_text = (f.strip() for f in fields)
        if cpus_text and not (cpus_text.isdigit() and int(cpus_text) >= 1):
            raise ValueError(f"{item!r}: CPUS must be a whole number >= 1, not {cpus_text!r}")
        mem = None
        if mem_text:
            number, unit = (mem_text[:-1], mem_text[-1].upper()) if mem_text[-1].isalpha() else (mem_text, "M")
            if unit not in _MEM_UNITS or not number.isdigit() or int(number) < 1:
                raise ValueError(f"{item!r}: MEMORY must be like 500M or 4G, not {mem_text!r}")
            mem = max(1, round(int(number) * _MEM_UNITS[unit]))
        if minutes_text and not (minutes_text.isdigit() and int(minutes_text) >= 1):
            raise ValueError(f"{item!r}: MINUTES must be a whole number >= 1, not {minutes_text!r}")
        found[recipe.strip()] = JobResources(int(cpus_text) if cpus_text else 1, mem,
                                             int(minutes_text) if minutes_text else None)
    return found


#: Keys with a fixed set of values (any case).
_CHOICES: dict[str, tuple[str, ...]] = {"DRS_TYPE": ("CON", "CPL", "INT"), "EXECUTOR": ("local", "slurm", "condor"),
                                        "QCBQS_TYPE": ("SER", "PAR", "IMPLICIT")}
#: Keys whose text is parsed (ValueError when malformed).
_PARSED: dict[str, Callable[[str], object]] = {"RECIPE_LIMITS": recipe_limits, "BATCH_RESOURCES": batch_resources}


def _line_of(text: str, key: str, literal: bool = True) -> int | None:
    pattern = rf"^[ \t]*{re.escape(key)}[ \t]*=" if literal else rf"^[ \t]*{key}"
    match = re.search(pattern, text, flags=re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _toml_error(path: Path, text: str, message: str) -> str:
    """``path:line:col: malformed TOML: <reason>`` from tomllib's message."""
    where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if where:
        reason = message[: where.start()]
        return f"{path}:{where[1]}:{where[2]}: malformed TOML: {reason}; fix that line"
    reason = message.replace(" (at end of document)", "")
    return f"{path}:{max(1, len(text.splitlines()))}: malformed TOML at the end of the file: {reason}"


def _read_toml(path: Path) -> dict[str, tuple[Any, str]]:
    """Flatten a dfos.toml into ``{KEY: (value, "path:line")}``.

    Tables only group keys for the reader; a key may appear in any table or at
    top level, but only once.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error(path, text, str(exc))) from None
    except RecursionError:  # arrays or tables nested thousands deep
        raise ConfigError(f"{path}: malformed TOML: values nested too deeply; dfos keys hold plain values") from None
    specs = key_specs()
    found: dict[str, tuple[Any, str]] = {}

    def take(name: str, value: Any) -> None:
        line = _line_of(text, name)
        where = f"{path}:{line}" if line else str(path)
        if name not in specs:
            hint = f" (did you mean {name.upper()}?)" if name.upper() in specs else ""
            raise ConfigError(f"{where}: unknown configuration key {name!r}{hint}; see 'dfos config show'")
        if name in found:
            raise ConfigError(f"{where}: {name} is set twice in {path.name}; keep one")
        found[name] = (value, where)

    for name, value in data.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                if isinstance(inner_value, dict):
                    table_line = _line_of(text, rf"\[{re.escape(name)}\.{re.escape(inner)}\]", literal=False)
                    where = f"{path}:{table_line}" if table_line else str(path)
                    raise ConfigError(f"{where}: table [{name}.{inner}] is not a dfos section; use flat keys")
                take(inner, inner_value)
        else:
            take(name, value)
    return found


def parse_assignment(text: str) -> tuple[str, str]:
    """Split a ``KEY=VALUE`` command-line override."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--set {text!r}: write it as KEY=VALUE, e.g. --set N_DFO_HDR=3")
    return name.strip(), value


def load_config(
    toml_path: Path | None,
    env: Mapping[str, str],
    cli: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Build the settings of a workspace from all layers.

    Parameters
    ----------
    toml_path
        The workspace's ``dfos.toml``; None for defaults only.
    env
        The process environment (only ``DFOS_<KEY>`` entries are used).
    cli
        Command-line overrides ``{KEY: raw string}``.
    """
    specs = key_specs()
    values: dict[str, Any] = {name: spec.default for name, spec in specs.items()}
    origins: dict[str, Origin] = {name: Origin(Source.DEFAULT, "embedded") for name in specs}

    if toml_path is not None:
        for name, (raw, where) in _read_toml(toml_path).items():
            values[name] = _cast(specs[name], raw, where)
            origins[name] = Origin(Source.FILE, where)

    for name, spec in specs.items():
        if spec.env_var in env:
            values[name] = _cast(spec, env[spec.env_var], f"environment {spec.env_var}")
            origins[name] = Origin(Source.ENV, spec.env_var)

    for name, raw in (cli or {}).items():
        if name not in specs:
            raise UsageError(f"unknown configuration key {name!r} on the command line; see 'dfos config show'")
        try:
            values[name] = _cast(specs[name], raw, f"command line {name}")
        except ConfigError as exc:
            raise UsageError(exc.message) from None
        origins[name] = Origin(Source.CLI, f"--set {name}")

    values["INSTRUMENT"] = str(values["INSTRUMENT"]).upper()
    values["DRS_TYPE"] = str(values["DRS_TYPE"]).upper()
    values["QCBQS_TYPE"] = str(values["QCBQS_TYPE"]).upper()
    values["EXECUTOR"] = str(values["EXECUTOR"]).lower()
    return LoadedConfig(settings=Settings(**values), origins=origins)


def _toml_literal(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_toml(overrides: Mapping[str, Any], notes: Mapping[str, Sequence[str]] | None = None) -> str:
    """Render a commented ``dfos.toml``: overrides set, every other key shown commented out; ``notes``
    are comment lines written above a key (where its value comes from)."""
    specs = key_specs()
    lines = [
        "# dfos workspace configuration.",
        "# Layers: embedded defaults < this file < DFOS_<KEY> environment < command line.",
        "# Tables only group keys; 'dfos config show' prints every value and its origin.",
    ]
    section = None
    for name, spec in specs.items():
        if spec.section != section:
            section = spec.section
            lines += ["", f"[{section}]"]
        lines.append(f"# {spec.doc}")
        lines += [f"# {note}" for note in (notes or {}).get(name, ())]
        if name in overrides:
            lines.append(f"{name} = {_toml_literal(overrides[name])}")
        else:
            lines.append(f"# {name} = {_toml_literal(spec.default)}")
    return "\n".join(lines) + "\n"

