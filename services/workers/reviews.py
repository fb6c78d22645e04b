"""The review worker: keeps the goal gauges current and announces reviews as they fall due.

Every ``review_worker_seconds`` it makes the SLA report of the current goal period (no grouping) and
sets ``leadrouter_goal_*{goal}`` (replicas compute the same figures; the gauges keep the maximum), and
it writes one ``agreement.review_due`` event for the latest periodic review that has fallen due and
for the expiry review (its termination notice before ``valid_to``). Each event's id is derived from
the review, so however many replicas look, each review is announced once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import IntegrityError

from router.agreement import CompiledAgreement
from router.reviews import ReviewDue, add_months, reviews_due
from schemas.events import AGREEMENT_REVIEW_DUE
from schemas.reports import Goals
from services import metrics
from services.agreement_lifecycle import ActiveAgreement
from services.db import repositories as repo
from services.db.tables import outbox
from services.db.uow import UnitOfWork
from services.events import outbox_row
from services.reports import report_window, sla_report
from services.settings import Settings
from services.workers.background import BackgroundWorker

log = structlog.get_logger(__name__)


class ReviewWorker(BackgroundWorker):
    """Background task refreshing the goal gauges and announcing due reviews."""

    task_name = "review-worker"

    def __init__(
        self, uow: UnitOfWork, settings: Settings, agreements: ActiveAgreement, now: Callable[[], datetime]
    ) -> None:
        super().__init__()
        self._uow = uow
        self._settings = settings
        self._agreements = agreements
        self._now = now

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
                await self.announce_reviews()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("reviews.retrying", error=type(error).__name__, detail=str(error)[:300])
            await asyncio.sleep(self._settings.review_worker_seconds)

    async def refresh(self) -> Goals | None:
        """Make the current goal period's report and set the gauges from its goals."""
        async with self._uow.read() as conn:
            agreement = await self._agreements.current(conn)
            goals = agreement.document.goals
            if goals is None:
                return None
            window = report_window(None, None, goals.period, self._now())
            report = await sla_report(conn, agreement, window, None)
        if report.goals is not None:
            set_goal_gauges(report.goals)
        return report.goals

    async def announce_reviews(self) -> list[str]:
        """Write the ``agreement.review_due`` events not written yet; their event ids."""
        now = self._now()
        try:
            async with self._uow.transaction() as conn:
                agreement = await self._agreements.current(conn)
                rows = [self._event(agreement, review, now) for review in latest_reviews(agreement, now)]
                if not rows:
                    return []
                known = set(
                    (
                        await conn.execute(
                            sa.select(outbox.c.event_id).where(
                                outbox.c.event_id.in_([r["event_id"] for r in rows])
                            )
                        )
                    ).scalars()
                )
                new = [row for row in rows if row["event_id"] not in known]
                await repo.insert_outbox(conn, new)
        except IntegrityError:  # another replica wrote them first
            return []
        for row in new:
            log.info(
                "agreement.review_due",
                kind=row["event"]["data"]["kind"],
                due_on=row["event"]["data"]["due_on"],
            )
        return [row["event_id"] for row in new]

    def _event(self, agreement: CompiledAgreement, review: ReviewDue, now: datetime) -> dict[str, Any]:
        document = agreement.document
        every = document.review.every_months if document.review else None
        if review.kind == "periodic" and every is not None:
            since = add_months(review.due_on, -every)
        else:
            since = document.valid_from or review.due_on
        agreement_id, version = document.id, document.version
        data = {
            "agreement_id": agreement_id, "version": version, "agreement_version": agreement.version,
            "kind": review.kind, "due_on": review.due_on.isoformat(),
            "review_owner": document.review.owner if document.review else None,
            "valid_to": document.valid_to.isoformat() if document.valid_to else None,
            "period_from": since.isoformat(),
            "scorecard": f"/v1/agreements/{agreement_id}/versions/{version}/scorecard"
            f"?from={since.isoformat()}&to={review.due_on.isoformat()}",
        }  # fmt: skip
        return outbox_row(
            topic=self._settings.topic_lifecycle, event_type=AGREEMENT_REVIEW_DUE,
            cause=f"review:{agreement.version}:{review.kind}:{review.due_on.isoformat()}",
            subject=agreement_id, data=data, at=now,
        )  # fmt: skip


def latest_reviews(agreement: CompiledAgreement, now: datetime) -> list[ReviewDue]:
    """The latest periodic review that has fallen due, and the expiry review if it has (a service
    started mid-year does not announce the reviews of months ago)."""
    document = agreement.document
    due = reviews_due(
        document.valid_from, document.valid_to, document.review.every_months if document.review else None,
        document.termination.notice_days if document.termination else 0, now.date(),
    )  # fmt: skip
    periodic = [r for r in due if r.kind == "periodic"]
    return periodic[-1:] + [r for r in due if r.kind == "expiry"]


def set_goal_gauges(goals: Goals) -> None:
    """``leadrouter_goal_{target,actual,attainment_ratio,projected_attainment_ratio}{goal}``."""
    counts = [("mqls", goals.mqls)] if goals.mqls is not None else []
    counts += [(f"mqls.{segment.segment}", segment) for segment in goals.by_segment]
    for name, figure in counts:
        metrics.GOAL_TARGET.labels(name).set(figure.target)
        metrics.GOAL_ACTUAL.labels(name).set(figure.actual)
        metrics.GOAL_ATTAINMENT.labels(name).set(figure.attainment or 0.0)
        metrics.GOAL_PROJECTED.labels(name).set(figure.projected_attainment or 0.0)
    rates = {
        "data_completeness": goals.data_completeness,
        "acceptance_rate": goals.acceptance_rate,
        "mql_to_sql_rate": goals.mql_to_sql_rate,
    }
    for name, rate in rates.items():
        if rate is None:
            continue
        metrics.GOAL_TARGET.labels(name).set(rate.target)
        if rate.actual is not None:
            metrics.GOAL_ACTUAL.labels(name).set(rate.actual)
            metrics.GOAL_ATTAINMENT.labels(name).set(rate.actual / rate.target if rate.target else 0.0)
