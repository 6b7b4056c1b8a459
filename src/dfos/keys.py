"""Processing keys: what a batch of work is about (a DFO date, a phoenix run, an OPSHUB project),
the processing mode (CALIB, SCIENCE), and the one codec for the names built from them.

DFOS organises everything by DFO date; phoenix's DEEP mode organises by ESO run ID (a
"pseudo-date") and OPSHUB by project.  All three stand where a date stands: in DFO_STATUS lines,
directory names (``$DFO_SCI_DIR/<KEY>``), batch and cascade ids, job file names and monitor routes.
Their written forms never overlap, so a key is read back without being told its kind:

========  ===========================  ===============================================
kind      written                      example
========  ===========================  ===============================================
date      ``YYYY-MM-DD``               ``2013-02-12``
run       ``PPP.C-NNNN<L>``            ``094.D-0192A`` (ESO writes ``094.D-0192(A)``;
                                       both are read, the form without brackets is
                                       written because it is a safe file name)
run       ``PPP.XXXX.NNN``             ``113.26XA.001`` (ESO's run IDs from period 110 on)
project   a letter, then letters,      ``NGC253_followup``
          digits and ``_ - . +``
========  ===========================  ===============================================

Batch ids are ``<MODE>_<KEY>`` (``CALIB_2013-02-12``); a subcascade adds ``_sub``, the QC cascade
prefixes ``QC_``.  Status flags of a mode are ``cal_<Stage>`` / ``sci_<Stage>``.  Every codec here
round-trips: ``X.parse(x.render()) == x``; anything else raises :class:`~dfos.errors.FormatError`
(or :class:`~dfos.errors.UsageError` for a key typed on the command line).

Pure functions and frozen values; no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TypeAlias

from dfos.dates import parse_date
from dfos.errors import FormatError, InvalidDate, UsageError

__all__ = [
    "BatchId",
    "KeyKind",
    "KeyLike",
    "Mode",
    "ProcessingKey",
    "Stage",
    "mode_flag",
    "parse_mode_flag",
]


class Mode(StrEnum):
    """The processing mode of ABs, jobs and status flags (DFOS ``-m CALIB|SCIENCE``)."""

    CALIB = "CALIB"
    SCIENCE = "SCIENCE"

    @property
    def prefix(self) -> str:
        """The status-flag prefix: ``cal`` or ``sci``."""
        return "cal" if self is Mode.CALIB else "sci"

    @classmethod
    def parse(cls, text: str) -> Mode:
        """A mode from any capitalisation (``calib``, ``Science``); :class:`UsageError` otherwise."""
        try:
            return cls(str(text).strip().upper())
        except ValueError:
            raise UsageError(f"mode {text!r} is not CALIB or SCIENCE") from None


class Stage(StrEnum):
    """The per-mode steps of a date's life cycle, as written after ``cal_``/``sci_`` in DFO_STATUS."""

    AB = "AB"
    QUEUED = "Queued"
    QC = "QC"
    CERTIF = "Certif"
    UPDATED = "Updated"
    HARVESTED = "Harvested"
    RESET = "Reset"
    """The mode was reset to run again (``dfos reset``): its earlier flags no longer count."""


def mode_flag(mode: Mode | str, stage: Stage) -> str:
    """The DFO_STATUS flag of a mode's stage: ``mode_flag(Mode.CALIB, Stage.AB) == "cal_AB"``."""
    return f"{Mode.parse(mode).prefix}_{stage.value}"


_PREFIXES = {m.prefix: m for m in Mode}


def parse_mode_flag(flag: str) -> tuple[Mode, Stage] | None:
    """The mode and stage of a flag like ``sci_QC``; None for flags of no mode (``finished``, ...)."""
    prefix, sep, rest = flag.partition("_")
    if not sep or prefix not in _PREFIXES:
        return None
    try:
        return _PREFIXES[prefix], Stage(rest)
    except ValueError:
        return None


class KeyKind(StrEnum):
    """What a processing key names."""

    DATE = "date"
    RUN = "run"
    PROJECT = "project"


_DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RUN_RE = re.compile(r"^(?P<period>\d{2,3})\.(?P<category>[A-Z])-(?P<number>\d{4})(?:\((?P<b>[A-Z])\)|(?P<l>[A-Z]))$")
#: ESO's run IDs from period 110 on: ``<period>.<programme, 4 characters>.<run, 3 digits>`` (``113.26XA.001``).
_NEW_RUN_RE = re.compile(r"^\d{3}\.[0-9A-Z]{4}\.\d{3}$")
_PROJECT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.+-]{0,79}$")


@dataclass(frozen=True, order=True, slots=True)
class ProcessingKey:
    """A DFO date, a phoenix run or an OPSHUB project: the thing a batch of ABs is for.

    ``text`` is the written form (see the module docstring); it is a safe file name.
    """

    kind: KeyKind
    text: str

    @classmethod
    def of_date(cls, day: date) -> ProcessingKey:
        return cls(KeyKind.DATE, day.isoformat())

    @classmethod
    def of(cls, value: KeyLike) -> ProcessingKey:
        """A key from a key, a date, or its written form."""
        if isinstance(value, ProcessingKey):
            return value
        if isinstance(value, date):
            return cls.of_date(value)
        return cls.parse(value)

    @classmethod
    def parse(cls, text: str) -> ProcessingKey:
        """Read a written key; :class:`UsageError` (exit 2) naming the three forms otherwise."""
        value = str(text).strip()
        if _DATE_SHAPE.match(value):
            try:
                return cls.of_date(parse_date(value))
            except InvalidDate as exc:
                raise UsageError(str(exc)) from None
        if _NEW_RUN_RE.match(value):
            return cls(KeyKind.RUN, value)
        run = _RUN_RE.match(value)
        if run:
            letter = run["b"] or run["l"]
            return cls(KeyKind.RUN, f"{run['period']}.{run['category']}-{run['number']}{letter}")
        if _PROJECT_RE.match(value) and not value.endswith("_sub"):
            return cls(KeyKind.PROJECT, value)
        raise UsageError(f"{text!r} is not a processing key: write a DFO date (2013-02-12), an ESO run ID "
                         "(094.D-0192(A)) or a project name (a letter, then letters, digits and _-.+)")

    def render(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    @property
    def day(self) -> date | None:
        """The DFO date, for a date key; None for runs and projects."""
        return date.fromisoformat(self.text) if self.kind is KeyKind.DATE else None

    @property
    def run_id(self) -> str | None:
        """ESO's form of a run key (``094.D-0192(A)``, ``113.26XA.001``); None for other kinds."""
        if self.kind is not KeyKind.RUN:
            return None
        return self.text if _NEW_RUN_RE.match(self.text) else f"{self.text[:-1]}({self.text[-1]})"


KeyLike: TypeAlias = "ProcessingKey | date | str"


@dataclass(frozen=True, order=True, slots=True)
class BatchId:
    """``<MODE>_<KEY>``, the id of a mode's ABs for one key: their AB list, cascade and job block.

    ``qc`` marks the QC cascade (``QC_CALIB_2013-02-12``), ``sub`` a subcascade
    (``CALIB_2013-02-12_sub``).
    """

    mode: Mode
    key: ProcessingKey
    qc: bool = False
    sub: bool = False

    @classmethod
    def of(cls, mode: Mode | str, key: KeyLike, *, qc: bool = False, sub: bool = False) -> BatchId:
        return cls(Mode.parse(mode), ProcessingKey.of(key), qc, sub)

    def render(self) -> str:
        return f"{'QC_' if self.qc else ''}{self.mode.value}_{self.key.text}{'_sub' if self.sub else ''}"

    def __str__(self) -> str:
        return self.render()

    @classmethod
    def parse(cls, text: str) -> BatchId:
        """Read a batch or cascade id; :class:`FormatError` naming it otherwise."""
        rest = text
        qc = rest.startswith("QC_")
        if qc:
            rest = rest[3:]
        sub = rest.endswith("_sub")
        if sub:
            rest = rest[:-4]
        mode, sep, key = rest.partition("_")
        try:
            if not sep or mode not in Mode.__members__:
                raise UsageError("no mode")
            return cls(Mode(mode), ProcessingKey.parse(key), qc, sub)
        except UsageError:
            raise FormatError(f"{text!r} is not a batch id like CALIB_2013-02-12 (<MODE>_<KEY>, "
                              "optionally QC_ before or _sub after)") from None

    @property
    def base(self) -> BatchId:
        """The plain batch (no QC_, no _sub)."""
        return BatchId(self.mode, self.key)
