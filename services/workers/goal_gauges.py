"""Keeps the goal gauges current: the agreement's goals for the running goal period, for dashboards.

Every ``report_gauge_seconds`` it makes the SLA report of the current goal period (no grouping) and
sets ``leadrouter_goal_*{goal}``. Replicas compute the same figures; the gauges keep the maximum.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import structlog

from schemas.reports import Goals
from services import metrics
from services.agreement_lifecycle import ActiveAgreement
from services.db.uow import UnitOfWork
from services.reports import report_window, sla_report
from services.settings import Settings
from services.workers.background import BackgroundWorker

log = structlog.get_logger(__name__)


class GoalGaugeWorker(BackgroundWorker):
    """Background task refreshing the goal gauges."""

    task_name = "goal-gauges"

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
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("goal_gauges.retrying", error=type(error).__name__, detail=str(error)[:300])
            await asyncio.sleep(self._settings.report_gauge_seconds)

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
