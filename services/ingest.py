"""Apply a batch of inbound lead events in one transaction: qualify, route, hand off, start clocks.

The ``GroupCommitter`` hands this module many requests at once; ``IngestBatch.apply`` loads what the
batch needs with a few set-based queries, lets ``router`` decide (pure), and writes leads, events,
decisions, outbox rows and clocks with one bulk statement per table.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from router.accounts import account_key
from router.agreement import CompiledAgreement, lead_facts
from router.assignment import Assignment
from router.engagement import record_activity, weights_at
from router.sla import OBLIGATIONS, closes_lead
from router.stages import DISQUALIFIED, reached, recycle
from schemas.events import LEAD_HANDED_OFF, LEAD_RECYCLED, LEAD_STAGE_CHANGED, LEAD_UNASSIGNED
from schemas.leads import ActivityIn, FeedbackIn, LeadIn
from schemas.problems import FieldError
from schemas.webhooks import ContactChange, WebhookDelivery
from services.agreement_lifecycle import ActiveAgreement
from services.assignment import BatchAssigner, skipped_reasons
from services.db import clocks as clock_repo
from services.db import repositories as repo
from services.db import webhooks as webhook_repo
from services.errors import DomainError
from services.events import handoff_event_data, outbox_row
from services.ids import uuid7
from services.settings import Settings
from services.sla_clocks import ClockFeedback, give_to_rep, handoff_clocks

_LEAD_META_FIELDS = frozenset({"source", "external_id", "event_id", "occurred_at", "stage"})


@dataclass(frozen=True, slots=True)
class UpsertLead:
    """Create or update a lead."""

    body: LeadIn
    event_key: str
    request_hash: str
    raw: bytes  # the request body as received: stored as the event's payload


@dataclass(frozen=True, slots=True)
class RecordActivity:
    """Record an engagement activity of an existing lead."""

    lead_id: uuid.UUID
    body: ActivityIn
    event_key: str
    request_hash: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class RecordFeedback:
    """Record sales feedback on an existing lead."""

    lead_id: uuid.UUID
    body: FeedbackIn
    event_key: str
    request_hash: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class ApplyDelivery:
    """Apply a verified CRM webhook delivery: every change upserts its lead, all in this transaction."""

    body: WebhookDelivery
    event_key: str  # webhook:<source>:<delivery id>
    request_hash: str
    raw: bytes


Command = UpsertLead | RecordActivity | RecordFeedback | ApplyDelivery


@dataclass(slots=True)
class Reply:
    """The answer to one command: HTTP status and body, plus what metrics need."""

    status: int
    body: dict[str, Any]
    source: str
    kind: str
    outcome: str
    replayed: bool = False


@dataclass(slots=True)
class BatchEffects:
    """What a committed batch did, for metrics."""

    transitions: list[tuple[str, str]] = field(default_factory=list)
    handoffs: list[str] = field(default_factory=list)
    unassigned: list[str] = field(default_factory=list)
    recycled: list[str] = field(default_factory=list)  # rejection reasons
    clocks_met: list[tuple[str, str]] = field(default_factory=list)
    outbox_rows: int = 0
    first_touches: list[tuple[str, float]] = field(default_factory=list)  # (queue, business seconds)


@dataclass(slots=True)
class _Handoff:
    """A lead routed to a queue; its rep is chosen once the batch's rep loads are read."""

    queue: str
    lead: _Lead
    decision: dict[str, Any]
    event: dict[str, Any]  # its outbox row, in place: lead.handed_off, or lead.unassigned if nobody is free
    clocks: list[dict[str, Any]]  # the first is the first-touch clock
    cause: str
    rep: str | None = None


@dataclass(slots=True)
class _Lead:
    row: dict[str, Any]
    is_new: bool
    handoff: _Handoff | None = None

    @property
    def owner(self) -> str | None:
        if self.handoff is not None:
            return self.handoff.rep
        return self.row["owner"]  # type: ignore[no-any-return]


@dataclass(slots=True)
class _Pending:
    command: Command
    lead: _Lead
    outcome: str
    stage: str
    queue: str | None
    status: int


@dataclass(slots=True)
class _Delivery:
    """A delivery applied in this batch: per change, its lead's result, or the outcome recorded
    before (a change applied already), or ``None`` (a record kept until its e-mail arrives)."""

    command: ApplyDelivery
    changes: list[tuple[ContactChange, _Pending | dict[str, Any] | None]]
    duplicate: bool = False


class IngestBatch:
    """Applies commands with one agreement and one ``now`` inside the caller's transaction.

    The agreement is the version active when the batch's transaction begins (``ActiveAgreement``).
    """

    def __init__(self, agreements: ActiveAgreement, settings: Settings, now: Callable[[], datetime]) -> None:
        self.agreements = agreements
        self.settings = settings
        self.now = now

    async def apply(
        self, conn: AsyncConnection, commands: list[Command]
    ) -> tuple[list[Reply | DomainError], BatchEffects]:
        """Apply ``commands`` in order; a command's error never affects the others."""
        agreement = await self.agreements.current(conn)
        return await _Run(self, agreement, conn, commands).execute()


class _Run:
    def __init__(
        self, batch: IngestBatch, agreement: CompiledAgreement, conn: AsyncConnection, commands: list[Command]
    ) -> None:
        self.agreement = agreement
        self.settings = batch.settings
        self.conn = conn
        self.commands = commands
        self.now = batch.now()
        self.by_external: dict[tuple[str, str], _Lead] = {}
        self.by_email: dict[str, _Lead] = {}
        self.by_id: dict[uuid.UUID, _Lead] = {}
        self.lead_clocks: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)  # of feedback leads
        self.decisions: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.clocks: list[dict[str, Any]] = []
        self.clock_feedback = ClockFeedback(agreement, self.now)
        self.handoffs: dict[str, list[_Handoff]] = defaultdict(list)
        # Leads closed by feedback, with their owner then (None: handed off in this batch): each
        # comes off its owner's open count.
        self.closing: list[tuple[_Lead, str | None]] = []
        self.events: list[tuple[_Pending, dict[str, Any]]] = []
        self.effects = BatchEffects()
        self._replies: dict[int, Reply] = {}
        self.known: dict[str, dict[str, Any]] = {}
        # CRM records without an e-mail yet (their kept fields), and those this batch changed or made leads
        self.waiting: dict[tuple[str, str], dict[str, Any]] = {}
        self.waiting_changed: set[tuple[str, str]] = set()
        self.deliveries: list[_Delivery] = []

    async def execute(self) -> tuple[list[Reply | DomainError], BatchEffects]:
        await self._load()
        deliveries = [c for c in self.commands if isinstance(c, ApplyDelivery)]
        keys = [c.event_key for c in self.commands if not isinstance(c, ApplyDelivery)]
        keys += [change_key(c, index) for c in deliveries for index in range(len(c.body.changes))]
        self.known = await repo.find_events(self.conn, keys)
        if deliveries:
            self.known |= await webhook_repo.find_deliveries(self.conn, [c.event_key for c in deliveries])
        first_in_batch: dict[str, _Pending | _Delivery | DomainError] = {}
        results = [self._one(command, first_in_batch) for command in self.commands]
        await self._assign_reps()
        replies = [self._reply(r) for r in results]
        self._replies.update(
            {id(r): reply for r, reply in zip(results, replies, strict=True) if isinstance(reply, Reply)}
        )
        await self._write()
        return replies, self.effects

    # --- loading --------------------------------------------------------------------------------

    async def _load(self) -> None:
        records: list[tuple[str, str, str | None]] = [
            (c.body.source, c.body.external_id, c.body.email)
            for c in self.commands
            if isinstance(c, UpsertLead)
        ]
        deliveries = [c.body for c in self.commands if isinstance(c, ApplyDelivery)]
        records += [
            (delivery.source, change.external_id, change.fields.email)
            for delivery in deliveries
            for change in delivery.changes
        ]
        ids = [c.lead_id for c in self.commands if isinstance(c, RecordActivity | RecordFeedback)]
        if records:
            # One person is one lead: a new (source, external id) with a known e-mail updates that lead.
            # On PostgreSQL the e-mails are locked first, so two replicas cannot both create it.
            await repo.lock_emails(self.conn, [email for _, _, email in records if email])
            pairs = [(source, external_id) for source, external_id, _ in records]
            for row in await repo.leads_by_external_id(self.conn, pairs, lock=True):
                self._remember(_Lead(row, is_new=False))
            unmatched = [
                email
                for source, external_id, email in records
                if email and (source, external_id) not in self.by_external
            ]
            for row in await repo.leads_by_email(self.conn, unmatched, lock=True) if unmatched else []:
                if row["id"] not in self.by_id:
                    self._remember(_Lead(row, is_new=False))
            if deliveries:
                unknown = [pair for pair in pairs if pair not in self.by_external]
                self.waiting = await webhook_repo.waiting_contacts(self.conn, unknown) if unknown else {}
        missing = [i for i in ids if i not in self.by_id]
        for row in await repo.leads_by_id(self.conn, missing, lock=True) if missing else []:
            self._remember(_Lead(row, is_new=False))
        feedback_leads = [c.lead_id for c in self.commands if isinstance(c, RecordFeedback)]
        clocks = await clock_repo.feedback_clocks_of(self.conn, feedback_leads) if feedback_leads else []
        for clock in sorted(clocks, key=lambda c: (c["started_at"], OBLIGATIONS.index(c["obligation"]))):
            self.lead_clocks[clock["lead_id"]].append(clock)  # in the order the handoff started them

    def _remember(self, lead: _Lead) -> None:
        self.by_external[(lead.row["source"], lead.row["external_id"])] = lead
        self.by_email.setdefault(lead.row["email"], lead)  # the oldest, if the data holds duplicates
        self.by_id[lead.row["id"]] = lead

    # --- per command ----------------------------------------------------------------------------

    def _one(
        self, command: Command, first_in_batch: dict[str, _Pending | _Delivery | DomainError]
    ) -> _Pending | _Delivery | Reply | DomainError:
        key = command.event_key
        if key in self.known:
            return self._replay(command, self.known[key]["request_hash"], self.known[key]["response"])
        if key in first_in_batch:
            first = first_in_batch[key]
            if isinstance(first, DomainError):
                return first
            if first.command.request_hash != command.request_hash:
                return _key_reused(key)
            if isinstance(first, _Delivery):
                return _Delivery(first.command, first.changes, duplicate=True)
            return _Pending(command, first.lead, "duplicate", first.stage, first.queue, first.status)
        if isinstance(command, ApplyDelivery):
            delivery = first_in_batch[key] = self._delivery(command)
            self.deliveries.append(delivery)
            return delivery
        try:
            pending = self._apply(command)
        except DomainError as error:
            first_in_batch[key] = error
            return error
        first_in_batch[key] = pending
        self.events.append((pending, self._event_row(command, pending)))
        return pending

    def _replay(self, command: Command, request_hash: str, response: dict[str, Any]) -> Reply | DomainError:
        if request_hash != command.request_hash:
            return _key_reused(command.event_key)
        body = response["body"]
        return Reply(response["status"], body, _source_of(command), _kind(command), "duplicate", True)

    def _apply(self, command: UpsertLead | RecordActivity | RecordFeedback) -> _Pending:
        if isinstance(command, UpsertLead):
            return self._upsert(command)
        lead = self.by_id.get(command.lead_id)
        if lead is None:
            raise DomainError(404, "lead-not-found", "Lead not found", f"no lead with id {command.lead_id}")
        if isinstance(command, RecordActivity):
            return self._activity(command, lead)
        return self._feedback(command, lead)

    def _upsert(self, command: UpsertLead) -> _Pending:
        body = command.body
        lead = self.by_external.get((body.source, body.external_id)) or self.by_email.get(body.email)
        # The fields the source sent, as validated (plain values: half the cost of a model_dump).
        changes = {name: getattr(body, name) for name in body.model_fields_set - _LEAD_META_FIELDS}
        changes["email"] = body.email
        if lead is None:
            row = {
                "id": uuid7(),
                "source": body.source,
                "external_id": body.external_id,
                "email": body.email,
                "company": body.company,
                "profile": changes,
                "activity_counts": {},
                "stage": "new",
                "fit_score": 0,
                "engagement_score": 0,
                "queue": None,
                "owner": None,
                "agreement_version": None,
                "last_activity_at": None,
                "created_at": self.now,
                "updated_at": self.now,
                "engagement_weights": {},
                "engagement_as_of": None,
                "closed_at": None,
                "recycled_count": 0,
                "account_key": account_key(body.email, body.company),
            }
            lead = _Lead(row, is_new=True)
            self._remember(lead)
            outcome, status = "created", 201
        else:
            profile = dict(lead.row["profile"])
            attributes = {**profile.get("attributes", {}), **changes.pop("attributes", {})}
            profile.update(changes)
            profile["attributes"] = attributes
            lead.row.update(
                profile=profile, email=body.email, company=profile.get("company"),
                account_key=account_key(body.email, profile.get("company")),
            )  # fmt: skip
            outcome, status = "updated", 200
        self._evaluate(lead, command.event_key, body.stage)
        return self._pending(command, lead, outcome, status)

    def _delivery(self, command: ApplyDelivery) -> _Delivery:
        """Apply each change in order: a record with a lead (or, now, an e-mail) upserts it; one
        without stays waiting, its fields merged, until a change brings the e-mail."""
        source = command.body.source
        changes: list[tuple[ContactChange, _Pending | dict[str, Any] | None]] = []
        for index, change in enumerate(command.body.changes):
            key = change_key(command, index)
            if key in self.known:  # applied before (the CRM resent it in another delivery)
                changes.append((change, self.known[key]["response"]["body"]))
                continue
            pair = (source, change.external_id)
            fields = change.fields.model_dump(exclude_unset=True)
            lead = self.by_external.get(pair)
            if lead is not None:
                if not fields.get("email"):  # the e-mail cleared at the source: the lead keeps its own
                    fields["email"] = lead.row["email"]
            elif not fields.get("email"):
                fields.pop("email", None)
                self.waiting[pair] = {**self.waiting.get(pair, {}), **fields}
                self.waiting_changed.add(pair)
                changes.append((change, None))
                continue
            elif pair in self.waiting:
                fields = {**self.waiting.pop(pair), **fields}
                self.waiting_changed.add(pair)
            body = LeadIn.model_validate(
                {**fields, "source": source, "external_id": change.external_id, "event_id": change.event_id,
                 "occurred_at": change.occurred_at}
            )  # fmt: skip
            upsert = UpsertLead(
                body, key, command.request_hash, change.model_dump_json(exclude_unset=True).encode()
            )
            pending = self._upsert(upsert)
            self.events.append((pending, self._event_row(upsert, pending)))
            changes.append((change, pending))
        return _Delivery(command, changes)

    def _activity(self, command: RecordActivity, lead: _Lead) -> _Pending:
        row, activity = lead.row, command.body.type
        # A time in the future (a source's clock ahead of ours) counts as now.
        at = min(command.body.occurred_at or self.now, self.now)
        counts = dict(row["activity_counts"])
        counts[activity] = counts.get(activity, 0) + 1
        weights, as_of = record_activity(
            row["engagement_weights"], row["engagement_as_of"], activity, at, self.agreement.half_life_days
        )
        last = row["last_activity_at"]
        row.update(
            activity_counts=counts, engagement_weights=weights, engagement_as_of=as_of,
            last_activity_at=at if last is None or at > last else last,
        )  # fmt: skip
        self._evaluate(lead, command.event_key, None)
        return self._pending(command, lead, "recorded", 202)

    def _feedback(self, command: RecordFeedback, lead: _Lead) -> _Pending:
        body = command.body
        if body.outcome == "rejected" and body.reason not in self.agreement.rejection_reasons:
            raise DomainError(
                422, "validation-error", "Invalid request",
                f"reason '{body.reason}' is not a rejection reason of {self.agreement.version}",
                errors=[FieldError(
                    field="reason", code="not_a_rejection_reason",
                    message=f"use one of: {', '.join(self.agreement.rejection_reasons)}",
                )],
            )  # fmt: skip
        if body.outcome == "rejected" and lead.row["stage"] == DISQUALIFIED:
            raise DomainError(
                409,
                "lead-disqualified",
                "Lead is disqualified",
                "a disqualified lead cannot be rejected to marketing",
            )
        clocks = self.lead_clocks.get(lead.row["id"], [])
        self.clock_feedback.apply(body.outcome, clocks, command.event_key)
        if closes_lead(body.outcome) and lead.row["closed_at"] is None:
            lead.row["closed_at"] = self.now
            self.closing.append((lead, lead.row["owner"]))
            self.clock_feedback.cancel(clocks)  # the lead left the queue: nothing left to warn or breach
        for event_type, cause, data in self.clock_feedback.take_events():
            self.outbox.append(
                outbox_row(
                    topic=self.settings.topic_sla, event_type=event_type, cause=cause,
                    subject=data["lead_id"], data=data, at=self.now,
                )
            )  # fmt: skip
        if body.outcome == "rejected":
            self._recycle(lead, command)
        lead.row["updated_at"] = self.now
        return self._pending(command, lead, "recorded", 202)

    def _recycle(self, lead: _Lead, command: RecordFeedback) -> None:
        """Sales rejected the lead: back to marketing, engagement from zero (its clocks are cancelled)."""
        row, body = lead.row, command.body
        owner, queue, from_stage = row["owner"], row["queue"], row["stage"]
        row.update(
            stage=recycle(from_stage), owner=None, queue=None, engagement_weights={},
            engagement_as_of=self.now, engagement_score=0, recycled_count=row["recycled_count"] + 1,
            agreement_version=self.agreement.version,
        )  # fmt: skip
        lead_id = str(row["id"])
        self.decisions.append({
            "lead_id": row["id"], "event_key": command.event_key, "agreement_version": self.agreement.version,
            "from_stage": from_stage, "to_stage": row["stage"], "fit_score": row["fit_score"],
            "engagement_score": 0, "queue": None, "owner": None, "decided_at": self.now,
            "explanation": [
                {"rule": "feedback.rejected", "kind": "recycle", "points": 0, "detail": body.reason}
            ],
        })  # fmt: skip
        changed = {
            "lead_id": lead_id, "from_stage": from_stage, "to_stage": row["stage"],
            "fit_score": row["fit_score"], "engagement_score": 0, "agreement_version": self.agreement.version,
        }  # fmt: skip
        recycled = {
            "lead_id": lead_id, "reason": body.reason, "note": body.note, "rep_id": owner, "queue": queue,
            "from_stage": from_stage, "recycled_count": row["recycled_count"],
            "agreement_version": self.agreement.version,
        }  # fmt: skip
        for event_type, data in ((LEAD_STAGE_CHANGED, changed), (LEAD_RECYCLED, recycled)):
            self.outbox.append(
                outbox_row(
                    topic=self.settings.topic_lifecycle, event_type=event_type, cause=command.event_key,
                    subject=lead_id, data=data, at=self.now,
                )
            )  # fmt: skip
        self.effects.transitions.append((from_stage, row["stage"]))
        self.effects.recycled.append(str(body.reason))

    def _pending(self, command: Command, lead: _Lead, outcome: str, status: int) -> _Pending:
        return _Pending(command, lead, outcome, lead.row["stage"], lead.row["queue"], status)

    # --- decide ---------------------------------------------------------------------------------

    def _evaluate(self, lead: _Lead, cause: str, asserted: str | None) -> None:
        row = lead.row
        weights = weights_at(
            row["engagement_weights"], row["engagement_as_of"], self.now, self.agreement.half_life_days
        )
        facts = lead_facts(
            row["profile"], row["activity_counts"], weights=weights,
            last_activity_at=row["last_activity_at"], created_at=row["created_at"],
        )  # fmt: skip
        qualification = self.agreement.qualify(facts, row["stage"], asserted, self.now)
        from_stage = row["stage"]
        row.update(
            stage=qualification.stage,
            fit_score=qualification.fit_score,
            engagement_score=qualification.engagement_score,
            agreement_version=self.agreement.version,
            updated_at=self.now,
        )
        explanation: list[dict[str, Any]] = [
            {"rule": f.rule, "kind": f.kind, "points": f.points} for f in qualification.fired
        ]
        decision = {
            "lead_id": row["id"],
            "event_key": cause,
            "agreement_version": self.agreement.version,
            "from_stage": from_stage,
            "to_stage": qualification.stage,
            "fit_score": qualification.fit_score,
            "engagement_score": qualification.engagement_score,
            "queue": row["queue"],
            "owner": lead.owner,
            "explanation": explanation,
            "decided_at": self.now,
        }
        self.decisions.append(decision)
        lead_id = str(row["id"])
        if qualification.stage != from_stage:
            self.effects.transitions.append((from_stage, qualification.stage))
            data = {
                "lead_id": lead_id, "from_stage": from_stage, "to_stage": qualification.stage,
                "fit_score": qualification.fit_score, "engagement_score": qualification.engagement_score,
                "agreement_version": self.agreement.version,
            }  # fmt: skip
            self.outbox.append(
                outbox_row(
                    topic=self.settings.topic_lifecycle, event_type=LEAD_STAGE_CHANGED, cause=cause,
                    subject=lead_id, data=data, at=self.now,
                )
            )  # fmt: skip
        if (
            row["queue"] is None  # not routed yet (a lead waiting in a queue is routed already)
            and lead.handoff is None
            and reached(qualification.stage, self.agreement.handoff_stage)
        ):
            self._hand_off(lead, facts, decision, explanation, cause)

    def _hand_off(
        self,
        lead: _Lead,
        facts: dict[str, Any],
        decision: dict[str, Any],
        explanation: list[dict[str, Any]],
        cause: str,
    ) -> None:
        row = lead.row
        choice = self.agreement.route(facts, self.now)
        row["queue"], row["closed_at"] = choice.queue, None  # closed_at: a recycled lead routed again
        decision["queue"] = choice.queue
        explanation.append({"rule": f"queue.{choice.matched_by}", "kind": "route", "points": 0})
        # its clocks, on the rep's calendar once one is assigned; the first is the first touch
        clocks = handoff_clocks(self.agreement, row["id"], choice.queue, None, self.now)
        lead_id = str(row["id"])
        data = handoff_event_data(row, choice.queue, None, clocks[0]["due_at"], self.agreement.version)
        event = outbox_row(
            topic=self.settings.topic_handoff, event_type=LEAD_HANDED_OFF, cause=cause,
            subject=lead_id, data=data, at=self.now,
        )  # fmt: skip
        self.outbox.append(event)
        self.clocks += clocks
        self.lead_clocks[row["id"]] += clocks
        lead.handoff = _Handoff(choice.queue, lead, decision, event, clocks, cause)
        self.handoffs[choice.queue].append(lead.handoff)

    async def _assign_reps(self) -> None:
        owners = [owner for _, owner in self.closing if owner]
        if not self.handoffs and not owners:
            return
        assigner = BatchAssigner(self.conn, self.agreement, self.now)
        await assigner.load(list(self.handoffs), owners)
        account_owners = await self._account_owners()
        for queue, handoffs in self.handoffs.items():
            for handoff in handoffs:
                account = handoff.lead.row["account_key"]
                assignment = assigner.assign(queue, account_owners.get((account, queue)))
                self._record_assignment(handoff, assignment)
                if account is not None and assignment.rep_id is not None:
                    account_owners.setdefault((account, queue), assignment.rep_id)
        for lead, owner in self.closing:
            released = owner or lead.owner
            if released is not None:
                assigner.release(released)
        await assigner.save()

    async def _account_owners(self) -> dict[tuple[str, str], str]:
        """Owners of the accounts of leads handed off to sticky queues in this batch."""
        keys = [
            handoff.lead.row["account_key"]
            for queue, handoffs in self.handoffs.items()
            if self.agreement.queue_plans[queue].sticky_accounts
            for handoff in handoffs
            if handoff.lead.row["account_key"] is not None
        ]
        return await repo.account_owners(self.conn, keys) if keys else {}

    def _record_assignment(self, handoff: _Handoff, assignment: Assignment) -> None:
        rep, strategy = assignment.rep_id, assignment.strategy
        explanation = handoff.decision["explanation"]
        explanation += skipped_reasons(assignment)
        handoff.decision["owner"] = rep
        if rep is not None:
            handoff.rep = handoff.lead.row["owner"] = rep
            give_to_rep(handoff.clocks, self.agreement, rep, self.now)
            data = handoff.event["event"]["data"]
            data["rep_id"], data["first_touch_due_at"] = rep, handoff.clocks[0]["due_at"].isoformat()
            explanation.append(
                {"rule": f"rep.{rep}", "kind": "assign", "points": 0, "detail": assignment.strategy}
            )
            self.effects.handoffs.append(handoff.queue)
            return
        lead_id = str(handoff.lead.row["id"])
        data = {
            "lead_id": lead_id, "queue": handoff.queue, "strategy": strategy,
            "skipped": [{"rep_id": r, "reason": why} for r, why in assignment.skipped],
            "agreement_version": self.agreement.version,
        }  # fmt: skip
        handoff.event.update(
            outbox_row(
                topic=self.settings.topic_handoff, event_type=LEAD_UNASSIGNED, cause=handoff.cause,
                subject=lead_id, data=data, at=self.now,
            )
        )  # fmt: skip
        explanation.append(
            {"rule": "unassigned", "kind": "assign", "points": 0, "detail": assignment.strategy}
        )
        self.effects.unassigned.append(handoff.queue)

    # --- replies and writes ---------------------------------------------------------------------

    def _reply(self, result: _Pending | _Delivery | Reply | DomainError) -> Reply | DomainError:
        if isinstance(result, _Delivery):
            return self._delivery_reply(result)
        if not isinstance(result, _Pending):
            return result
        command = result.command
        row = result.lead.row
        body = {
            "lead_id": str(row["id"]),
            "event_key": command.event_key,
            "outcome": result.outcome,
            "stage": result.stage,
            "queue": result.queue,
            "owner": result.lead.owner
            if result.queue is not None
            else None,  # routed by this command or before
            "agreement_version": self.agreement.version,
        }
        replayed = result.outcome == "duplicate"
        return Reply(result.status, body, row["source"], _kind(command), result.outcome, replayed)

    def _delivery_reply(self, delivery: _Delivery) -> Reply:
        contacts = []
        for change, result in delivery.changes:
            if isinstance(result, _Pending):
                reply = self._replies.get(id(result)) or self._reply(result)
                assert isinstance(reply, Reply)
                self._replies[id(result)] = reply
                outcome = {**_contact_of(reply.body), "outcome": result.outcome}
            elif result is None:
                outcome = {"lead_id": None, "stage": None, "queue": None, "owner": None, "outcome": "pending"}
            else:
                outcome = {**_contact_of(result), "outcome": "duplicate"}
            contacts.append({"external_id": change.external_id, **outcome})
        command = delivery.command
        body = {
            "source": command.body.source, "delivery_id": command.body.delivery_id,
            "event_key": command.event_key, "agreement_version": self.agreement.version, "contacts": contacts,
        }  # fmt: skip
        status = "duplicate" if delivery.duplicate else "accepted"
        return Reply(200, body, command.body.source, "webhook", status, delivery.duplicate)

    def _event_row(self, command: Command, pending: _Pending) -> dict[str, Any]:
        return {
            "event_key": command.event_key,
            "request_hash": command.request_hash,
            "lead_id": pending.lead.row["id"],
            "kind": _kind(command),
            "payload": orjson.Fragment(command.raw),  # already validated JSON: stored as sent
            "response": None,
            "received_at": self.now,
        }

    async def _write(self) -> None:
        new = [lead.row for lead in self.by_id.values() if lead.is_new]
        changed = [
            lead.row for lead in self.by_id.values() if not lead.is_new and lead.row["updated_at"] == self.now
        ]
        await repo.save_leads(self.conn, new, changed)
        for pending, row in self.events:
            reply = self._replies[id(pending)]
            row["response"] = {"status": reply.status, "body": reply.body}
        await repo.insert_events(self.conn, [row for _, row in self.events])
        if self.deliveries:
            await self._write_deliveries()
        await repo.insert_decisions(self.conn, self.decisions)
        await repo.insert_outbox(self.conn, self.outbox)
        await clock_repo.insert_clocks(self.conn, self.clocks)
        new_clock_ids = {clock["id"] for clock in self.clocks}  # inserted with their final state already
        fed_back = self.clock_feedback.changed
        await clock_repo.save_clocks(self.conn, [c for i, c in fed_back.items() if i not in new_clock_ids])
        self.effects.clocks_met = self.clock_feedback.met
        self.effects.first_touches = self.clock_feedback.first_touches
        self.effects.outbox_rows = len(self.outbox)

    async def _write_deliveries(self) -> None:
        rows = [
            {
                "delivery_key": delivery.command.event_key,
                "request_hash": delivery.command.request_hash,
                "response": {"status": reply.status, "body": reply.body},
                "received_at": self.now,
            }
            for delivery in self.deliveries
            for reply in [self._replies[id(delivery)]]
        ]
        await webhook_repo.insert_deliveries(self.conn, rows)
        await webhook_repo.save_waiting_contacts(self.conn, self.waiting, self.waiting_changed, self.now)


def change_key(command: ApplyDelivery, index: int) -> str:
    """The event key of a delivery's change: the CRM's event id, else the delivery and position."""
    event_id = command.body.changes[index].event_id
    if event_id is not None:
        return f"webhook:{command.body.source}:event:{event_id}"
    return f"{command.event_key}:{index}"


def _contact_of(body: dict[str, Any]) -> dict[str, Any]:
    return {name: body.get(name) for name in ("lead_id", "stage", "queue", "owner")}


def _kind(command: Command) -> str:
    if isinstance(command, UpsertLead):
        return "lead"
    if isinstance(command, ApplyDelivery):
        return "webhook"
    return "activity" if isinstance(command, RecordActivity) else "feedback"


def _source_of(command: Command) -> str:
    return command.body.source if isinstance(command, UpsertLead | ApplyDelivery) else "api"


def _key_reused(key: str) -> DomainError:
    return DomainError(
        409, "idempotency-key-reused", "Idempotency key reused",
        f"event key '{key}' was already used for a different request body",
    )  # fmt: skip
