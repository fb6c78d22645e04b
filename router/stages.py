"""The lead lifecycle: new -> engaged -> mql -> sql, or disqualified.

Stages only move forward, except by an explicit recycle: sales rejects a lead and it goes back to
marketing as ``recycled`` (ranked with ``new``), from where it can qualify again.
"""

from __future__ import annotations

RANK: dict[str, int] = {"new": 0, "recycled": 0, "engaged": 1, "mql": 2, "sql": 3}
RECYCLED = "recycled"
DISQUALIFIED = "disqualified"


def advance(current: str, evaluated: str, asserted: str | None = None) -> str:
    """The stage after an evaluation: never backwards, disqualification only before MQL.

    ``current`` is the stored stage, ``evaluated`` what the agreement says now, ``asserted`` a stage
    the source system claims (a floor). A disqualified lead stays disqualified unless a source
    asserts a qualified stage.
    """
    if asserted is not None and asserted != DISQUALIFIED and current == DISQUALIFIED:
        return asserted
    if current == DISQUALIFIED:
        return DISQUALIFIED
    if DISQUALIFIED in (evaluated, asserted):
        return DISQUALIFIED if RANK[current] < RANK["mql"] else current
    return max(current, evaluated, asserted or "new", key=RANK.__getitem__)


def reached(stage: str, target: str) -> bool:
    """Whether ``stage`` is at or past ``target`` in the qualified part of the lifecycle."""
    return stage != DISQUALIFIED and RANK[stage] >= RANK[target]


def recycle(current: str) -> str:
    """The stage of a lead sales rejected back to marketing (the only way a stage moves back)."""
    if current == DISQUALIFIED:
        raise ValueError("a disqualified lead cannot be recycled")
    return RECYCLED
