"""The OCA rule language as data: conditions, classification, organisation and association rules.

OCA (Organisation, Classification, Association) is the language of ESO's
Gasgano/DFOS rule files.  A rule file holds

* classification blocks ``if <condition> then { KEY = "value"; ... }``,
* organisation statements ``select execute(ACTION) from inputFiles where <condition>
  [group by KEY, ... [as (EVENT, tag)]];``,
* action blocks ``action NAME { minRet = n; maxRet = m; select file as TAG from
  calibFiles where <condition>; ... recipe NAME [{ "--param=value"; ... }] }``,

product blocks ``product NAME { PRO.CATG = "..."; ... }`` (Reflex) and the dfos
extensions documented in ``docs/oca.md`` (``product`` lists and ``using``
time-match clauses).  Everything here is an immutable value; parsing is
in :mod:`dfos.oca.parser`, evaluation in :mod:`dfos.oca.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "TYPE_TESTS",
    "Action",
    "And",
    "Assignment",
    "ClassifyRule",
    "Compare",
    "Condition",
    "Counts",
    "Expression",
    "IsType",
    "Key",
    "Like",
    "Literal",
    "Match",
    "Not",
    "Operand",
    "Or",
    "OrganiseRule",
    "ProductSpec",
    "Regexp",
    "RuleSet",
    "Select",
    "Source",
    "Truth",
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
    """A string, number or truth value (``T``, ``F``) constant."""

    value: str | float | bool

    def __str__(self) -> str:
        if isinstance(self.value, bool):
            return "T" if self.value else "F"
        return f'"{self.value}"' if isinstance(self.value, str) else f"{self.value:g}"


Operand = Key | Literal


@dataclass(frozen=True, slots=True)
class Compare:
    """``left <op> right`` with op one of ``== != < > <= >=`` or ``?=`` (equal, or either side undefined)."""

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
class Regexp:
    """``left regexp "pattern"``: a POSIX extended regular expression found anywhere in the value."""

    left: Operand
    pattern: str

    def __str__(self) -> str:
        return f'{self.left} regexp "{self.pattern}"'


#: The words ``is`` accepts: ``KEY is string``, ``is number``, ``is boolean``, ``is defined``, ``is undefined``.
TYPE_TESTS = ("string", "number", "boolean", "defined", "undefined")


@dataclass(frozen=True, slots=True)
class IsType:
    """``left is [not] KIND``: the value's type (KIND one of :data:`TYPE_TESTS`)."""

    left: Operand
    kind: str
    negated: bool = False

    def __str__(self) -> str:
        return f"{self.left} is {'not ' if self.negated else ''}{self.kind}"


@dataclass(frozen=True, slots=True)
class Truth:
    """An operand used as a condition: ``if (T) then``, ``... and INS.OPTI1.FILTER and ...``."""

    operand: Operand

    def __str__(self) -> str:
        return str(self.operand)


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


Condition = Compare | Like | Regexp | IsType | Truth | Not | And | Or

#: What an assignment may give: a constant, another keyword's value, or a condition's truth.
Expression = Literal | Key | Condition


@dataclass(frozen=True, slots=True)
class Assignment:
    """``KEY = expression;`` inside a classification or product block."""

    key: str
    expression: Expression

    @property
    def value(self) -> str | float | bool | None:
        """The constant assigned, None when the value comes from a keyword or a condition."""
        return self.expression.value if isinstance(self.expression, Literal) else None

    def __str__(self) -> str:
        return f"{self.key} = {self.expression}"


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
    """``select file as TAG from calibFiles|rawFiles|inputFiles where <condition> [using ...];`` in an action."""

    tag: str
    """The SOF tag the selected files get."""
    pool: str
    """``calibFiles`` (calibration memory), ``rawFiles`` (raw frames of the night) or ``inputFiles`` (both)."""
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
class ProductSpec:
    """A product an action's recipe makes: ``product NAME { PRO.CATG = "..."; KEY = ...; }`` (Reflex) or
    an entry of dfos's ``product CATG, CATG;`` list (then it has no assignments)."""

    name: str
    assignments: tuple[Assignment, ...] = ()

    @property
    def catg(self) -> str:
        """Its PRO.CATG: the constant of its ``PRO.CATG = "..."`` assignment, else its name."""
        for assignment in self.assignments:
            if assignment.key == "PRO.CATG" and isinstance(assignment.value, str):
                return assignment.value
        return self.name


@dataclass(frozen=True, slots=True)
class Action:
    """An association block: the calibrations a group needs and the recipe it runs."""

    name: str
    selects: tuple[Select, ...] = ()
    recipe: str | None = None
    params: tuple[str, ...] = ()
    """Recipe parameters, e.g. ``--stack_method=median`` (one per command-line word)."""
    products: tuple[ProductSpec, ...] = ()
    """The products the recipe makes, in order (``product`` blocks or the dfos ``product`` list)."""
    source: Source = field(default=Source("<rules>", 0, 0))
    properties: tuple[tuple[str, Expression], ...] = ()
    """Settings written in the block as ``NAME = value;`` (``priority = 30;``), in order."""

    @property
    def priority(self) -> float:
        """The action's ``priority`` setting (0 without one); kept for reports, createAB does not order by it."""
        for key, value in self.properties:
            if key == "PRIORITY" and isinstance(value, Literal) and isinstance(value.value, float):
                return value.value
        return 0.0


@dataclass(frozen=True, slots=True)
class Counts:
    """What rule files hold, statement by statement (before actions of the same name merge)."""

    classify: int = 0
    """``if ... then`` classification rules."""
    organise: int = 0
    """``select execute`` organisation statements."""
    actions: int = 0
    """``action`` blocks."""
    selects: int = 0
    """``select file`` association statements in the action blocks."""
    products: int = 0
    """Products declared in the action blocks (a ``product`` block, or each name of a ``product`` list)."""

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.classify + other.classify, self.organise + other.organise, self.actions + other.actions,
                      self.selects + other.selects, self.products + other.products)


@dataclass(frozen=True)
class RuleSet:
    """Rules read from one or more files, in order; actions of the same name are merged."""

    classify: tuple[ClassifyRule, ...] = ()
    organise: tuple[OrganiseRule, ...] = ()
    actions: dict[str, Action] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    counts: Counts = field(default_factory=Counts)
    """What the files hold, statement by statement (``dfos oca check`` reports it)."""
