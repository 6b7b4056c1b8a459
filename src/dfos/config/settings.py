"""The typed configuration of a dfos installation: every key, its type, default and meaning.

This module is the single registry of configuration keys.  Each field of
:class:`Settings` is one key; its name is the key (``N_DFO_HDR``), its type is
the field annotation, its default is the embedded default, and its metadata
carry the section it belongs to in ``dfos.toml``, a one-line description and
the key's own checks (:mod:`dfos.config.checks`): the loader knows no key by name.
Every key ``KEY`` can be overridden by the environment variable ``DFOS_KEY``.
Loading (files, environment, provenance) lives in :mod:`dfos.config.load`.

Typed values are parsed once: a choice key holds its enum member (``DRS_TYPE``,
``QCBQS_TYPE``), a name its one case (``EXECUTOR`` lower, ``INSTRUMENT`` upper), and
the small languages ``RECIPE_LIMITS`` and ``BATCH_RESOURCES`` are read through
:attr:`Settings.recipe_limits` and :attr:`Settings.batch_resources`.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from dfos.config.checks import (
    Check,
    a_directory,
    an_instrument_name,
    finite,
    known,
    must,
    one_of,
    parses,
    pattern_parses,
    science_pattern_parses,
    timestamp_or_empty,
)
from dfos.config.values import JobResources, batch_resources, recipe_limits
from dfos.plugins import EXECUTORS

__all__ = ["DrsType", "Flavour", "KeySpec", "QcbqsType", "Settings", "key_specs"]


class Flavour(StrEnum):
    """The workflow environment of an installation (the dfoMonitor logo)."""

    DFOS_OPS = "dfos_ops"
    """Daily QC operations: dates, CALIB processing, certification."""
    PHOENIX = "phoenix"
    """Archive reprocessing by date, month, run or pseudo-date."""
    OPSHUB = "opshub"
    """Project-based processing (distillery); projects instead of dates."""


class DrsType(StrEnum):
    """How a cascade's ABs run (DFOS DRS_TYPE)."""

    CON = "CON"
    """As a DAG: every AB once its inputs are there."""
    CPL = "CPL"
    """One after the other."""
    INT = "INT"
    """Recipe by recipe, the ABs of a recipe at once."""


class QcbqsType(StrEnum):
    """How processQC runs (DFOS QCBQS_TYPE)."""

    SER = "SER"
    """An execQC file, one AB after the other."""
    PAR = "PAR"
    """An execQC file, ABs at once."""
    IMPLICIT = "IMPLICIT"
    """Inside processAB, right after each success."""


def _key(default: Any, section: str, doc: str, secret: bool = False, checks: tuple[Check, ...] = (),
         normal: Callable[[str], str] | None = None) -> Any:
    return field(default=default, metadata={"section": section, "doc": doc, "secret": secret, "checks": checks,
                                            "normal": normal})


def _dir(default: str, doc: str) -> Any:
    """A key of the ``$DFO_*`` directory tree: never empty."""
    return _key(default, "directories", doc, checks=(a_directory,))


def _at_least(low: int) -> Check:
    return must(lambda v: v >= low, f"at least {low}" if low else f"{low} or more")


_POSITIVE = _at_least(1)
_NOT_NEGATIVE = _at_least(0)


@dataclass(frozen=True)
class Settings:
    """All configuration values of one workspace, after layering.

    Relative directory values are relative to the workspace root.
    """

    # -- workspace -----------------------------------------------------------
    INSTRUMENT: str = _key("UVES", "workspace", "instrument plugin (DFO_INSTRUMENT), e.g. UVES, GIRAFFE",
                           checks=(an_instrument_name,), normal=str.upper)
    FLAVOUR: Flavour = _key(Flavour.DFOS_OPS, "workspace", "workflow flavour: dfos_ops, phoenix or opshub")

    # -- directories (the $DFO_* tree) ------------------------------------------
    DFO_RAW_DIR: str = _dir("raw", "raw FITS per date (transient)")
    DFO_HDR_DIR: str = _dir("headers", "raw headers (.hdr) per date (permanent)")
    DFO_CAL_DIR: str = _dir("calib", "certified calibrations per date, MCAL and VCAL memory")
    DFO_SCI_DIR: str = _dir("reduced", "science products per date (phoenix)")
    DFO_LOG_DIR: str = _dir("logs", "pipeline logs, ABs and SOFs per date")
    DFO_PLT_DIR: str = _dir("plots", "QC plots per date")
    DFO_LST_DIR: str = _dir("lists", "reports, ingestion lists, filter lists")
    DFO_MON_DIR: str = _dir("monitor", "DFO_STATUS, AB lists, monitor pages, process logs")
    DFO_JOB_DIR: str = _dir("jobs", "job files (JOBS_NIGHT, ...), execAB and execQC files")
    DFO_CONFIG_DIR: str = _dir("config", "tool configuration, OCA rules, thresholds")
    DFO_AB_DIR: str = _dir("AB", "Association Blocks during processing")
    DFS_PRODUCT: str = _dir("products", "pipeline products before certification")
    DFO_ARCHIVE_DIR: str = _dir("archive", "the embedded local archive (stands in for NGAS)")

    # -- dates ---------------------------------------------------------------
    DFO_OFFSET: float = _key(0.0, "dates", "hours added to the 12:00 UT date boundary",
                             checks=(must(finite(-24, 24, open_low=True, open_high=True), "hours between -24 and 24"),))
    NOW: str = _key("", "dates", "pretend the current UT time is this (YYYY-MM-DDThh:mm:ss); empty: the real clock",
                    checks=(timestamp_or_empty,))

    # -- association (createAB) --------------------------------------------------
    OCA_RULES: str = _key("", "association", "OCA rule files, ':'-separated, in order; empty: the instrument's own")
    N_MCAL_LIST: int = _key(10, "association", "newest MCAL dates (up to the date) in the calibration memory",
                             checks=(_POSITIVE,))
    N_VCAL_LIST: int = _key(3, "association", "newest VCAL dates (up to the date) in the calibration memory",
                             checks=(_POSITIVE,))
    DRS_TYPE: DrsType = _key(DrsType.CON, "association",
                             "cascade execution: CON (DAG), CPL (serial), INT (recipe-parallel)",
                             checks=(one_of(tuple(DrsType)),))

    # -- processing ----------------------------------------------------------------
    DB_URL: str = _key("", "processing", "workspace database URL; empty: SQLite file dfos.sqlite in the workspace",
                       secret=True)
    ESOREX: str = _key("esorex", "processing", "the esorex program processAB runs")
    RECIPE_TIMEOUT: float = _key(3600.0, "processing", "seconds a recipe may run before it is killed",
                                 checks=(must(finite(0, float("inf"), open_low=True), "a positive number of seconds"),))
    SLOTS: int = _key(0, "processing", "ABs run at once by the local executor; 0: one per core",
                       checks=(_NOT_NEGATIVE,))
    DOWNLOAD_SLOTS: int = _key(8, "processing", "parallel downloads at most (the OPSHUB flavour: 1)",
                                checks=(_POSITIVE,))
    DOWNLOAD_RETRIES: int = _key(3, "processing", "attempts after a failed or corrupted download",
                                  checks=(_NOT_NEGATIVE,))
    ARCHIVE_URL: str = _key("", "processing", "an HTTP archive (dfos archive serve); empty: DFO_ARCHIVE_DIR",
                             checks=(must(lambda v: not v or v.startswith(("http://", "https://")),
                                          "an http:// or https:// URL", repr),))
    MAX_ATTEMPTS: int = _key(1, "processing", "runs of a failing AB before it counts as failed",
                              checks=(_POSITIVE,))
    RECIPE_LIMITS: str = _key("", "processing", "ABs of one recipe at once at most: 'uves_cal_mflat=1,gimasterbias=2'",
                               checks=(parses(recipe_limits),))
    QCBQS_TYPE: QcbqsType = _key(QcbqsType.IMPLICIT, "processing", "QC jobs: SER, PAR or IMPLICIT (inside processAB)",
                                 checks=(one_of(tuple(QcbqsType)),))
    MCAL_NAME_PATTERN: str = _key("{code}_{kind}_{yymmdd}{letter}_{setup}.fits", "processing",
                                  "certified calibration names; each of {code} {kind} {yymmdd} {letter} {setup} once",
                                  checks=(pattern_parses,))
    SCI_NAME_PATTERN: str = _key("{code}_{kind}_{yymmdd}T{hhmmss}_{setup}{n}.fits", "processing",
                                 "certified science names; each of {code} {kind} {yymmdd} {hhmmss} {setup} {n} once",
                                 checks=(science_pattern_parses,))

    # -- phoenix: campaigns, Internal Data Products (docs/phoenix.md, docs/idp.md) ----------
    IDP_MODE: bool = _key(False, "phoenix", "move -m SCIENCE writes the SDP keywords of IDPs into science products "
                                            "(always in the phoenix flavour)")
    UPDATE_YN: bool = _key(False, "phoenix", "move -m SCIENCE may replace products already in $DFO_SCI_DIR/<DATE> "
                                             "(no: it refuses, naming them)")
    ENABLE_UPDATES: bool = _key(False, "phoenix", "ingest may replace a product the archive holds under the same "
                                                  "name with other bytes (the earlier file is kept aside, logged)")
    COMPLETE_MODE: bool = _key(False, "phoenix",
                               "phoenix builds the calibrations each science date needs, found by association on the "
                               "dates around it (COMPLETE_DAYS), once, into $DFO_CAL_DIR/NEW, then the science")
    COMPLETE_DAYS: int = _key(3, "phoenix", "COMPLETE_MODE: how many days before and after a science date its "
                                            "calibrations may lie", checks=(_NOT_NEGATIVE,))
    PHOENIX_CERTIFY: str = _key("no-red", "phoenix",
                                "what phoenix accepts: no-red (every successful AB without a red score) or green "
                                "(all scores green; unscored ABs wait for a person too)",
                                checks=(one_of(("no-red", "green")),), normal=str.lower)

    # -- OPSHUB: projects (dfos project, docs/opshub.md) ------------------------------------
    MAX_JOBS: int = _key(1, "opshub", "OPSHUB: ABs a project's cascade runs at once at most, for DRS_TYPE=CON",
                         checks=(_POSITIVE,))
    FULL_RAWDOWNLOAD: bool = _key(False, "opshub", "OPSHUB: wait with processing until every raw file of the project "
                                                   "is downloaded (no: the cascade starts while they arrive)")
    PROJECT_CALIB_DAYS: int = _key(3, "opshub", "OPSHUB: how many days before and after a project's science date its "
                                                "calibrations may lie", checks=(_NOT_NEGATIVE,))

    # -- batch systems (exec-cascade --executor slurm|condor) -----------------------------
    EXECUTOR: str = _key("local", "batch", "where cascades run: local (this machine), slurm or condor",
                          checks=(known(EXECUTORS.knows, EXECUTORS.names),), normal=str.lower)
    BATCH_DFOS: str = _key("", "batch", "the dfos program on the batch nodes; empty: the one running now")
    BATCH_RESOURCES: str = _key("*=1//", "batch",
                                "per recipe CPUS/MEMORY/MINUTES of a batch job: '*=1/2G/60, uves_cal_mflat=2/4G/'",
                                checks=(parses(batch_resources),))
    BATCH_POLL: float = _key(1.0, "batch", "seconds between two looks at the batch system's queue",
                              checks=(must(finite(0.05, 600), "between 0.05 and 600 seconds"),))
    BATCH_CLUSTER: int = _key(20, "batch", "ABs one batch job runs at most, one after another (short recipes only, "
                                         "see BATCH_CLUSTER_SECONDS); 1: one job per AB", checks=(_POSITIVE,))
    BATCH_CLUSTER_SECONDS: float = _key(60.0, "batch", "a recipe whose earlier runs took at most this long (median) "
                                                       "is clustered; longer or never run recipes get a job per AB",
                                        checks=(must(finite(0.0, 86400), "between 0 and 86400 seconds"),))
    SLURM_OPTIONS: str = _key("", "batch", "more sbatch options for every job, e.g. '--partition=qc --account=dfo'")
    CONDOR_COMMAND: str = _key("", "batch", "argument list put before every condor_* command, e.g. to reach "
                                            "a pool in a chroot: 'chroot --userspec=ci /srv/condor-root'")

    # -- moving an installation (dfos migrate, compare, shadow: docs/migration.md) -------------
    SHADOW_READY_DATES: int = _key(5, "migration", "shadow mode: consecutive dates that must compare equal with the "
                                                   "reference before this installation may take over autoDaily",
                                   checks=(_POSITIVE,))

    # -- status and monitor ----------------------------------------------------
    N_DFO_HDR: int = _key(20, "status", "newest header dates considered for the date table", checks=(_POSITIVE,))
    STATUS_KEEP_LINES: int = _key(5000, "status", "lines DFO_STATUS keeps when it is trimmed", checks=(_POSITIVE,))
    AB_WARN_LIMIT: int = _key(2500, "status", "ABs in $DFO_AB_DIR above which the monitor shows the count red",
                               checks=(_POSITIVE,))
    DATA_QUOTA: float = _key(100.0, "status", "percent of the data disk this installation may use (XDM)",
                              checks=(must(finite(0, 100, open_low=True), "a percentage above 0 and at most 100"),))

    # -- the monitor (dfos monitor serve) ----------------------------------------------
    MONITOR_PASSWORD: str = _key("", "monitor", "password for the monitor's actions; empty: a token printed at start "
                                 "(prefer DFOS_MONITOR_PASSWORD or MONITOR_PASSWORD_FILE)", secret=True)
    MONITOR_PASSWORD_FILE: str = _key("", "monitor", "file holding the monitor's password (first line; readable by "
                                      "its owner only); relative to the workspace")
    MONITOR_PUBLIC: bool = _key(False, "monitor", "show the read-only pages without login")
    MONITOR_USERS: str = _key("", "monitor", "file of named monitor accounts (name and salted scrypt hash per "
                              "line, mode 600; made by 'dfos monitor user add NAME'); relative to the workspace; "
                              "empty: .monitor_users in the workspace root")
    MONITOR_LINKS: str = _key("", "monitor", "link bar: 'LABEL|TITLE|URL' entries, BREAK and SPACE, ';'-separated")

    # -- the static export for the QC web (dfos monitor export) -------------------------------
    EXPORT_DIR: str = _key("", "monitor", "where 'dfos monitor export' writes the static pages (relative to the "
                                          "workspace); empty: $DFO_MON_DIR/export")
    EXPORT_COMMAND: str = _key("", "monitor", "argument list run after each export, e.g. 'rsync -a {dir}/ "
                                              "host:/qc/web/' ({dir}: the export directory; split like a shell "
                                              "line, never run by one); empty: none",
                               checks=(parses(shlex.split),))
    EXPORT_EVERY: int = _key(10, "monitor", "minutes between exports in the crontab lines of 'dfos cron install' "
                                            "(1 to 60; 0: no export line)",
                             checks=(must(lambda v: 0 <= v <= 60, "0 (no export line) to 60"),))

    # -- typed values, parsed once (the loader has checked that they parse) ----------------
    @cached_property
    def recipe_limits(self) -> Mapping[str, int]:
        """RECIPE_LIMITS: the most ABs of a recipe that run at once."""
        return recipe_limits(self.RECIPE_LIMITS)

    @cached_property
    def batch_resources(self) -> Mapping[str, JobResources]:
        """BATCH_RESOURCES: what a batch job of a recipe asks for (``*``: any other recipe)."""
        return batch_resources(self.BATCH_RESOURCES)


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
    checks: tuple[Check, ...] = ()
    """What the value must be beyond its type (:mod:`dfos.config.checks`), in order."""
    normal: Callable[[str], str] | None = None
    """The one case of a name (``str.upper``, ``str.lower``), applied once the checks passed."""

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
    "DrsType": DrsType,
    "QcbqsType": QcbqsType,
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
            checks=f.metadata.get("checks", ()),
            normal=f.metadata.get("normal"),
        )
    return specs
