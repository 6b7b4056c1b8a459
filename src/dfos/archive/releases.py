"""Replacing a processing release (phoenix): the rules, as pure values.

A new release of master calibrations (or science products, IDPs) supersedes what the archive holds for a
time range.  The operator hides the old entries of the range in the archive catalog (never the static
calibrations: the new release does not replace them), ingests the new ones under their new names, and
meanwhile holds a *raw2raw window*: createAB associates no certified master (MCAL) dated inside it, so
science of the range is made with virtual products of the CALIB ABs (made from raw frames), until the
window is lifted (raw2master again).  ``docs/releases.md`` tells the whole sequence.

Here: release ids, the window, which catalog entry is static, what createAB may not take from its MCAL
memory (:class:`MemoryPolicy`), and the line format of the release log (:class:`ReleaseEvent`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from dfos.dates import format_timestamp, parse_timestamp
from dfos.errors import DfosError, FormatError, UsageError

__all__ = ["NO_RELEASE", "Action", "MemoryPolicy", "ReleaseEvent", "Window", "is_static", "parse_log", "release_id",
           "releases"]

#: The release field of a raw2raw window opened without ``--release``.
NO_RELEASE = "-"
_RELEASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_FIELD = re.compile(r"\S+")


def release_id(text: str) -> str:
    """``text`` if it can name a release (letters, digits and ``._-``, at most 64, not starting with a sign);
    UsageError otherwise."""
    if not _RELEASE.fullmatch(text):
        raise UsageError(f"release id {text[:70]!r} is not 1 to 64 letters, digits, '.', '_' or '-' "
                         "(starting with a letter or digit): name the release e.g. 'UVES_R2'")
    return text


@dataclass(frozen=True)
class Window:
    """A raw2raw window: the DFO dates ``first`` .. ``last`` (inclusive) whose certified masters createAB skips."""

    first: date
    last: date
    release: str = NO_RELEASE

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise UsageError(f"--from {self.first} is after --to {self.last}: give the earlier date first")
        if self.release != NO_RELEASE:
            release_id(self.release)

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last

    def render(self) -> str:
        """``2013-01-01..2013-12-31``."""
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    @classmethod
    def parse(cls, text: str, release: str = NO_RELEASE) -> Window:
        first, sep, last = text.partition("..")
        try:
            if not sep:
                raise ValueError
            return cls(date.fromisoformat(first), date.fromisoformat(last), release)
        except (ValueError, UsageError):
            raise FormatError(f"{text[:40]!r} is not a window FIRST..LAST of two dates in order") from None


def is_static(name: str, pro_catg: str, static_names: Collection[str], static_catgs: Collection[str]) -> bool:
    """Whether a catalog entry is a static calibration (``$DFO_CAL_DIR/GEN``): its file name is one of the
    workspace's static calibrations, or its PRO.CATG one the instrument makes static calibrations of."""
    return name in static_names or (bool(pro_catg) and pro_catg in static_catgs)


@dataclass(frozen=True)
class MemoryPolicy:
    """What createAB may not take from its MCAL memory: masters dated inside the raw2raw ``window``, and
    masters the archive hides (``hidden``: file name -> the release that hid it).  Read once per createAB run
    (:func:`dfos.steps.release.memory_policy`); static calibrations (GEN) are never subject to it."""

    window: Window | None = None
    hidden: Mapping[str, str] = field(default_factory=dict)

    def skip(self, day: date, name: str) -> str | None:
        """Why the certified master ``name`` of DFO date ``day`` is not associated (None: it may be)."""
        if self.window is not None and self.window.covers(day):
            by = "" if self.window.release == NO_RELEASE else f" of release {self.window.release}"
            return (f"certified master of {day.isoformat()}, inside the raw2raw window {self.window.render()}{by}: "
                    "virtual products of the CALIB ABs are taken instead until 'dfos release raw2raw --lift'")
        if name in self.hidden:
            return (f"hidden in the archive by release {self.hidden[name]} "
                    f"('dfos release undo --release {self.hidden[name]}' shows it again)")
        return None


class Action(StrEnum):
    """What a release log line records."""

    HIDE = "hide"
    """A catalog entry hidden (subject: its name; detail: its date and mode)."""
    SHOW = "show"
    """A catalog entry shown again (undo)."""
    RAW2RAW = "raw2raw"
    """A raw2raw window opened (subject: FIRST..LAST)."""
    RAW2MASTER = "raw2master"
    """The raw2raw window lifted (subject: FIRST..LAST)."""


@dataclass(frozen=True)
class ReleaseEvent:
    """One line of the release log: ``<timestamp> <action> <release> <subject> [<detail> ...]``, fields
    separated by one space, none empty or with a space (names are safe file names, dates ISO)."""

    at: datetime
    action: Action
    release: str
    subject: str
    detail: tuple[str, ...] = ()

    def render(self) -> str:
        fields = (format_timestamp(self.at), self.action.value, self.release, self.subject, *self.detail)
        if any(not _FIELD.fullmatch(f) for f in fields):
            raise FormatError(f"a release log field is empty or holds a space: {' | '.join(fields)[:200]}")
        return " ".join(fields)

    @classmethod
    def parse(cls, line: str) -> ReleaseEvent:
        fields = line.split(" ")
        if len(fields) < 4 or any(not f for f in fields):
            raise FormatError("expected '<timestamp> <action> <release> <subject> [<detail> ...]'")
        try:
            action = Action(fields[1])
        except ValueError:
            raise FormatError(f"unknown action {fields[1][:40]!r} (hide, show, raw2raw, raw2master)") from None
        try:
            at = parse_timestamp(fields[0])
            release = fields[2] if fields[2] == NO_RELEASE else release_id(fields[2])
        except DfosError as exc:
            raise FormatError(exc.message) from None
        return cls(at, action, release, fields[3], tuple(fields[4:]))


def parse_log(text: str, source: str = "release log") -> list[ReleaseEvent]:
    """Every event of a release log (``#`` lines and blank lines skipped); FormatError naming the line."""
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            events.append(ReleaseEvent.parse(line))
        except FormatError as exc:
            raise FormatError(f"{source}:{number}: {exc.message}") from None
    return events


def releases(events: Iterable[ReleaseEvent]) -> set[str]:
    """The releases a log names."""
    return {e.release for e in events if e.release != NO_RELEASE}
