"""What changed between two agreement documents, path by path (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from schemas.agreement import AgreementDocument


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: a path added (``+``), removed (``-``) or changed (``~``), with both values."""

    op: Literal["+", "-", "~"]
    path: str
    before: Any
    after: Any


def diff_documents(before: AgreementDocument, after: AgreementDocument) -> list[Change]:
    """Every leaf that differs, sorted by path. Lists of items with an ``id`` are keyed by it
    (``queues[enterprise-dach].when``), so reordering or inserting a rule shows as what it is."""
    old, new = _flatten(before.model_dump(mode="json")), _flatten(after.model_dump(mode="json"))
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            changes.append(Change("-", path, old[path], None))
        elif path not in old:
            changes.append(Change("+", path, None, new[path]))
        elif old[path] != new[path]:
            changes.append(Change("~", path, old[path], new[path]))
    return changes


def _flatten(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(i, dict) and "id" in i for i in value):
        out = {}
        for item in value:
            out.update(_flatten({k: v for k, v in item.items() if k != "id"}, f"{path}[{item['id']}]"))
        return out
    return {path: value}
