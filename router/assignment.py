"""Assign a lead to a rep of its queue (pure: the rotation counter lives in the database)."""

from __future__ import annotations

from collections.abc import Sequence


def round_robin(reps: Sequence[str], turn: int) -> str:
    """The rep whose turn ``turn`` is (0-based, counted per queue)."""
    if not reps:
        raise ValueError("a queue needs at least one rep")
    return reps[turn % len(reps)]
