"""The typed configuration of a dfos installation: every key, its type, default and meaning.

This module is the single registry of configuration keys.  Each field of
:class:`Settings` is one key; its name is the key (``N_DFO_HDR``), its type is
the field annotation, its default is the embedded default, and its metadata
carry the section it belongs to in ``dfos.toml`` and a one-line description.
Every key ``KEY`` can be overridden by the environment variable ``DFOS_KEY``.
Loading (files, environment, provenance) lives in :mod:`dfos.config.load`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Flavour", "KeySpec", "Settings", "key_specs"]


class Flavour(StrEnum):
    """The workflow environment of an installation (the dfoMonitor logo)."""

    DFOS_OPS = "dfos_ops"
    """Daily QC operations: dates, CALIB processing, certification."""
    PHOENIX = "phoenix"
    """Archive reprocessing by date, month, run or pseudo-date."""
    OPSHUB = "opshub"
    """Project-based processing (distillery); projects instead of dates."""


def _key(default: Any, section: str, doc: str, secret: bool = False) -> Any:
    return field(default=default, metadata={"section": section, "doc": doc, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """All configuration values of one workspace, after layering.

    Relative directory values are relative to the workspace root.
    """

    # -- workspace -----------------------------------------------------------
    INSTRUMENT: str = _key("UVES", "workspace", "instrument plugin (DFO_INSTRUMENT), e.g. UVES, GIRAFFE")
    FLAVOUR: Flavour = _key(Flavour.DFOS_OPS, "workspace", "workflow flavour: dfos_ops, phoenix or opshub")

    # -- directories (the $DFO_* tree) ------------------------------------------
    DFO_RAW_DIR: str = _key("raw", "directories", "raw FITS per date (transient)")
    DFO_HDR_DIR: str = _key("headers", "directories", "raw headers (.hdr) per date (permanent)")
    DFO_CAL_DIR: str = _key("calib", "directories", "certified calibrations per date, MCAL and VCAL memory")
    DFO_SCI_DIR: str = _key("reduced", "directories", "science products per date (phoenix)")
    DFO_LOG_DIR: str = _key("logs", "directories", "pipeline logs, ABs and SOFs per date")
    DFO_PLT_DIR: str = _key("plots", "directories", "QC plots per date")
    DFO_LST_DIR: str = _key("lists", "directories", "reports, ingestion lists, filter lists")
    DFO_MON_DIR: str = _key("monitor", "directories", "DFO_STATUS, AB lists, monitor pages, process logs")
    DFO_JOB_DIR: str = _key("jobs", "directories", "job files (JOBS_NIGHT, ...), execAB and execQC files")
    DFO_CONFIG_DIR: str = _key("config", "directories", "tool configuration, OCA rules, thresholds")
    DFO_AB_DIR: str = _key("AB", "directories", "Association Blocks during processing")
    DFS_PRODUCT: str = _key("products", "directories", "pipeline products before certification")
    DFO_ARCHIVE_DIR: str = _key("archive", "directories", "the embedded local archive (stands in for NGAS)")

    # -- dates ---------------------------------------------------------------
    DFO_OFFSET: float = _key(0.0, "dates", "hours added to the 12:00 UT date boundary")
    NOW: str = _key("", "dates", "pretend the current UT time is this (YYYY-MM-DDThh:mm:ss); empty: the real clock")

    # -- association (createAB) --------------------------------------------------
    OCA_RULES: str = _key("", "association", "OCA rule files, ':'-separated, in order; empty: the instrument's own")
    N_MCAL_LIST: int = _key(10, "association", "newest MCAL dates (up to the date) in the calibration memory")
    N_VCAL_LIST: int = _key(3, "association", "newest VCAL dates (up to the date) in the calibration memory")
    DRS_TYPE: str = _key("CON", "association", "cascade execution: CON (DAG), CPL (serial), INT (recipe-parallel)")

    # -- processing ----------------------------------------------------------------
    DB_URL: str = _key("", "processing", "workspace database URL; empty: SQLite file dfos.sqlite in the workspace",
                       secret=True)
    ESOREX: str = _key("esorex", "processing", "the esorex program processAB runs")
    RECIPE_TIMEOUT: float = _key(3600.0, "processing", "seconds a recipe may run before it is killed")
    SLOTS: int = _key(0, "processing", "ABs run at once by the local executor; 0: one per core")
    DOWNLOAD_SLOTS: int = _key(8, "processing", "parallel downloads at most (the OPSHUB flavour: 1)")
    DOWNLOAD_RETRIES: int = _key(3, "processing", "attempts after a failed or corrupted download")
    ARCHIVE_URL: str = _key("", "processing", "an HTTP archive (dfos archive serve); empty: DFO_ARCHIVE_DIR")
    MAX_ATTEMPTS: int = _key(1, "processing", "runs of a failing AB before it counts as failed")
    RECIPE_LIMITS: str = _key("", "processing", "ABs of one recipe at once at most: 'uves_cal_mflat=1,gimasterbias=2'")
    QCBQS_TYPE: str = _key("IMPLICIT", "processing", "QC jobs: SER, PAR or IMPLICIT (inside processAB)")
    MCAL_NAME_PATTERN: str = _key("{code}_{kind}_{yymmdd}{letter}_{setup}.fits", "processing",
                                  "certified calibration names; each of {code} {kind} {yymmdd} {letter} {setup} once")

    # -- batch systems (exec-cascade --executor slurm|condor) -----------------------------
    EXECUTOR: str = _key("local", "batch", "where cascades run: local (this machine), slurm or condor")
    BATCH_DFOS: str = _key("", "batch", "the dfos program on the batch nodes; empty: the one running now")
    BATCH_RESOURCES: str = _key("*=1//", "batch",
                                "per recipe CPUS/MEMORY/MINUTES of a batch job: '*=1/2G/60, uves_cal_mflat=2/4G/'")
    BATCH_POLL: float = _key(1.0, "batch", "seconds between two looks at the batch system's queue")
    SLURM_OPTIONS: str = _key("", "batch", "more sbatch options for every job, e.g. '--partition=qc --account=dfo'")
    CONDOR_COMMAND: str = _key("", "batch", "argument list put before every condor_* command, e.g. to reach "
                                            "a pool in a chroot: 'chroot --userspec=ci /srv/condor-root'")

    # -- status and monitor ----------------------------------------------------
    N_DFO_HDR: int = _key(20, "status", "newest header dates considered for the date table")
    STATUS_KEEP_LINES: int = _key(5000, "status", "lines DFO_STATUS keeps when it is trimmed")
    AB_WARN_LIMIT: int = _key(2500, "status", "ABs in $DFO_AB_DIR above which the monitor shows the count red")
    DATA_QUOTA: float = _key(100.0, "status", "percent of the data disk this installation may use (XDM)")

    # -- the monitor (dfos monitor serve) ----------------------------------------------
    MONITOR_PASSWORD: str = _key("", "monitor", "password for the monitor's actions; empty: a token printed at start "
                                 "(prefer DFOS_MONITOR_PASSWORD or MONITOR_PASSWORD_FILE)", secret=True)
    MONITOR_PASSWORD_FILE: str = _key("", "monitor", "file holding the monitor's password (first line; readable by "
                                      "its owner only); relative to the workspace")
    MONITOR_PUBLIC: bool = _key(False, "monitor", "show the read-only pages without login")
    MONITOR_LINKS: str = _key("", "monitor", "link bar: 'LABEL|TITLE|URL' entries, BREAK and SPACE, ';'-separated")


@dataclass(frozen=True)
class KeySpec:
    """Description of one configuration key."""

    name: str
    """The key, e.g. ``N_DFO_HDR``."""
    type: type
    """Python type of the value (str, int, float, bool or an Enum)."""
    default: Any
    """The embedded default."""
    section: str
    """The ``dfos.toml`` table the key belongs to."""
    doc: str
    """One line for ``dfos config show`` and the generated ``dfos.toml``."""
    secret: bool = False
    """A secret (a password, a URL with one): never shown, only whether it is set."""

    @property
    def env_var(self) -> str:
        """The environment variable that overrides this key."""
        return f"DFOS_{self.name}"


_TYPES: dict[str, type] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "Flavour": Flavour,
}


def key_specs() -> dict[str, KeySpec]:
    """Every configuration key, in declaration order."""
    specs: dict[str, KeySpec] = {}
    for f in dataclasses.fields(Settings):
        kind = _TYPES[f.type] if isinstance(f.type, str) else f.type
        specs[f.name] = KeySpec(
            name=f.name,
            type=kind,
            default=f.default,
            section=f.metadata["section"],
            doc=f.metadata["doc"],
            secret=bool(f.metadata.get("secret")),
        )
    return specs
