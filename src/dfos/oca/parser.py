"""OCA text to :mod:`dfos.oca.syntax` values; every error names file, line and column.

A small hand-written lexer and recursive-descent parser.  Keyword names may
contain dots and hyphens (``DET.WIN1.BINX``, ``MJD-OBS``): OCA has no
arithmetic, so ``-`` inside a name is never an operator.  Statement keywords
(``if``, ``select``, ``and`` ...) are case-insensitive; keyword names and
strings keep their case.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from dfos.errors import FormatError
from dfos.oca.syntax import (
    Action,
    And,
    Assignment,
    ClassifyRule,
    Compare,
    Condition,
    Key,
    Like,
    Literal,
    Match,
    Not,
    Operand,
    Or,
    OrganiseRule,
    RuleSet,
    Select,
    Source,
)

__all__ = ["RuleSyntaxError", "merge", "parse_rules"]


class RuleSyntaxError(FormatError):
    """A rule file cannot be parsed; the message starts with ``file:line:col``."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # NAME, STRING, NUMBER, OP, END
    text: str
    line: int
    column: int


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\f\v]+|\n)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"[^"\n]*")
  | (?P<number>[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?(?![A-Za-z_.#]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_.#]*(?:-[A-Za-z_][A-Za-z0-9_.#]*)*)
  | (?P<op>==|!=|<=|>=|<|>|=|;|,|\(|\)|\{|\})
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokens(text: str, file: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        column = pos - line_start + 1
        if not match:
            if text[pos] == '"':
                raise RuleSyntaxError(f"{file}:{line}:{column}: unterminated string (strings end on their line)")
            if text.startswith("/*", pos):
                raise RuleSyntaxError(f"{file}:{line}:{column}: unterminated /* comment")
            snippet = text[pos : pos + 12].split("\n")[0]
            raise RuleSyntaxError(f"{file}:{line}:{column}: unexpected character(s) {snippet!r}")
        kind = match.lastgroup or ""
        value = match.group()
        if kind in ("name", "string", "number", "op"):
            tokens.append(_Token(kind.upper(), value, line, column))
        newlines = value.count("\n")
        if newlines:
            line += newlines
            line_start = pos + value.rindex("\n") + 1
        pos = match.end()
    tokens.append(_Token("END", "", line, pos - line_start + 1))
    return tokens


_COMPARE_OPS = {"==", "!=", "<", ">", "<=", ">="}
#: Deepest nesting of parentheses and ``not`` a condition may have.
MAX_DEPTH = 100
_SIGNALS = {"SIG.TEMPLATE", "SIG.FRAME"}


class _Parser:
    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.tokens = _tokens(text, file)
        self.pos = 0
        self.min_ret, self.max_ret = 1, 1
        self.group_min, self.group_max = 1, 0  # top-level minRet/maxRet: frames per group
        self.depth = 0

    # -- token helpers ---------------------------------------------------------
    @property
    def tok(self) -> _Token:
        return self.tokens[self.pos]

    def source(self, token: _Token | None = None) -> Source:
        token = token or self.tok
        return Source(self.file, token.line, token.column)

    def fail(self, expected: str, token: _Token | None = None) -> RuleSyntaxError:
        token = token or self.tok
        found = "end of file" if token.kind == "END" else repr(token.text)
        return RuleSyntaxError(f"{self.file}:{token.line}:{token.column}: expected {expected}, found {found}")

    def is_word(self, *words: str) -> bool:
        return self.tok.kind == "NAME" and self.tok.text.lower() in words

    def word(self, word: str) -> _Token:
        if not self.is_word(word):
            raise self.fail(f"'{word}'")
        return self.advance()

    def op(self, text: str) -> _Token:
        if self.tok.kind != "OP" or self.tok.text != text:
            raise self.fail(f"'{text}'")
        return self.advance()

    def is_op(self, text: str) -> bool:
        return self.tok.kind == "OP" and self.tok.text == text

    def advance(self) -> _Token:
        token = self.tok
        self.pos += 1
        return token

    def name(self, what: str = "a name") -> str:
        if self.tok.kind != "NAME":
            raise self.fail(what)
        return self.advance().text

    def number(self) -> float:
        if self.tok.kind != "NUMBER":
            raise self.fail("a number")
        value = float(self.tok.text)
        if not math.isfinite(value):
            raise self.fail("a finite number")
        self.advance()
        return value

    # -- file ------------------------------------------------------------------
    def rules(self) -> RuleSet:
        classify: list[ClassifyRule] = []
        organise: list[OrganiseRule] = []
        blocks: dict[str, list[Action]] = {}
        while self.tok.kind != "END":
            if not self.is_word("select", "minret", "maxret"):
                self.group_min, self.group_max = 1, 0  # a pending minRet/maxRet applies to the next statement only
            if self.is_word("if"):
                classify.append(self.classify_rule())
            elif self.is_word("select"):
                organise.append(self.organise_rule())
            elif self.is_word("action"):
                action = self.action()
                blocks.setdefault(action.name, []).append(action)
            elif self.is_word("minret", "maxret"):
                which, count = self.ret_count()
                if which == "minret":
                    self.group_min = count
                else:
                    self.group_max = count
            elif self.is_op(";"):
                self.advance()
            else:
                raise self.fail("'if', 'select', 'action', 'minRet' or 'maxRet'")
        actions = {name: _merge_blocks(parts) for name, parts in blocks.items()}
        return RuleSet(tuple(classify), tuple(organise), actions, (self.file,))

    def classify_rule(self) -> ClassifyRule:
        start = self.word("if")
        condition = self.condition()
        self.word("then")
        self.op("{")
        assignments = []
        while not self.is_op("}"):
            key = self.name("a keyword to assign")
            self.op("=")
            value = self.value()
            assignments.append(Assignment(_keyword(key), value))
            if not self.is_op("}"):
                self.op(";")
            while self.is_op(";"):
                self.advance()
        self.op("}")
        return ClassifyRule(condition, tuple(assignments), self.source(start))

    def value(self) -> str | float:
        if self.tok.kind == "STRING":
            return self.advance().text[1:-1]
        if self.tok.kind == "NUMBER":
            return float(self.advance().text)
        if self.tok.kind == "NAME":
            return self.advance().text
        raise self.fail("a string or a number")

    def organise_rule(self) -> OrganiseRule:
        start = self.word("select")
        self.word("execute")
        self.op("(")
        action = self.name("an action name")
        self.op(")")
        self.word("from")
        pool = self.name("'inputFiles'")
        if pool.lower() != "inputfiles":
            raise self.fail("'inputFiles'", self.tokens[self.pos - 1])
        self.word("where")
        condition = self.condition()
        group_by: list[str] = []
        event = tag = None
        if self.is_word("group"):
            self.advance()
            self.word("by")
            group_by.append(_keyword(self.name("a keyword")))
            while self.is_op(","):
                self.advance()
                group_by.append(_keyword(self.name("a keyword")))
            if self.is_word("as"):
                self.advance()
                self.op("(")
                event = self.name("an event name")
                self.op(",")
                tag = self.name("a tag")
                self.op(")")
        self.op(";")
        signals = _signals(condition)
        min_frames, max_frames = self.group_min, self.group_max
        self.group_min, self.group_max = 1, 0
        return OrganiseRule(
            action=action,
            condition=condition,
            group_by=tuple(group_by),
            per_template="SIG.TEMPLATE" in signals,
            per_frame="SIG.FRAME" in signals,
            event=event,
            tag=tag,
            source=self.source(start),
            min_frames=min_frames,
            max_frames=max_frames,
        )

    def ret_count(self) -> tuple[str, int]:
        """``minRet = n;`` or ``maxRet = n;``."""
        which = self.advance().text.lower()
        self.op("=")
        count = self.number()
        if count < 0 or count != int(count):
            raise self.fail("a whole number >= 0", self.tokens[self.pos - 1])
        self.op(";")
        return which, int(count)

    def action(self) -> Action:
        start = self.word("action")
        name = self.name("an action name")
        self.op("{")
        self.min_ret, self.max_ret = 1, 1
        selects: list[Select] = []
        recipe: str | None = None
        params: tuple[str, ...] = ()
        products: list[str] = []
        while not self.is_op("}"):
            if self.is_word("minret", "maxret"):
                which, count = self.ret_count()
                if which == "minret":
                    self.min_ret = count
                else:
                    self.max_ret = count
            elif self.is_word("select"):
                selects.append(self.select_file())
            elif self.is_word("recipe"):
                recipe, params = self.recipe()
            elif self.is_word("product"):
                self.advance()
                products.append(self.name("a PRO.CATG"))
                while self.is_op(","):
                    self.advance()
                    products.append(self.name("a PRO.CATG"))
                self.op(";")
            elif self.is_op(";"):
                self.advance()
            else:
                raise self.fail("'minRet', 'maxRet', 'select', 'recipe', 'product' or '}'")
        self.op("}")
        return Action(name, tuple(selects), recipe, params, tuple(products), self.source(start))

    def select_file(self) -> Select:
        start = self.word("select")
        self.word("file")
        self.word("as")
        tag = self.name("a tag")
        self.word("from")
        pool_token = self.tok
        pool = self.name("'calibFiles' or 'rawFiles'")
        if pool.lower() not in ("calibfiles", "rawfiles"):
            raise self.fail("'calibFiles' or 'rawFiles'", pool_token)
        self.word("where")
        condition = self.condition()
        match: Match = Match.CLOSEST
        windows: tuple[float, ...] = ()
        if self.is_word("using"):
            match, windows = self.using()
        self.op(";")
        if self.min_ret > self.max_ret:
            raise RuleSyntaxError(
                f"{self.source(start)}: minRet = {self.min_ret} is larger than maxRet = {self.max_ret}"
            )
        return Select(tag, "calibFiles" if pool.lower() == "calibfiles" else "rawFiles", condition,
                      self.min_ret, self.max_ret, match, windows, self.source(start))

    def using(self) -> tuple[Match, tuple[float, ...]]:
        self.word("using")
        token = self.tok
        mode = self.name("CLOSEST, PREVIOUS, NEXT or ATTACHED").upper()
        if mode not in Match.__members__:
            raise self.fail("CLOSEST, PREVIOUS, NEXT or ATTACHED", token)
        windows: list[float] = []
        if self.is_word("within"):
            self.advance()
            windows.append(self.number())
            while self.is_op(","):
                self.advance()
                windows.append(self.number())
            self.word("days")
            if any(w <= 0 for w in windows) or windows != sorted(windows):
                raise self.fail("increasing positive windows in days", token)
        return Match(mode), tuple(windows)

    def recipe(self) -> tuple[str, tuple[str, ...]]:
        self.word("recipe")
        name = self.name("a recipe name")
        params: list[str] = []
        if self.is_op("{"):
            self.advance()
            while not self.is_op("}"):
                if self.tok.kind != "STRING":
                    raise self.fail('a parameter string like "--name=value"')
                params.append(self.advance().text[1:-1])
                self.op(";")
            self.op("}")
        if self.is_op(";"):
            self.advance()
        return name, tuple(params)

    # -- conditions --------------------------------------------------------------
    def condition(self) -> Condition:
        items = [self.conjunction()]
        while self.is_word("or"):
            self.advance()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Condition:
        items = [self.negation()]
        while self.is_word("and"):
            self.advance()
            items.append(self.negation())
        return items[0] if len(items) == 1 else And(tuple(items))

    def negation(self) -> Condition:
        if self.is_word("not") or self.is_op("("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise RuleSyntaxError(f"{self.source()}: conditions nested deeper than {MAX_DEPTH} levels")
            try:
                if self.is_word("not"):
                    self.advance()
                    return Not(self.negation())
                self.advance()
                inner = self.condition()
                self.op(")")
                return inner
            finally:
                self.depth -= 1
        return self.comparison()

    def comparison(self) -> Condition:
        left = self.operand()
        if self.is_word("like"):
            self.advance()
            if self.tok.kind != "STRING":
                raise self.fail('a "pattern" string')
            return Like(left, self.advance().text[1:-1])
        if self.tok.kind != "OP" or self.tok.text not in _COMPARE_OPS:
            raise self.fail("a comparison (==, !=, <, >, <=, >=, like)")
        op = self.advance().text
        return Compare(left, op, self.operand())

    def operand(self) -> Operand:
        token = self.tok
        if token.kind == "STRING":
            self.advance()
            return Literal(token.text[1:-1])
        if token.kind == "NUMBER":
            return Literal(self.number())
        if token.kind == "NAME" and token.text.lower() not in ("and", "or", "not", "like", "then"):
            self.advance()
            text = token.text
            if text.lower().startswith("inputfile."):
                return Key(_keyword(text[len("inputFile.") :]), of_input=True)
            return Key(_keyword(text))
        raise self.fail("a keyword, string or number")


def _keyword(text: str) -> str:
    name = text.upper()
    return name[3:] if name.startswith("LF.") else name


def _signals(condition: Condition) -> set[str]:
    """SIG.* directives named anywhere in a condition."""
    if isinstance(condition, Compare):
        return {o.name for o in (condition.left, condition.right) if isinstance(o, Key) and o.name in _SIGNALS}
    if isinstance(condition, Like):
        return set()
    if isinstance(condition, Not):
        return _signals(condition.item)
    return set().union(*(_signals(item) for item in condition.items))


def merge_action(first: Action, second: Action) -> Action:
    """Combine two blocks of the same action (e.g. ESO's rules plus a dfos product map)."""
    return _merge_blocks([first, second])


def _merge_blocks(blocks: list[Action]) -> Action:
    """Combine the blocks of one action, in order, in one pass (linear in their total size): selects
    add up, the last recipe and the last parameters given win, products are kept once each."""
    if len(blocks) == 1:
        return blocks[0]
    recipes = [b.recipe for b in blocks if b.recipe]
    params = [b.params for b in blocks if b.params]
    return replace(
        blocks[0],
        selects=tuple(s for b in blocks for s in b.selects),
        recipe=recipes[-1] if recipes else None,
        params=params[-1] if params else (),
        products=tuple(dict.fromkeys(p for b in blocks for p in b.products)),
    )


def merge(rule_sets: list[RuleSet]) -> RuleSet:
    """Several rule files read in order as one rule set."""
    blocks: dict[str, list[Action]] = {}
    for rules in rule_sets:
        for name, action in rules.actions.items():
            blocks.setdefault(name, []).append(action)
    return RuleSet(tuple(c for r in rule_sets for c in r.classify), tuple(o for r in rule_sets for o in r.organise),
                   {name: _merge_blocks(parts) for name, parts in blocks.items()},
                   tuple(f for r in rule_sets for f in r.files))


def parse_rules(text: str, file: str = "<rules>") -> RuleSet:
    """Parse OCA text; raise :class:`RuleSyntaxError` with ``file:line:col`` on any error."""
    return _Parser(text, file).rules()
