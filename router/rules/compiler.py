"""Type-check rule expressions and translate them into Python source over local variables.

``ExpressionCompiler`` turns each syntax tree into a Python expression string that never raises:
missing values (``null``) make a comparison false, arithmetic on a missing value or a division by
zero gives ``null``, and values of unknown type (custom attributes) go through guarded helpers.
Every name in the generated source is one the compiler made (``f3``, ``k7``, ``t2``); literals are
embedded with ``repr`` (numbers, strings) or passed in as constants (sets, regular expressions,
helpers). ``build_function`` compiles a function body assembled from such expressions with no
builtins, so a rule can reach nothing but its own values.

Regular expressions use RE2 (linear time, no backreferences), so no pattern can run for long.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import re2

from router.rules.syntax import (
    Arithmetic,
    Between,
    Call,
    Compare,
    IsNull,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Node,
    Not,
    RuleSyntaxError,
)

NUMBER, STRING, BOOL, LIST, DATETIME, ANY, NULL = (
    "number",
    "string",
    "bool",
    "list",
    "datetime",
    "any",
    "null",
)
MAX_PATTERN = 512


@dataclass(frozen=True, slots=True)
class Symbol:
    """A name rules may use: its type, whether it can be missing, and where its value lives.

    ``source`` is a local variable the enclosing function defines (scores, personas); without one
    the value is read from the facts mapping under the symbol's name.
    """

    type: str
    nullable: bool = True
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Catalog:
    """The names an expression may use: exact names plus prefixes (``attributes.`` = any value)."""

    names: Mapping[str, Symbol]
    prefixes: Mapping[str, Symbol] = field(default_factory=dict)

    def lookup(self, name: str) -> Symbol | None:
        """The symbol for ``name``, or None when no such field exists."""
        symbol = self.names.get(name)
        if symbol is not None:
            return symbol
        for prefix, prefixed in self.prefixes.items():
            if name.startswith(prefix) and len(name) > len(prefix):
                return prefixed
        return None

    def suggest(self, name: str) -> str:
        """' (did you mean ...?)' for a misspelt name, else ''."""
        close = difflib.get_close_matches(name, list(self.names), n=1)
        return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(slots=True)
class _Value:
    source: str
    type: str
    nullable: bool
    simple: bool  # a name or literal: cheap and safe to repeat
    literal_set: bool = False  # a list written out in the rule: a frozenset constant


# --- runtime helpers (called only for values whose type is not known when compiling) -------------


def _is_number(value: object) -> bool:
    return type(value) in (int, float)


def _order(op: str) -> Callable[[object, object], bool]:
    def compare(left: Any, right: Any) -> bool:
        if (_is_number(left) and _is_number(right)) or type(left) is type(right) is str:
            if op == "<":
                return bool(left < right)
            if op == "<=":
                return bool(left <= right)
            if op == ">":
                return bool(left > right)
            return bool(left >= right)
        return False

    return compare


def _arithmetic(op: str) -> Callable[[object, object], float | int | None]:
    def apply(left: Any, right: Any) -> float | int | None:
        if not (_is_number(left) and _is_number(right)):
            return None
        if op == "+":
            return left + right  # type: ignore[no-any-return]
        if op == "-":
            return left - right  # type: ignore[no-any-return]
        if op == "*":
            return left * right  # type: ignore[no-any-return]
        return left / right if right else None

    return apply


def _negate(value: object) -> float | int | None:
    return -value if _is_number(value) else None  # type: ignore[operator]


def _member(value: object, options: frozenset[object]) -> bool:
    if isinstance(value, list | tuple):
        return any(_hashable(item) and item in options for item in value)
    return _hashable(value) and value in options


def _hashable(value: object) -> bool:
    return value is not None and isinstance(value, str | int | float | bool)


def _contains(container: object, item: object) -> bool:
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, list | tuple):
        return item in container
    return False


def _starts(value: object, prefix: str) -> bool:
    return isinstance(value, str) and value.startswith(prefix)


def _ends(value: object, suffix: str) -> bool:
    return isinstance(value, str) and value.endswith(suffix)


def _matches(value: object, pattern: Any) -> bool:
    return isinstance(value, str) and pattern.search(value) is not None


def _days_since(value: object, now: datetime) -> float | None:
    if not isinstance(value, datetime):
        return None
    return (now - value).total_seconds() / 86400.0


def _lower(value: object) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _upper(value: object) -> str | None:
    return value.upper() if isinstance(value, str) else None


def _length(value: object) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


_FUNCTIONS: dict[str, tuple[tuple[str, ...], str, Callable[..., Any]]] = {
    # name: (accepted argument types, result type, helper)
    "days_since": ((DATETIME, ANY), NUMBER, _days_since),
    "lower": ((STRING, ANY), STRING, _lower),
    "upper": ((STRING, ANY), STRING, _upper),
    "len": ((STRING, LIST, ANY), NUMBER, _length),
}
FUNCTIONS = frozenset(_FUNCTIONS)


class ExpressionCompiler:
    """Compiles expressions for one generated function: shared constants, field loads and temporaries."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.constants: dict[str, object] = {}
        self._constant_names: dict[tuple[str, object], str] = {}
        self.loads: dict[str, str] = {}  # field name -> local variable
        self._temporaries = 0
        self._text = ""

    # --- entry points -------------------------------------------------------------------------

    def condition(self, tree: Node, text: str) -> str:
        """Python source of a boolean expression for the rule ``tree`` (parsed from ``text``)."""
        self._text = text
        return self._test(tree)

    def constant(self, value: object, hint: str = "k") -> str:
        """A name under which ``value`` reaches the generated function."""
        key = (hint, id(value) if not _hashable(value) else value)
        name = self._constant_names.get(key)
        if name is None:
            name = f"{hint}{len(self.constants)}"
            self.constants[name] = value
            self._constant_names[key] = name
        return name

    # --- values -------------------------------------------------------------------------------

    def _fail(self, message: str, node: Node) -> RuleSyntaxError:
        return RuleSyntaxError(message, self._text, node.offset)

    def _temporary(self) -> str:
        self._temporaries += 1
        return f"t{self._temporaries}"

    def _value(self, node: Node) -> _Value:
        if isinstance(node, Literal):
            return self._literal(node)
        if isinstance(node, ListLiteral):
            items = [self._literal_item(item) for item in node.items]
            name = self.constant(frozenset(items), "s")
            return _Value(name, LIST, nullable=False, simple=True, literal_set=True)
        if isinstance(node, Name):
            return self._name(node)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Arithmetic):
            return self._arithmetic(node)
        return _Value(f"({self._test(node)})", BOOL, nullable=False, simple=False)

    def _literal(self, node: Literal) -> _Value:
        value = node.value
        if value is None:
            return _Value("None", NULL, nullable=True, simple=True)
        if isinstance(value, bool):
            return _Value(repr(value), BOOL, nullable=False, simple=True)
        if isinstance(value, int | float):
            return _Value(repr(value), NUMBER, nullable=False, simple=True)
        return _Value(repr(value), STRING, nullable=False, simple=True)

    def _literal_item(self, node: Node) -> object:
        if isinstance(node, Literal) and node.value is not None:
            return node.value
        raise self._fail("list items must be numbers, strings or booleans written out", node)

    def _name(self, node: Name) -> _Value:
        symbol = self.catalog.lookup(node.name)
        if symbol is None:
            raise self._fail(f"unknown field '{node.name}'{self.catalog.suggest(node.name)}", node)
        if symbol.source is not None:
            return _Value(symbol.source, symbol.type, symbol.nullable, simple=True)
        local = self.loads.get(node.name)
        if local is None:
            local = self.loads[node.name] = f"f{len(self.loads)}"
        return _Value(local, symbol.type, symbol.nullable, simple=True)

    def _call(self, node: Call) -> _Value:
        spec = _FUNCTIONS.get(node.function)
        if spec is None:
            raise self._fail(
                f"unknown function '{node.function}' (functions: {', '.join(sorted(_FUNCTIONS))})", node
            )
        accepted, result, helper = spec
        if len(node.args) != 1:
            raise self._fail(f"{node.function}() takes exactly one argument", node)
        argument = self._value(node.args[0])
        if argument.type not in accepted and argument.type != NULL:
            raise self._fail(f"{node.function}() does not take a {argument.type}", node.args[0])
        name = self.constant(helper, "h")
        extra = ", now" if node.function == "days_since" else ""
        return _Value(f"{name}({argument.source}{extra})", result, nullable=True, simple=False)

    def _arithmetic(self, node: Arithmetic) -> _Value:
        right = self._value(node.right)
        self._require_number(right, node.right, node.op)
        if node.left is None:
            return _Value(f"{self.constant(_negate, 'h')}({right.source})", NUMBER, True, simple=False)
        left = self._value(node.left)
        self._require_number(left, node.left, node.op)
        helper = self.constant(_arithmetic(node.op), "h")
        return _Value(f"{helper}({left.source}, {right.source})", NUMBER, nullable=True, simple=False)

    def _require_number(self, value: _Value, node: Node, op: str) -> None:
        if value.type not in (NUMBER, ANY, NULL):
            raise self._fail(f"'{op}' needs numbers, not a {value.type}", node)

    # --- tests ----------------------------------------------------------------------------------

    def _test(self, node: Node) -> str:
        if isinstance(node, Logical):
            joiner = f" {node.op} "
            return "(" + joiner.join(self._test(operand) for operand in node.operands) + ")"
        if isinstance(node, Not):
            return f"(not {self._test(node.operand)})"
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, Between):
            return self._between(node)
        if isinstance(node, IsNull):
            value = self._value(node.value)
            return f"({value.source} is {'not ' if node.negated else ''}None)"
        value = self._value(node)
        if value.type == BOOL:
            return value.source if not value.nullable else f"({value.source} is True)"
        if value.type == ANY:
            return f"({value.source} is True)"
        raise self._fail(
            f"a rule must be a condition, and this is a {value.type} (compare it, e.g. '... > 0')", node
        )

    def _guarded(self, value: _Value) -> tuple[str, str]:
        """(guard, reference): ``guard`` binds a complex value once and checks it is not null."""
        if not value.nullable:
            return "", value.source
        if value.simple:
            return f"{value.source} is not None and ", value.source
        temporary = self._temporary()
        return f"({temporary} := {value.source}) is not None and ", temporary

    def _compare(self, node: Compare) -> str:
        op = node.op
        left = self._value(node.left)
        if op == "matches":
            return self._matches(node, left)
        right = self._value(node.right)
        if NULL in (left.type, right.type):
            raise self._fail("compare with 'is null' or 'is not null'", node)
        if op in ("<", "<=", ">", ">="):
            return self._ordering(node, left, right)
        if op in ("==", "!="):
            return self._equality(node, left, right)
        if op in ("in", "not in"):
            return self._membership(node, left, right)
        if op == "contains":
            return self._membership(node, right, left, contains=True)
        return self._affix(node, left, right)

    def _ordering(self, node: Compare, left: _Value, right: _Value) -> str:
        if ANY in (left.type, right.type):
            helper = self.constant(_order(node.op), "h")
            return f"{helper}({left.source}, {right.source})"
        if not left.type == right.type == NUMBER:
            raise self._fail(f"'{node.op}' compares numbers, not a {left.type} with a {right.type}", node)
        left_guard, left_ref = self._guarded(left)
        right_guard, right_ref = self._guarded(right)
        return f"({left_guard}{right_guard}{left_ref} {node.op} {right_ref})"

    def _equality(self, node: Compare, left: _Value, right: _Value) -> str:
        kinds = {left.type, right.type}
        if ANY not in kinds and len(kinds) > 1:
            raise self._fail(f"a {left.type} is never equal to a {right.type}", node)
        if BOOL in kinds and (right.simple and right.source in ("True", "False")):
            return f"({left.source} is {'' if node.op == '==' else 'not '}{right.source})"
        if node.op == "==" and (not left.nullable or not right.nullable):
            return f"({left.source} == {right.source})"  # a missing value never equals a present one
        left_guard, left_ref = self._guarded(left)
        right_guard, right_ref = self._guarded(right)
        return f"({left_guard}{right_guard}{left_ref} {node.op} {right_ref})"

    def _membership(self, node: Compare, item: _Value, collection: _Value, *, contains: bool = False) -> str:
        """``item in collection`` (also ``collection contains item``); a list on the left means any of it."""
        negated = node.op == "not in"
        if collection.literal_set:
            if item.type == ANY:
                helper = self.constant(_member, "h")
                test = f"{helper}({item.source}, {collection.source})"
                return f"(not {test})" if negated else test
            guard, ref = self._guarded(item)
            if item.type == LIST:
                test = f"{collection.source}.isdisjoint({ref})"
                return f"({guard}{test if negated else 'not ' + test})"
            if item.type not in (STRING, NUMBER, BOOL):
                raise self._fail(f"a {item.type} cannot be in a list", node)
            if not negated:  # null is never in a written-out list: no guard needed
                return (
                    f"({item.source} in {collection.source})"
                    if item.simple
                    else f"({ref} in {collection.source})"
                )
            return f"({guard}{ref} not in {collection.source})"
        if ANY in (collection.type, item.type):
            helper = self.constant(_contains, "h")
            test = f"{helper}({collection.source}, {item.source})"
            return f"(not {test})" if negated else test
        if (collection.type == LIST and item.type in (STRING, NUMBER, BOOL)) or (
            collection.type == STRING and item.type == STRING
        ):
            pass
        else:
            verb = "contain" if contains else "be in"
            raise self._fail(f"a {collection.type} cannot {verb} a {item.type}", node)
        collection_guard, collection_ref = self._guarded(collection)
        item_guard, item_ref = self._guarded(item)
        operator = "not in" if negated else "in"
        return f"({collection_guard}{item_guard}{item_ref} {operator} {collection_ref})"

    def _affix(self, node: Compare, left: _Value, right: _Value) -> str:
        if right.type != STRING:
            raise self._fail(f"'{node.op}' needs a string on the right, not a {right.type}", node)
        if left.type == ANY:
            helper = self.constant(_starts if node.op == "starts_with" else _ends, "h")
            return f"{helper}({left.source}, {right.source})"
        if left.type != STRING:
            raise self._fail(f"'{node.op}' needs a string on the left, not a {left.type}", node)
        method = "startswith" if node.op == "starts_with" else "endswith"
        left_guard, left_ref = self._guarded(left)
        right_guard, right_ref = self._guarded(right)
        return f"({left_guard}{right_guard}{left_ref}.{method}({right_ref}))"

    def _matches(self, node: Compare, left: _Value) -> str:
        pattern_text = node.right.value if isinstance(node.right, Literal) else None
        if not isinstance(pattern_text, str):
            raise self._fail("'matches' needs a regular expression in quotes", node.right)
        if len(pattern_text) > MAX_PATTERN:
            raise self._fail(f"regular expressions are at most {MAX_PATTERN} characters", node.right)
        try:
            pattern = re2.compile(pattern_text)
        except re2.error as error:
            raise self._fail(f"invalid regular expression: {error}", node.right) from None
        name = self.constant(pattern, "r")
        if left.type == ANY:
            return f"{self.constant(_matches, 'h')}({left.source}, {name})"
        if left.type != STRING:
            raise self._fail(f"'matches' needs a string, not a {left.type}", node)
        guard, ref = self._guarded(left)
        return f"({guard}{name}.search({ref}) is not None)"

    def _between(self, node: Between) -> str:
        value, low, high = self._value(node.value), self._value(node.low), self._value(node.high)
        if ANY in (value.type, low.type, high.type):
            lower, upper = self.constant(_order(">="), "h"), self.constant(_order("<="), "h")
            return f"({lower}({value.source}, {low.source}) and {upper}({value.source}, {high.source}))"
        for part, part_node in ((value, node.value), (low, node.low), (high, node.high)):
            if part.type != NUMBER:
                raise self._fail(f"'between' compares numbers, not a {part.type}", part_node)
        guard, ref = self._guarded(value)
        low_guard, low_ref = self._guarded(low)
        high_guard, high_ref = self._guarded(high)
        return f"({guard}{low_guard}{high_guard}{low_ref} <= {ref} <= {high_ref})"


def build_function(name: str, parameters: str, body: list[str], constants: Mapping[str, object]) -> Any:
    """Compile ``def name(parameters): body`` with ``constants`` as closure variables and no builtins."""
    names = ", ".join(constants)
    source = "\n".join(
        [f"def _make({names}):", f"    def {name}({parameters}):", *(f"        {line}" for line in body),
         f"    return {name}"]
    )  # fmt: skip
    namespace: dict[str, Any] = {"__builtins__": {}}
    exec(compile(source, f"<agreement {name}>", "exec"), namespace)  # noqa: S102 - source built from checked trees only
    function = namespace["_make"](*constants.values())
    function.source = source  # for debugging: what the agreement compiled to
    return function


__all__ = [
    "ANY", "BOOL", "DATETIME", "FUNCTIONS", "LIST", "NUMBER", "STRING",
    "Catalog", "ExpressionCompiler", "Symbol", "build_function",
]  # fmt: skip
