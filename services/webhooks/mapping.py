"""CRM properties -> lead fields, by a source's ``fields`` section, with type coercion.

The target field decides the type: numbers arrive as text from most CRMs ("1,200", "250.0"),
booleans as "true"/"yes"/"1", multi-select values as ";"-separated text, a cleared property as "".
A value that cannot be converted is reported by its CRM property name, never echoed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from schemas.leads import LeadProfile
from schemas.problems import FieldError
from schemas.webhooks import MAX_CHANGES, ContactChange, WebhookDelivery
from services.webhooks.config import ATTRIBUTE_PREFIX, FieldRule, SourceConfig

_KINDS = {
    "employees": "integer",
    "intent_score": "integer",
    "annual_revenue": "number",
    "consent_marketing": "boolean",
    "product_interest": "list",
    "tags": "list",
}
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})
_LEAVE = object()  # a value the rule's ``values`` does not list: the field stays as it is


@dataclass(frozen=True)
class RawRecord:
    """One CRM record's change as an adapter read it, before mapping."""

    where: str  # where the record is in the body, for error paths: body.3, body.records.0 ...
    id_property: str  # the name of its id in the payload
    external_id: Any
    event_id: str | None
    occurred_at: datetime | None
    properties: dict[str, Any]


class PayloadError(Exception):
    """A delivery that cannot be applied; ``errors`` name each problem's place in the body."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors[:5]))
        self.errors = errors


class CoercionError(ValueError):
    """A CRM value that does not convert to its lead field's type."""


def map_delivery(
    source: str, config: SourceConfig, delivery_id: str, records: list[RawRecord]
) -> WebhookDelivery:
    """The delivery's records as lead changes; ``PayloadError`` lists every value that does not fit
    (the whole delivery is refused: nothing of it is applied)."""
    if len(records) > MAX_CHANGES:
        raise PayloadError(
            [FieldError(field="body", message=f"more than {MAX_CHANGES} records", code="too_long")]
        )
    errors: list[FieldError] = []
    changes = []
    for record in records:
        change = _map_record(config, record, errors)
        if change is not None:
            changes.append(change)
    if errors:
        raise PayloadError(errors)
    try:
        return WebhookDelivery(source=source, delivery_id=delivery_id, changes=changes)
    except ValidationError as error:
        raise PayloadError(_errors(error, "delivery", {})) from None


def _map_record(config: SourceConfig, record: RawRecord, errors: list[FieldError]) -> ContactChange | None:
    fields, origin, problems = _map_properties(config, record)
    if record.external_id is None or not isinstance(record.external_id, str | int):
        where = f"{record.where}.{record.id_property}"
        problems.append(FieldError(field=where, message="the record has no id", code="missing"))
    try:
        profile = LeadProfile.model_validate(fields)
    except ValidationError as error:
        problems += _errors(error, record.where, origin)
    if problems:
        errors += problems
        return None
    try:
        return ContactChange(
            external_id=str(record.external_id), event_id=record.event_id, occurred_at=record.occurred_at,
            fields=profile,
        )  # fmt: skip
    except ValidationError as error:
        errors += _errors(error, record.where, {"external_id": record.id_property})
        return None


def _map_properties(
    config: SourceConfig, record: RawRecord
) -> tuple[dict[str, Any], dict[str, str], list[FieldError]]:
    """The record's lead fields, the CRM property each came from, and the values that do not convert."""
    fields: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    origin: dict[str, str] = {}
    problems = []
    for name, value in record.properties.items():
        rule = config.rule(name)
        if rule is None:
            if config.unmapped == "attributes" and _is_scalar(value) and 0 < len(name) <= 128:
                attributes[name] = value
                origin[f"{ATTRIBUTE_PREFIX}{name}"] = name
            continue
        try:
            converted = convert(rule, value)
        except CoercionError as error:
            problems.append(FieldError(field=f"{record.where}.{name}", message=str(error), code="coercion"))
            continue
        if converted is _LEAVE:
            continue
        if rule.to.startswith(ATTRIBUTE_PREFIX):
            attributes[rule.to.removeprefix(ATTRIBUTE_PREFIX)] = converted
        else:
            fields[rule.to] = converted
        origin[rule.to] = name
    if attributes:
        fields["attributes"] = attributes
    return fields, origin, problems


def convert(rule: FieldRule, value: Any) -> Any:
    """``value`` converted for ``rule.to``; ``CoercionError`` says why it cannot be."""
    if rule.values is not None:
        key = value if isinstance(value, str) else _text(value)
        if key not in rule.values:
            return _LEAVE
        value = rule.values[key]
    kind = "scalar" if rule.to.startswith(ATTRIBUTE_PREFIX) else _KINDS.get(rule.to, "string")
    if isinstance(value, str) and not value.strip():
        return [] if kind == "list" else None  # the CRM cleared the property
    if value is None:
        return [] if kind == "list" else None
    if kind == "integer":
        return _integer(value)
    if kind == "number":
        return _number(value)
    if kind == "boolean":
        return _boolean(value)
    if kind == "list":
        return _list(value, rule.separator)
    if kind == "scalar":
        if not _is_scalar(value):
            raise CoercionError("expected a text, number or true/false, got an object or a list")
        return value
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise CoercionError("expected a text, got an object or a list")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise CoercionError("expected a number, got true/false")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "")  # thousands separators
        try:
            number = float(text.replace("_", "?"))  # float() would accept 1_000: no CRM writes that
        except ValueError:
            raise CoercionError("expected a number") from None
    else:
        raise CoercionError("expected a number, got an object or a list")
    if not math.isfinite(number):
        raise CoercionError("expected a finite number")
    return number


def _integer(value: Any) -> int:
    number = _number(value)
    if not number.is_integer():
        raise CoercionError("expected a whole number")
    return int(number)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CoercionError("expected true/false (also yes/no, 1/0, on/off)")


def _list(value: Any, separator: str) -> list[str]:
    items = value if isinstance(value, list) else _text(value).split(separator)
    return [text for text in (_text(item).strip() for item in items) if text]


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _errors(error: ValidationError, where: str, origin: dict[str, str]) -> list[FieldError]:
    """Pydantic errors on lead fields, named by the CRM property each came from."""
    found = []
    for problem in error.errors(include_url=False, include_input=False):
        loc = [str(part) for part in problem["loc"]]
        name = ".".join(loc[:2]) if loc[:1] == ["attributes"] else (loc[0] if loc else "")
        place = origin.get(name, ".".join(loc) or "record")
        found.append(FieldError(field=f"{where}.{place}", message=problem["msg"], code=problem["type"]))
    return found
