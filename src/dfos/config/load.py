"""Layered configuration loading with per-value provenance.

Layers, lowest to highest: embedded defaults (:class:`~dfos.config.settings.Settings`)
< the workspace's ``dfos.toml`` < ``DFOS_<KEY>`` environment variables < values
given on the command line (``--set KEY=VALUE`` and command options).  Each value
remembers where it came from, which ``dfos config show`` prints.

This module never reads ``os.environ`` itself: callers pass the environment as
a mapping, so tests and library users control it completely.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from dfos.config.settings import KeySpec, Settings, key_specs
from dfos.config.values import JobResources, batch_resources, recipe_limits
from dfos.errors import ConfigError, UsageError

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


def _as_bool(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    return None


def _as_int(raw: Any) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _as_float(raw: Any) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return None
    try:
        return float(raw)
    except (ValueError, OverflowError):
        return None


def _as_text(raw: Any) -> str | None:
    if isinstance(raw, datetime) and raw.tzinfo is None:
        raw = raw.isoformat()  # an unquoted TOML local date-time (NOW = 2013-02-13T10:00:00)
    return raw.strip() if isinstance(raw, str) else None


#: How a raw TOML or environment value becomes a value of each plain type (None: it cannot), and what
#: the refusal says it should have been.
_CASTS: dict[type, tuple[Callable[[Any], Any], str]] = {
    bool: (_as_bool, "a boolean (yes/no)"),
    int: (_as_int, "an integer"),
    float: (_as_float, "a number"),
    str: (_as_text, "a string"),
}


def _members(kind: type) -> dict[str, Enum] | None:
    """A choice key's members by their lower-case value; None for a plain type."""
    if not issubclass(kind, Enum):
        return None
    return {str(m.value).lower(): m for m in kind.__members__.values()}


def _cast(spec: KeySpec, raw: Any, where: str) -> Any:
    """Convert a raw TOML or string value to the key's type and check it (the key's own checks), or raise
    ConfigError.  A choice key (an Enum) is checked as text, then becomes its member (any case)."""

    def bad(expected: str) -> ConfigError:
        shown = "(a secret, not shown)" if spec.secret else repr(raw)
        return ConfigError(f"{where}: {spec.name} = {shown} is not {expected}; fix or remove it")

    members = _members(spec.type)
    convert, expected = _CASTS[str if members is not None else spec.type]
    if members is not None:
        expected = "one of " + ", ".join(sorted(str(m.value) for m in members.values()))
    value = convert(raw)
    if value is None:
        raise bad(expected)
    for check in spec.checks:
        problem = check(spec.name, value)
        if problem is not None:
            raise ConfigError(f"{where}: {problem}")
    if members is not None:
        if value.lower() not in members:
            raise bad(expected)
        return members[value.lower()]
    return spec.normal(value) if spec.normal is not None else value


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

