"""OCA text to :mod:`dfos.oca.syntax` values; every error names file, line and column.

A small hand-written lexer and recursive-descent parser.  Keyword names may
contain dots and hyphens (``DET.WIN1.BINX``, ``MJD-OBS``): OCA has no
arithmetic, so ``-`` inside a name is never an operator.  Statement keywords
(``if``, ``select``, ``and`` ...) are case-insensitive; keyword names and
strings keep their case.
"""

from __future__ import annotations

import bisect
import math
import re
import shlex
from dataclasses import replace
from typing import NamedTuple

from dfos.errors import ExitCode, FormatError
from dfos.oca.regexp import RegexpError, compile_regexp
from dfos.oca.syntax import (
    TYPE_TESTS,
    Action,
    And,
    Assignment,
    ClassifyRule,
    Compare,
    Condition,
    Counts,
    Expression,
    IsType,
    Key,
    Like,
    Literal,
    Match,
    Not,
    Operand,
    Or,
    OrganiseRule,
    ProductSpec,
    Regexp,
    RuleSet,
    Select,
    Source,
    Truth,
)

__all__ = ["RuleSyntaxError", "merge", "parse_rules"]


class RuleSyntaxError(FormatError):
    """A rule file cannot be parsed; the message starts with ``file:line:col``.

    Exit code 2, like a bad argument: a rule file is what the user hands dfos to read
    (``dfos oca check FILE``, ``OCA_RULES``), and a wrong one is fixed by the user, in the file.
    """

    exit_code = ExitCode.USAGE


class _Token(NamedTuple):
    kind: str  # NAME, STRING, NUMBER, OP, END
    text: str
    line: int
    column: int


#: Blanks and comments, skipped before each token.
_GAP = r"(?>\s+|//[^\n]*|/\*.*?\*/)*+"  # atomic: a comment never gives characters back to a token
_TOKEN_RE = re.compile(
    _GAP + r"""
    (?:
      (?P<STRING>"(?:[^"\\\n]|\\[^\n])*")
    | (?P<NUMBER>[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?(?![A-Za-z_.#]))
    | (?P<NAME>[A-Za-z_][A-Za-z0-9_.#]*(?:-[A-Za-z_][A-Za-z0-9_.#]*)*)
    | (?P<OP>==|!=|<=|>=|\?=|<|>|=|;|,|\(|\)|\{|\})
    )
    """,
    re.VERBOSE | re.DOTALL,
)
_TRAILER = re.compile(_GAP, re.DOTALL)


def _tokens(text: str, file: str) -> list[_Token]:
    """The tokens of a rule file, in one pass of one regular expression (blanks and comments are taken
    with the token after them); line and column are found by bisection on the line starts."""
    line_starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def place(offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(line_starts, offset)
        return line, offset - line_starts[line - 1] + 1

    tokens: list[_Token] = []
    append = tokens.append
    pos = 0
    for match in _TOKEN_RE.finditer(text):
        if match.start() != pos:
            break
        pos = match.end()
        kind = match.lastgroup or ""
        start = match.start(kind)
        line = bisect.bisect_right(line_starts, start)
        append(_Token(kind, match.group(kind), line, start - line_starts[line - 1] + 1))
    trailer = _TRAILER.match(text, pos)
    pos = trailer.end() if trailer else pos
    if pos < len(text):
        line, column = place(pos)
        if text[pos] == '"':
            raise RuleSyntaxError(f"{file}:{line}:{column}: unterminated string (strings end on their line)")
        if text.startswith("/*", pos):
            raise RuleSyntaxError(f"{file}:{line}:{column}: unterminated /* comment")
        snippet = text[pos : pos + 12].split("\n")[0]
        raise RuleSyntaxError(f"{file}:{line}:{column}: unexpected character(s) {snippet!r}")
    line, column = place(len(text))
    tokens.append(_Token("END", "", line, column))
    return tokens


_COMPARE_OPS = {"==", "!=", "<", ">", "<=", ">=", "?="}
#: Words that end an operand: they are never keyword names.
_RESERVED = {"and", "or", "not", "like", "regexp", "is", "then", "group", "as", "using"}
#: The truth literals: ``T`` and ``F`` as FITS writes them (upper case only), ``true`` and ``false`` in any case.
_TRUTH = {"T": True, "F": False, "TRUE": True, "FALSE": False}
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
        counts = Counts()
        while self.tok.kind != "END":
            if not self.is_word("select", "minret", "maxret"):
                self.group_min, self.group_max = 1, 0  # a pending minRet/maxRet applies to the next statement only
            if self.is_word("if"):
                classify.append(self.classify_rule())
            elif self.is_word("select"):
                organise.append(self.organise_rule())
            elif self.is_word("action"):
                action, declared = self.action()
                blocks.setdefault(action.name, []).append(action)
                counts += Counts(actions=1, selects=len(action.selects), products=declared)
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
        counts += Counts(classify=len(classify), organise=len(organise))
        return RuleSet(tuple(classify), tuple(organise), actions, (self.file,), counts)

    def classify_rule(self) -> ClassifyRule:
        start = self.word("if")
        condition = self.condition()
        self.word("then")
        return ClassifyRule(condition, self.assignments("a keyword to assign"), self.source(start))

    def assignments(self, what: str) -> tuple[Assignment, ...]:
        """``{ KEY = expression; ... }`` (the last ``;`` may be left out; an empty block is allowed)."""
        self.op("{")
        found = []
        while not self.is_op("}"):
            if self.is_op(";"):
                self.advance()
                continue
            key = self.name(what)
            self.op("=")
            found.append(Assignment(_keyword(key), self.expression()))
            if not self.is_op("}"):
                self.op(";")
        self.op("}")
        return tuple(found)

    def expression(self) -> Expression:
        """An assignment's value: a constant or keyword (copied), or a condition (its truth, T or F)."""
        after = self.tokens[min(self.pos + 1, len(self.tokens) - 1)]
        compares = (after.kind == "OP" and after.text in _COMPARE_OPS) or \
            (after.kind == "NAME" and after.text.lower() in ("like", "regexp", "is"))
        if self.tok.kind in ("STRING", "NUMBER") and not compares:
            return self.operand()
        value = self.condition()
        return value.operand if isinstance(value, Truth) else value

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
            tag = self.text("a tag")
            self.op(")")
        self.op(";")
        signals = _signals(condition)
        # as in an action: minRet above maxRet takes the frames required (maxRet = 0 here: no limit)
        min_frames = self.group_min
        max_frames = max(self.group_min, self.group_max) if self.group_max else 0
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

    def text(self, what: str) -> str:
        """A name, or a string (its contents)."""
        if self.tok.kind == "STRING":
            return _unquote(self.advance().text)
        return self.name(what)

    def ret_count(self) -> tuple[str, int]:
        """``minRet = n;`` or ``maxRet = n;``."""
        which = self.advance().text.lower()
        self.op("=")
        count = self.number()
        if count < 0 or count != int(count):
            raise self.fail("a whole number >= 0", self.tokens[self.pos - 1])
        self.op(";")
        return which, int(count)

    def action(self) -> tuple[Action, int]:
        """One ``action`` block, and how many products it declares."""
        start = self.word("action")
        name = self.name("an action name")
        self.op("{")
        self.min_ret, self.max_ret = 1, 1
        selects: list[Select] = []
        recipe: str | None = None
        params: tuple[str, ...] = ()
        products: list[ProductSpec] = []
        properties: dict[str, Expression] = {}
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
                products += self.products()
            elif self.is_op(";"):
                self.advance()
            elif self.tok.kind == "NAME" and self.tokens[self.pos + 1].text == "=":
                key = _keyword(self.advance().text)  # an action setting: "priority = 30;" (ESO's MUSE rules)
                self.op("=")
                properties[key] = self.expression()
                self.op(";")
            else:
                raise self.fail("'minRet', 'maxRet', 'select', 'recipe', 'product', a setting or '}'")
        self.op("}")
        action = Action(name, tuple(selects), recipe, params, tuple(products), self.source(start),
                        tuple(properties.items()))
        return action, len(products)

    def products(self) -> list[ProductSpec]:
        """``product NAME { KEY = value; ... }`` (Reflex) or ``product CATG[, CATG ...];`` (dfos)."""
        self.word("product")
        name = self.name("a product name")
        if self.is_op("{"):
            spec = ProductSpec(name, self.assignments("a product keyword (PRO.CATG, PRO.EXT, ...)"))
            if self.is_op(";"):
                self.advance()
            return [spec]
        found = [ProductSpec(name)]
        while self.is_op(","):
            self.advance()
            found.append(ProductSpec(self.name("a PRO.CATG")))
        self.op(";")
        return found

    def select_file(self) -> Select:
        start = self.word("select")
        self.word("file")
        self.word("as")
        tag = self.name("a tag")
        self.word("from")
        pool_token = self.tok
        pool = self.name("'calibFiles', 'rawFiles' or 'inputFiles'")
        pools = {"calibfiles": "calibFiles", "rawfiles": "rawFiles", "inputfiles": "inputFiles"}
        if pool.lower() not in pools:
            raise self.fail("'calibFiles', 'rawFiles' or 'inputFiles'", pool_token)
        self.word("where")
        condition = self.condition()
        match: Match = Match.CLOSEST
        windows: tuple[float, ...] = ()
        if self.is_word("using"):
            match, windows = self.using()
        self.op(";")
        # minRet above maxRet (ESO's MUSE rules: "minRet = 1;" after "maxRet = 0;"): the files required are
        # taken, so the recipe gets what it needs
        return Select(tag, pools[pool.lower()], condition, self.min_ret, max(self.min_ret, self.max_ret), match,
                      windows, self.source(start))

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
        """``recipe NAME [{ "--p=v"; ... }]``; a string may hold several words (``"--nifu=-1 --merge"``)."""
        self.word("recipe")
        name = self.name("a recipe name")
        params: list[str] = []
        if self.is_op("{"):
            self.advance()
            while not self.is_op("}"):
                if self.is_op(";") or self.is_op(","):
                    self.advance()
                    continue
                if self.tok.kind != "STRING":
                    raise self.fail('a parameter string like "--name=value"')
                token = self.advance()
                try:
                    params += shlex.split(_unquote(token.text))
                except ValueError as exc:
                    raise RuleSyntaxError(f"{self.source(token)}: recipe parameter {token.text}: {exc}") from None
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
        if self.is_word("like", "regexp"):
            which = self.advance().text.lower()
            if self.tok.kind != "STRING":
                raise self.fail('a "pattern" string')
            token = self.advance()
            pattern = _unquote(token.text)
            if which == "like":
                return Like(left, pattern)
            try:
                compile_regexp(pattern)
            except RegexpError as exc:
                raise RuleSyntaxError(f"{self.source(token)}: not a POSIX extended regular expression: {exc}") \
                    from None
            return Regexp(left, pattern)
        if self.is_word("is"):
            self.advance()
            negated = self.is_word("not")
            if negated:
                self.advance()
            token = self.tok
            kind = self.name(_one_of(TYPE_TESTS)).lower()
            if kind not in TYPE_TESTS:
                raise self.fail(_one_of(TYPE_TESTS), token)
            return IsType(left, kind, negated)
        if self.tok.kind == "OP" and self.tok.text in _COMPARE_OPS:
            op = self.advance().text
            return Compare(left, op, self.operand())
        if isinstance(left, Key) or isinstance(left.value, bool):
            return Truth(left)
        raise self.fail("a comparison (==, !=, ?=, <, >, <=, >=, like, regexp, is)")

    def operand(self) -> Operand:
        token = self.tok
        if token.kind == "STRING":
            self.advance()
            return Literal(_unquote(token.text))
        if token.kind == "NUMBER":
            return Literal(self.number())
        if token.kind == "NAME" and token.text.lower() not in _RESERVED:
            self.advance()
            text = token.text
            truth = _TRUTH.get(text if len(text) == 1 else text.upper())
            if truth is not None:
                return Literal(truth)
            if text.lower().startswith("inputfile."):
                return Key(_keyword(text[len("inputFile.") :]), of_input=True)
            return Key(_keyword(text))
        raise self.fail("a keyword, string or number")


def _one_of(words: tuple[str, ...]) -> str:
    return ", ".join(words[:-1]) + " or " + words[-1]


def _unquote(token: str) -> str:
    """A string token's contents: ``\\"`` is a quote, every other backslash stays as written."""
    return token[1:-1].replace('\\"', '"')


def _keyword(text: str) -> str:
    name = text.upper()
    return name[3:] if name.startswith("LF.") else name


def _signals(condition: Condition) -> set[str]:
    """SIG.* directives named anywhere in a condition."""
    if isinstance(condition, Compare):
        return {o.name for o in (condition.left, condition.right) if isinstance(o, Key) and o.name in _SIGNALS}
    if isinstance(condition, (Like, Regexp, IsType, Truth)):
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
    products: dict[str, ProductSpec] = {}
    for block in blocks:  # one product per name; a later block's assignments complete an earlier one's
        for spec in block.products:
            known = products.get(spec.name)
            products[spec.name] = replace(known, assignments=known.assignments + spec.assignments) \
                if known is not None else spec
    return replace(
        blocks[0],
        selects=tuple(s for b in blocks for s in b.selects),
        recipe=recipes[-1] if recipes else None,
        params=params[-1] if params else (),
        products=tuple(products.values()),
        properties=tuple({k: v for b in blocks for k, v in b.properties}.items()),
    )


def merge(rule_sets: list[RuleSet]) -> RuleSet:
    """Several rule files read in order as one rule set."""
    blocks: dict[str, list[Action]] = {}
    for rules in rule_sets:
        for name, action in rules.actions.items():
            blocks.setdefault(name, []).append(action)
    return RuleSet(tuple(c for r in rule_sets for c in r.classify), tuple(o for r in rule_sets for o in r.organise),
                   {name: _merge_blocks(parts) for name, parts in blocks.items()},
                   tuple(f for r in rule_sets for f in r.files), sum((r.counts for r in rule_sets), Counts()))


def parse_rules(text: str, file: str = "<rules>") -> RuleSet:
    """Parse OCA text; raise :class:`RuleSyntaxError` with ``file:line:col`` on any error."""
    return _Parser(text, file).rules()
