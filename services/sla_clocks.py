"""Rows of ``sla_clocks``: the deadlines of the agreement started for a lead at handoff, and what sales
feedback does to them (meet, count an attempt, pause, resume, cancel).

The maths is pure (``router.sla``); here it is applied to clock rows, which the caller writes in its
transaction (``services.db.clocks``), with the events to publish and the figures for the metrics.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from router.agreement import CompiledAgreement
from router.sla import ATTEMPTS, FIRST_TOUCH, LIVE_STATES, PAUSE, RESUME, ClockTimes, progress, resume
from schemas.events import SLA_MET, SLA_PAUSED, SLA_RESUMED
from services.events import clock_event_data
from services.ids import uuid7

Row = dict[str, Any]


def clock_columns(times: ClockTimes) -> Row:
    """The columns of a clock row set by its times (the worker looks at it first when it warns)."""
    return {
        "due_at": times.due_at, "warn_at": times.warn_at, "calendar": times.calendar,
        "check_at": times.warn_at or times.due_at,
    }  # fmt: skip


def start_clock(
    agreement: CompiledAgreement,
    obligation: str,
    *,
    lead_id: uuid.UUID,
    queue: str,
    rep_id: str | None,
    now: datetime,
) -> Row | None:
    """An open clock row for ``obligation`` started now, on the rep's calendar (or the obligation's, or
    the wall clock); None if the agreement has no such obligation."""
    times = agreement.deadline_clock(obligation, now, rep_id)
    if times is None:
        return None
    required = agreement.attempts_required if obligation == ATTEMPTS else None
    return {
        "id": uuid7(), "lead_id": lead_id, "obligation": obligation, "queue": queue, "rep_id": rep_id,
        "state": "open", "started_at": now, "closed_at": None, "agreement_version": agreement.version,
        "warned_at": None, "paused_at": None, "paused_seconds": 0.0, "attempts_made": 0,
        "attempts_required": required, "fulfilled_at": None, **clock_columns(times),
    }  # fmt: skip


def handoff_clocks(
    agreement: CompiledAgreement, lead_id: uuid.UUID, queue: str, rep_id: str | None, now: datetime
) -> list[Row]:
    """The clocks a handoff starts: one per obligation of the agreement (first touch, then attempts
    and decision where it sets them)."""
    started = (
        start_clock(agreement, obligation, lead_id=lead_id, queue=queue, rep_id=rep_id, now=now)
        for obligation in agreement.deadlines
    )
    return [clock for clock in started if clock is not None]


def give_to_rep(clocks: list[Row], agreement: CompiledAgreement, rep_id: str, now: datetime) -> None:
    """Hand just-started ``clocks`` to ``rep_id``: their deadlines move to the rep's calendar."""
    for clock in clocks:
        times = agreement.deadline_clock(clock["obligation"], now, rep_id)
        clock["rep_id"] = rep_id
        if times is not None:
            clock.update(clock_columns(times))


def time_used(agreement: CompiledAgreement, clock: Row, at: datetime) -> timedelta:
    """The time counted against ``clock`` from its start to ``at``: on its calendar (or the wall clock),
    less the time it was paused."""
    used = agreement.clock_time_used(clock["started_at"], at, clock["calendar"])
    paused = timedelta(seconds=clock.get("paused_seconds") or 0.0)
    if clock.get("paused_at") is not None:  # paused now: the pause so far does not count either
        paused += agreement.clock_time_used(clock["paused_at"], at, clock["calendar"])
    return max(used - paused, timedelta(0))


@dataclass
class ClockFeedback:
    """What feedback outcomes did to the clocks of a batch: rows to write, events, metric figures."""

    agreement: CompiledAgreement
    now: datetime
    changed: dict[uuid.UUID, Row] = field(default_factory=dict)  # clock id -> row, written by id
    events: list[tuple[str, str, Row]] = field(default_factory=list)  # (event type, cause, event data)
    met: list[tuple[str, str]] = field(default_factory=list)  # (queue, obligation)
    first_touches: list[tuple[str, float]] = field(default_factory=list)  # (queue, business seconds)

    def apply(self, outcome: str, clocks: list[Row], cause: str) -> None:
        """Apply one feedback ``outcome`` (its event key: ``cause``) to the clocks of its lead (live
        ones, and its breached first-touch clocks not yet fulfilled)."""
        if outcome == PAUSE:
            for clock in clocks:
                if clock["state"] == "open" and clock["due_at"] > self.now:  # overdue: the worker breaches it
                    self._change(clock, state="paused", paused_at=self.now)
                    self._event(SLA_PAUSED, f"clock:{clock['id']}:{cause}", clock)
            return
        if outcome == RESUME:
            self._resume([c for c in clocks if c["state"] == "paused"], cause)
            return
        self._first_touch_time(outcome, clocks)
        for clock in clocks:
            if clock["state"] not in LIVE_STATES:
                continue
            made, fulfilled = progress(
                clock["obligation"], outcome, clock["attempts_made"], clock["attempts_required"]
            )
            if made != clock["attempts_made"]:
                self._change(clock, attempts_made=made)
            # A paused clock cannot be late; an open one past its due time is the worker's to breach.
            if fulfilled and (clock["state"] == "paused" or self.now <= clock["due_at"]):
                self._meet(clock)

    def cancel(self, clocks: list[Row]) -> None:
        """The lead left its queue: its live clocks end, with nothing left to warn or breach."""
        for clock in clocks:
            if clock["state"] in LIVE_STATES:
                self._change(clock, state="cancelled", closed_at=self.now, paused_at=None)

    def _first_touch_time(self, outcome: str, clocks: list[Row]) -> None:
        """A lead's first touch: the time from its current first-touch clock's start (on its calendar,
        pauses deducted), in time or late; observed once, the clock remembering it was fulfilled."""
        first_touch = [c for c in clocks if c["obligation"] == FIRST_TOUCH]
        if not first_touch or not progress(FIRST_TOUCH, outcome, 0, None)[1]:
            return
        current = max(first_touch, key=lambda c: (c["started_at"], c["id"]))
        if current["fulfilled_at"] is None and current["state"] in (*LIVE_STATES, "breached"):
            used = time_used(self.agreement, current, self.now)
            self.first_touches.append((current["queue"] or "", used.total_seconds()))
            self._change(current, fulfilled_at=self.now)

    def _meet(self, clock: Row) -> None:
        self._change(clock, state="met", closed_at=self.now, fulfilled_at=clock["fulfilled_at"] or self.now)
        self.met.append((clock["queue"] or "", clock["obligation"]))
        self._event(SLA_MET, f"clock:{clock['id']}", clock)

    def _resume(self, clocks: list[Row], cause: str) -> None:
        for clock in clocks:
            calendar = self.agreement.calendars.get(clock["calendar"]) if clock["calendar"] else None
            times = resume(
                clock["paused_at"], self.now, due=clock["due_at"], warn_at=clock["warn_at"],
                warned=clock["warned_at"] is not None, calendar=calendar,
            )  # fmt: skip
            warn_pending = times.warn_at is not None and clock["warned_at"] is None
            self._change(
                clock, state="open", paused_at=None, due_at=times.due_at, warn_at=times.warn_at,
                check_at=times.warn_at if warn_pending else times.due_at,
                paused_seconds=clock["paused_seconds"] + times.paused.total_seconds(),
            )  # fmt: skip
            self._event(SLA_RESUMED, f"clock:{clock['id']}:{cause}", clock)

    def _event(self, event_type: str, cause: str, clock: Row) -> None:
        """An ``sla.*`` event about ``clock`` as it is now (later feedback in the batch may change it)."""
        self.events.append(
            (event_type, cause, clock_event_data(clock, self.now, time_used(self.agreement, clock, self.now)))
        )

    def take_events(self) -> list[tuple[str, str, Row]]:
        """The events since the last call: (type, cause, data), in order."""
        events, self.events = self.events, []
        return events

    def _change(self, clock: Row, **values: Any) -> None:
        clock.update(values)
        self.changed[clock["id"]] = clock
