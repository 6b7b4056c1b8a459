"""Configuration: the key registry (:mod:`.settings`) and layered loading (:mod:`.load`)."""

from dfos.config.load import LoadedConfig, Origin, Source, load_config, parse_assignment, render_toml
from dfos.config.settings import Flavour, KeySpec, Settings, key_specs

__all__ = [
    "Flavour",
    "KeySpec",
    "LoadedConfig",
    "Origin",
    "Settings",
    "Source",
    "key_specs",
    "load_config",
    "parse_assignment",
    "render_toml",
]
