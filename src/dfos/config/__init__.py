"""Configuration: the key registry (:mod:`.settings`), the keys' checks (:mod:`.checks`), their typed values
(:mod:`.values`) and layered loading (:mod:`.load`)."""

from dfos.config.load import LoadedConfig, Origin, Source, load_config, parse_assignment, render_toml
from dfos.config.settings import DrsType, Flavour, KeySpec, QcbqsType, Settings, key_specs

__all__ = [
    "DrsType",
    "Flavour",
    "KeySpec",
    "LoadedConfig",
    "Origin",
    "QcbqsType",
    "Settings",
    "Source",
    "key_specs",
    "load_config",
    "parse_assignment",
    "render_toml",
]
