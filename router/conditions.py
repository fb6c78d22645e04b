"""Compile agreement conditions into predicates over a lead's facts.

A condition is data (``{field, op, value}`` combined with ``all``/``any``/``not``); it is compiled once
into a closure. Nothing is evaluated as Python code. Comparisons with a missing (``None``) value are
false, except ``exists: false``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from schemas.agreement import AllOf, AnyOf, Comparison, Condition, NotOf

Facts = Mapping[str, Any]
Predicate = Callable[[Facts], bool]


class UnknownFieldError(ValueError):
    """A condition names a field that leads do not have."""

    def __init__(self, field: str) -> None:
        super().__init__(f"unknown field '{field}'")
        self.field = field


def compile_condition(condition: Condition, known_fields: Callable[[str], bool]) -> Predicate:
    """Turn a validated condition into a predicate; unknown field names raise ``UnknownFieldError``."""
    if isinstance(condition, AllOf):
        parts = tuple(compile_condition(c, known_fields) for c in condition.all)
        return lambda facts: all(p(facts) for p in parts)
    if isinstance(condition, AnyOf):
        parts = tuple(compile_condition(c, known_fields) for c in condition.any)
        return lambda facts: any(p(facts) for p in parts)
    if isinstance(condition, NotOf):
        inner = compile_condition(condition.not_, known_fields)
        return lambda facts: not inner(facts)
    return _compile_comparison(condition, known_fields)


def _normalise(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _compile_comparison(cmp: Comparison, known_fields: Callable[[str], bool]) -> Predicate:
    if not known_fields(cmp.field):
        raise UnknownFieldError(cmp.field)
    field = cmp.field
    value = cmp.value
    op = cmp.op
    if op == "exists":
        want = bool(value)
        return lambda facts: (facts.get(field) is not None) is want
    test = _OPERATORS[op](value)

    def predicate(facts: Facts) -> bool:
        actual = facts.get(field)
        if actual is None:
            return False
        try:
            return test(actual)
        except TypeError:  # e.g. a number compared with a string: not a match
            return False

    return predicate


def _eq(value: Any) -> Callable[[Any], bool]:
    want = _normalise(value)
    return lambda actual: _normalise(actual) == want


def _ne(value: Any) -> Callable[[Any], bool]:
    want = _normalise(value)
    return lambda actual: _normalise(actual) != want


def _in(value: Any) -> Callable[[Any], bool]:
    members: Collection[Any] = frozenset(_normalise(v) for v in value)
    return lambda actual: _normalise(actual) in members


def _not_in(value: Any) -> Callable[[Any], bool]:
    members: Collection[Any] = frozenset(_normalise(v) for v in value)
    return lambda actual: _normalise(actual) not in members


def _contains(value: Any) -> Callable[[Any], bool]:
    want = _normalise(value)

    def test(actual: Any) -> bool:
        if isinstance(actual, str):
            return isinstance(want, str) and want in actual.lower()
        if isinstance(actual, list | tuple | set | frozenset):
            return any(_normalise(item) == want for item in actual)
        return False

    return test


def _starts_with(value: Any) -> Callable[[Any], bool]:
    prefix = str(value).lower()
    return lambda actual: isinstance(actual, str) and actual.lower().startswith(prefix)


def _ends_with(value: Any) -> Callable[[Any], bool]:
    suffix = str(value).lower()
    return lambda actual: isinstance(actual, str) and actual.lower().endswith(suffix)


def _number(value: Any) -> float:
    return float(value)


def _gt(value: Any) -> Callable[[Any], bool]:
    bound = _number(value)
    return lambda actual: not isinstance(actual, bool) and actual > bound


def _gte(value: Any) -> Callable[[Any], bool]:
    bound = _number(value)
    return lambda actual: not isinstance(actual, bool) and actual >= bound


def _lt(value: Any) -> Callable[[Any], bool]:
    bound = _number(value)
    return lambda actual: not isinstance(actual, bool) and actual < bound


def _lte(value: Any) -> Callable[[Any], bool]:
    bound = _number(value)
    return lambda actual: not isinstance(actual, bool) and actual <= bound


_OPERATORS: dict[str, Callable[[Any], Callable[[Any], bool]]] = {
    "eq": _eq,
    "ne": _ne,
    "in": _in,
    "not_in": _not_in,
    "contains": _contains,
    "starts_with": _starts_with,
    "ends_with": _ends_with,
    "gt": _gt,
    "gte": _gte,
    "lt": _lt,
    "lte": _lte,
}
