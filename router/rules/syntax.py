"""The rules language: tokens, grammar and syntax tree (pure; no evaluation happens here).

An expression reads like the agreement it comes from::

    industry in ["software", "fintech"] and employees >= 200 and not (email_domain ends_with ".edu")

Grammar (lowest precedence first)::

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | test
    test    := sum [ ("==" | "!=" | "<" | "<=" | ">" | ">=") sum
                   | ["not"] "in" sum | "contains" sum | "starts_with" sum | "ends_with" sum
                   | "matches" STRING | "between" sum "and" sum | "is" ["not"] "null" ]
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := "-" unary | atom
    atom    := NUMBER | STRING | "true" | "false" | "null" | "[" [expr ("," expr)* [","]] "]"
             | NAME ["(" [expr ("," expr)*] ")"] | "(" expr ")"
    NAME    := [A-Za-z][A-Za-z0-9_]* ("." [A-Za-z0-9_]+)*

The parser is a hand-written recursive descent over a bounded input: expressions longer than
``MAX_LENGTH`` characters or nested deeper than ``MAX_DEPTH`` are rejected, so no input can exhaust
the stack. Names starting with ``_`` do not exist; there is no attribute access, indexing, lambda or
exponent operator to reach Python from a rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

MAX_LENGTH = 4000
MAX_DEPTH = 48
MAX_LIST = 1000
MAX_NUMBER = 10**15

KEYWORDS = frozenset(
    {"and", "or", "not", "in", "contains", "starts_with", "ends_with", "matches", "between", "is",
     "null", "true", "false"}
)  # fmt: skip
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:_\d+)*(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\+|-|\*|/)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


class RuleSyntaxError(ValueError):
    """An expression that cannot be compiled; ``offset`` is where, within the expression text."""

    def __init__(self, message: str, text: str, offset: int) -> None:
        self.message = message
        self.text = text
        self.offset = max(0, min(offset, len(text)))
        before = text[: self.offset]
        self.line = before.count("\n") + 1
        self.column = self.offset - (before.rfind("\n") + 1) + 1
        super().__init__(f"{message} (at line {self.line}, column {self.column} of the expression)")


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token: ``kind`` is number, string, name, keyword, op or end."""

    kind: str
    text: str
    offset: int
    value: object = None


# --- syntax tree ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    """A number, string, boolean or null."""

    value: object
    offset: int


@dataclass(frozen=True, slots=True)
class ListLiteral:
    """``[a, b, ...]``."""

    items: tuple[Node, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class Name:
    """A field, score, activity count, persona or custom attribute: ``employees``, ``attributes.plan``."""

    name: str
    offset: int


@dataclass(frozen=True, slots=True)
class Call:
    """One of the language's functions: ``days_since(last_activity_at)``."""

    function: str
    args: tuple[Node, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """``left op right`` with op in + - * /, or unary minus (``left`` is None)."""

    op: str
    left: Node | None
    right: Node
    offset: int


@dataclass(frozen=True, slots=True)
class Compare:
    """``left op right``: == != < <= > >= in, not in, contains, starts_with, ends_with, matches."""

    op: str
    left: Node
    right: Node
    offset: int


@dataclass(frozen=True, slots=True)
class Between:
    """``value between low and high`` (inclusive)."""

    value: Node
    low: Node
    high: Node
    offset: int


@dataclass(frozen=True, slots=True)
class IsNull:
    """``value is null`` / ``value is not null``."""

    value: Node
    negated: bool
    offset: int


@dataclass(frozen=True, slots=True)
class Logical:
    """``a and b and ...`` / ``a or b or ...``."""

    op: str
    operands: tuple[Node, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class Not:
    """``not a``."""

    operand: Node
    offset: int


Node: TypeAlias = (
    Literal | ListLiteral | Name | Call | Arithmetic | Compare | Between | IsNull | Logical | Not
)


# --- lexer ----------------------------------------------------------------------------------------


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token."""
    if len(text) > MAX_LENGTH:
        raise RuleSyntaxError(f"expression longer than {MAX_LENGTH} characters", text, MAX_LENGTH)
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise RuleSyntaxError(f"unexpected character {text[position]!r}", text, position)
        kind = match.lastgroup or ""
        lexeme = match.group()
        if kind == "number":
            tokens.append(Token("number", lexeme, position, _number(lexeme, text, position)))
        elif kind == "string":
            tokens.append(Token("string", lexeme, position, _unquote(lexeme, text, position)))
        elif kind == "name":
            if lexeme.startswith("_"):
                raise RuleSyntaxError(f"names cannot start with '_': {lexeme!r}", text, position)
            tokens.append(Token("keyword" if lexeme in KEYWORDS else "name", lexeme, position))
        elif kind == "op":
            tokens.append(Token("op", lexeme, position))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _number(lexeme: str, text: str, offset: int) -> int | float:
    plain = lexeme.replace("_", "")
    value: int | float = float(plain) if any(c in plain for c in ".eE") else int(plain)
    if not abs(value) <= MAX_NUMBER:  # also rejects inf and nan
        raise RuleSyntaxError(f"number out of range (at most {MAX_NUMBER:.0e})", text, offset)
    return value


def _unquote(lexeme: str, text: str, offset: int) -> str:
    body = lexeme[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            escaped = body[index + 1]
            if escaped not in _ESCAPES:
                raise RuleSyntaxError(f"unknown escape '\\{escaped}' in string", text, offset + index + 1)
            out.append(_ESCAPES[escaped])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


# --- parser ---------------------------------------------------------------------------------------

_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_WORD_TESTS = frozenset({"in", "contains", "starts_with", "ends_with"})


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def error(self, message: str, token: Token | None = None) -> RuleSyntaxError:
        return RuleSyntaxError(message, self.text, (token or self.token).offset)

    def take(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def at(self, *texts: str) -> bool:
        token = self.token
        return token.kind in ("op", "keyword") and token.text in texts

    def expect(self, text: str) -> Token:
        if not self.at(text):
            found = self.token.text or "the end"
            raise self.error(f"expected '{text}' but found {found!r}")
        return self.take()

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression nested deeper than {MAX_DEPTH} levels")

    def parse(self) -> Node:
        node = self.expression()
        if self.token.kind != "end":
            raise self.error(f"unexpected {self.token.text!r} after a complete expression")
        return node

    def expression(self) -> Node:
        self.nested()
        first = self.conjunction()
        operands = [first]
        while self.at("or"):
            self.take()
            operands.append(self.conjunction())
        self.depth -= 1
        return first if len(operands) == 1 else Logical("or", tuple(operands), _offset(first))

    def conjunction(self) -> Node:
        first = self.negation()
        operands = [first]
        while self.at("and"):
            self.take()
            operands.append(self.negation())
        return first if len(operands) == 1 else Logical("and", tuple(operands), _offset(first))

    def negation(self) -> Node:
        if self.at("not"):
            token = self.take()
            self.nested()
            operand = self.negation()
            self.depth -= 1
            return Not(operand, token.offset)
        return self.test()

    def test(self) -> Node:
        left = self.sum()
        token = self.token
        if token.kind == "op" and token.text in _COMPARISONS:
            self.take()
            return Compare(token.text, left, self.sum(), token.offset)
        if self.at("not") and self.tokens[self.index + 1].text == "in":
            self.take()
            self.take()
            return Compare("not in", left, self.sum(), token.offset)
        if token.kind == "keyword" and token.text in _WORD_TESTS:
            self.take()
            return Compare(token.text, left, self.sum(), token.offset)
        if self.at("matches"):
            self.take()
            pattern = self.token
            if pattern.kind != "string":
                raise self.error("'matches' needs a regular expression in quotes")
            self.take()
            return Compare("matches", left, Literal(pattern.value, pattern.offset), token.offset)
        if self.at("between"):
            self.take()
            low = self.sum()
            self.expect("and")
            return Between(left, low, self.sum(), token.offset)
        if self.at("is"):
            self.take()
            negated = bool(self.at("not") and self.take())
            self.expect("null")
            return IsNull(left, negated, token.offset)
        return left

    def sum(self) -> Node:
        node = self.product()
        while self.at("+", "-"):
            token = self.take()
            node = Arithmetic(token.text, node, self.product(), token.offset)
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.at("*", "/"):
            token = self.take()
            node = Arithmetic(token.text, node, self.unary(), token.offset)
        return node

    def unary(self) -> Node:
        if self.at("-"):
            token = self.take()
            self.nested()
            operand = self.unary()
            self.depth -= 1
            if isinstance(operand, Literal) and type(operand.value) in (int, float):
                return Literal(-operand.value, token.offset)  # type: ignore[operator]
            return Arithmetic("-", None, operand, token.offset)
        return self.atom()

    def atom(self) -> Node:
        token = self.token
        if token.kind in ("number", "string"):
            self.take()
            return Literal(token.value, token.offset)
        if token.kind == "keyword" and token.text in ("true", "false", "null"):
            self.take()
            return Literal({"true": True, "false": False, "null": None}[token.text], token.offset)
        if self.at("["):
            return self.list_literal()
        if self.at("("):
            self.take()
            node = self.expression()
            self.expect(")")
            return node
        if token.kind == "name":
            self.take()
            if self.at("("):
                return self.call(token)
            return Name(token.text, token.offset)
        if token.kind == "end":
            raise self.error("the expression ends too early")
        raise self.error(f"unexpected {token.text!r}")

    def list_literal(self) -> Node:
        start = self.take()
        items: list[Node] = []
        while not self.at("]"):
            if len(items) == MAX_LIST:
                raise self.error(f"lists hold at most {MAX_LIST} items")
            items.append(self.expression())
            if not self.at("]"):
                self.expect(",")
        self.take()
        return ListLiteral(tuple(items), start.offset)

    def call(self, name: Token) -> Node:
        self.take()
        args: list[Node] = []
        while not self.at(")"):
            args.append(self.expression())
            if not self.at(")"):
                self.expect(",")
        self.take()
        return Call(name.text, tuple(args), name.offset)


def _offset(node: Node) -> int:
    return node.offset


def walk(node: Node) -> list[Node]:
    """``node`` and every node below it."""
    out: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        out.append(current)
        if isinstance(current, ListLiteral | Call):
            stack.extend(current.items if isinstance(current, ListLiteral) else current.args)
        elif isinstance(current, Arithmetic):
            stack.extend([current.right] + ([current.left] if current.left is not None else []))
        elif isinstance(current, Compare):
            stack.extend([current.left, current.right])
        elif isinstance(current, Between):
            stack.extend([current.value, current.low, current.high])
        elif isinstance(current, IsNull | Not):
            stack.append(current.value if isinstance(current, IsNull) else current.operand)
        elif isinstance(current, Logical):
            stack.extend(current.operands)
    return out


def parse(text: str) -> Node:
    """The syntax tree of ``text``; raises ``RuleSyntaxError`` with the offending position."""
    if not text.strip():
        raise RuleSyntaxError("the expression is empty", text, 0)
    return _Parser(text).parse()


__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Arithmetic",
    "Between",
    "Call",
    "Compare",
    "IsNull",
    "ListLiteral",
    "Literal",
    "Logical",
    "Name",
    "Node",
    "Not",
    "RuleSyntaxError",
    "parse",
    "tokenize",
    "walk",
]
