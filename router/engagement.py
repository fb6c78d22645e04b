"""Engagement that fades: each activity weighs 1 when it happens and halves every half-life (pure).

A lead stores, per activity type, the sum of its activities' weights as of one moment
(``as_of``). Recording an activity decays that sum to the activity's time and adds 1; an activity
reported late (before ``as_of``) adds its own weight decayed to ``as_of``. Either way the stored
weight at any later ``now`` equals the sum over activities of ``0.5 ** (age_days / half_life)``,
whatever order they arrive in. Rules read the weights decayed to the moment of evaluation as
``weight.<type>``; engagement rules turn them into points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

_DIGITS = 9  # stored weights are rounded so repeated decay does not accumulate float noise


def decayed(weight: float, since: datetime, now: datetime, half_life_days: float | None) -> float:
    """``weight`` recorded at ``since``, decayed to ``now`` (halving every ``half_life_days``).

    No half-life means no decay; a ``now`` before ``since`` leaves the weight as it is.
    """
    if half_life_days is None or now <= since:
        return weight
    return weight * math.pow(0.5, (now - since).total_seconds() / 86400.0 / half_life_days)


def weights_at(
    weights: Mapping[str, float], as_of: datetime | None, now: datetime, half_life_days: float | None
) -> dict[str, float]:
    """The stored ``weights`` (as of ``as_of``) decayed to ``now``."""
    if as_of is None or half_life_days is None or now <= as_of:
        return dict(weights)
    factor = decayed(1.0, as_of, now, half_life_days)
    return {activity: weight * factor for activity, weight in weights.items()}


def record_activity(
    weights: Mapping[str, float],
    as_of: datetime | None,
    activity: str,
    at: datetime,
    half_life_days: float | None,
) -> tuple[dict[str, float], datetime]:
    """The stored weights and their ``as_of`` after one ``activity`` that happened at ``at``."""
    if as_of is None or at >= as_of:
        updated = weights_at(weights, as_of, at, half_life_days)
        updated[activity] = updated.get(activity, 0.0) + 1.0
        as_of = at
    else:  # reported late: its weight, decayed to the moment the others are stored at
        updated = dict(weights)
        updated[activity] = updated.get(activity, 0.0) + decayed(1.0, at, as_of, half_life_days)
    return {name: round(weight, _DIGITS) for name, weight in updated.items()}, as_of
