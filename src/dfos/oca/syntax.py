"""The OCA rule language as data: conditions, classification, organisation and association rules.

OCA (Organisation, Classification, Association) is the language of ESO's
Gasgano/DFOS rule files.  A rule file holds

* classification blocks ``if <condition> then { KEY = "value"; ... }``,
* organisation statements ``select execute(ACTION) from inputFiles where <condition>
  [group by KEY, ... [as (EVENT, tag)]];``,
* action blocks ``action NAME { minRet = n; maxRet = m; select file as TAG from
  calibFiles where <condition>; ... recipe NAME [{ "--param=value"; ... }] }``,

plus the dfos extensions documented in ``docs/oca.md`` (``product`` lists and
``using`` time-match clauses).  Everything here is an immutable value; parsing is
in :mod:`dfos.oca.parser`, evaluation in :mod:`dfos.oca.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Action",
    "And",
    "Assignment",
    "ClassifyRule",
    "Compare",
    "Condition",
    "Key",
    "Like",
    "Literal",
    "Match",
    "Not",
    "Operand",
    "Or",
    "OrganiseRule",
    "RuleSet",
    "Select",
    "Source",
]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a rule was written: for error messages and ``dfos explain``."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Key:
    """A keyword reference: ``DPR.TYPE`` (the frame at hand) or ``inputFile.DET.CHIPS`` (the group's first frame)."""

    name: str
    """Dotted keyword, upper case (``LF.`` prefixes are removed: they name the frame itself)."""
    of_input: bool = False
    """True for ``inputFile.<KEY>``."""

    def __str__(self) -> str:
        return f"inputFile.{self.name}" if self.of_input else self.name


@dataclass(frozen=True, slots=True)
class Literal:
    """A string or number constant."""

    value: str | float

    def __str__(self) -> str:
        return f'"{self.value}"' if isinstance(self.value, str) else f"{self.value:g}"


Operand = Key | Literal


@dataclass(frozen=True, slots=True)
class Compare:
    """``left <op> right`` with op one of ``== != < > <= >=``."""

    left: Operand
    op: str
    right: Operand

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


@dataclass(frozen=True, slots=True)
class Like:
    """``left like "pattern"``: SQL wildcards, ``%`` any run of characters, ``_`` one character."""

    left: Operand
    pattern: str

    def __str__(self) -> str:
        return f'{self.left} like "{self.pattern}"'


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition

    def __str__(self) -> str:
        return f"not ({self.item})"


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Condition, ...]

    def __str__(self) -> str:
        return " and ".join(f"({i})" if isinstance(i, Or) else str(i) for i in self.items)


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Condition, ...]

    def __str__(self) -> str:
        return " or ".join(str(i) for i in self.items)


Condition = Compare | Like | Not | And | Or


@dataclass(frozen=True, slots=True)
class Assignment:
    """``KEY = value;`` inside a classification block."""

    key: str
    value: str | float


@dataclass(frozen=True, slots=True)
class ClassifyRule:
    """``if <condition> then { assignments }``; later true rules override earlier assignments."""

    condition: Condition
    assignments: tuple[Assignment, ...]
    source: Source


@dataclass(frozen=True, slots=True)
class OrganiseRule:
    """``select execute(ACTION) from inputFiles where <condition> [group by ...] [as (EVENT, tag)];``."""

    action: str
    condition: Condition
    group_by: tuple[str, ...]
    """Explicit grouping keywords."""
    per_template: bool
    """``SIG.TEMPLATE == 1``: one group per template (TPL.START) and grouping values."""
    per_frame: bool
    """``SIG.FRAME == 1``: one group per frame."""
    event: str | None
    """AB_EVENT name given by ``as (EVENT, tag)``."""
    tag: str | None
    """AB name tag given by ``as (EVENT, tag)``."""
    source: Source
    min_frames: int = 1
    """Frames a group needs (a ``minRet`` written just before the statement); fewer: INCOMPLETE."""
    max_frames: int = 0
    """Frames a group takes at most (``maxRet`` before the statement); 0: no limit."""


class Match(StrEnum):
    """How a calibration is matched in time (dfos extension ``using``)."""

    CLOSEST = "CLOSEST"
    """Closest in mid-exposure time, before or after (the default)."""
    PREVIOUS = "PREVIOUS"
    """The latest one taken before the group."""
    NEXT = "NEXT"
    """The earliest one taken after the group."""
    ATTACHED = "ATTACHED"
    """Taken in the same OB (same OBS.ID), closest in time."""


@dataclass(frozen=True, slots=True)
class Select:
    """``select file as TAG from calibFiles|rawFiles where <condition> [using ...];`` in an action."""

    tag: str
    """The SOF tag the selected files get."""
    pool: str
    """``calibFiles`` (calibration memory) or ``rawFiles`` (raw frames of the night)."""
    condition: Condition
    min_ret: int
    """Files required; fewer makes the AB INCOMPLETE."""
    max_ret: int
    """Files taken at most; 0 switches the input off."""
    match: Match = Match.CLOSEST
    windows: tuple[float, ...] = ()
    """Validity windows in days, strictest first: quality level i is ``windows[i]``; empty: unlimited."""
    source: Source = field(default=Source("<rules>", 0, 0))


@dataclass(frozen=True, slots=True)
class Action:
    """An association block: the calibrations a group needs and the recipe it runs."""

    name: str
    selects: tuple[Select, ...] = ()
    recipe: str | None = None
    params: tuple[str, ...] = ()
    """Recipe parameters, e.g. ``--stack_method=median``."""
    products: tuple[str, ...] = ()
    """PRO.CATG of the products the recipe makes (dfos extension ``product``)."""
    source: Source = field(default=Source("<rules>", 0, 0))


@dataclass(frozen=True)
class RuleSet:
    """Rules read from one or more files, in order; actions of the same name are merged."""

    classify: tuple[ClassifyRule, ...] = ()
    organise: tuple[OrganiseRule, ...] = ()
    actions: dict[str, Action] = field(default_factory=dict)
    files: tuple[str, ...] = ()
