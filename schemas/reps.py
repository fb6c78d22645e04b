"""Bodies of the routing operations API: reps (availability, load), queues (pause), reassignment."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.text import Reason
from schemas.times import Time


class AvailabilityIn(BaseModel):
    """Set a rep out of office until a time, or back (``out_of_office_until: null``)."""

    model_config = ConfigDict(extra="forbid")

    out_of_office_until: Time | None = Field(description="Until when (UTC offset required); null = back")
    reason: Reason | None = None


class RepOut(BaseModel):
    """A rep's queues and current load."""

    rep_id: str
    queues: list[str] = Field(description="Queues the rep is an active member of")
    open_leads: int = Field(description="Assigned and not yet converted, disqualified or rejected")
    new_today: int = Field(description="Leads assigned on new_on (the rep's local day)")
    new_on: date | None
    out_of_office_until: datetime | None
    out_of_office_reason: str | None


class RepList(BaseModel):
    """Every rep with a state row, by id."""

    reps: list[RepOut]


class PauseIn(BaseModel):
    """Pause a queue (its leads wait unassigned) or resume it."""

    model_config = ConfigDict(extra="forbid")

    paused: bool
    reason: Reason | None = None


class QueueOut(BaseModel):
    """A queue and whether it is paused."""

    id: str
    description: str
    paused: bool
    paused_reason: str | None


class QueueList(BaseModel):
    """Every queue, by id."""

    queues: list[QueueOut]


class ReassignIn(BaseModel):
    """Give a lead to another member of its queue."""

    model_config = ConfigDict(extra="forbid")

    rep_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    reason: Reason | None = None
