"""The thresholds dfos ships per instrument (``<INSTRUMENT>.toml``); a workspace overrides them with
``$DFO_CONFIG_DIR/thresholds_<INSTRUMENT>.toml``."""
