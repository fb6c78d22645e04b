"""The SLA report on a small hand-made history, on SQLite and PostgreSQL: every figure below is
computed by hand from the rows seeded here (window: November 2026, report made on the 16th)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from router.reports import progress
from schemas.events import AGREEMENT_REVIEW_DUE, LEAD_HANDED_OFF, LEAD_UNASSIGNED
from services.agreements import load_agreement
from services.clock import utcnow
from services.db.tables import decisions, lead_events, leads, outbox, sla_clocks
from services.db.uow import UnitOfWork
from services.errors import DomainError
from services.events import outbox_row
from services.reports import Window, report_window, sla_report
from services.scorecard import scorecard
from services.settings import Settings
from services.workers.reviews import ReviewWorker
from tests.conftest import EXAMPLE_AGREEMENT
from tests.support.app import app_client, runtime_of
from tests.support.service import run_cli

NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 16, tzinfo=UTC)  # half of November gone
AGREEMENT = load_agreement(EXAMPLE_AGREEMENT)
IDS = {name: uuid.UUID(int=n) for n, name in enumerate(["L1", "L2", "L3", "L4", "L5"], start=1)}


def at(day: int, hour: int = 9, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def lead(
    name: str, source: str, created: datetime, queue: str | None, owner: str | None, **profile: Any
) -> dict[str, Any]:
    return {
        "id": IDS[name], "source": source, "external_id": name, "email": f"{name.lower()}@example.org",
        "company": profile.get("company"), "profile": profile, "activity_counts": {}, "stage": "new",
        "fit_score": 0, "engagement_score": 0, "queue": queue, "owner": owner,
        "agreement_version": "acme-sla@1",
        "last_activity_at": None, "created_at": created, "updated_at": created, "engagement_weights": {},
        "engagement_as_of": None, "closed_at": None, "recycled_count": 0, "account_key": None,
    }  # fmt: skip


def decision(
    name: str, when: datetime, from_stage: str, to_stage: str, queue: str | None, owner: str | None
) -> dict[str, Any]:
    return {
        "lead_id": IDS[name], "event_key": f"{name}:{when.isoformat()}", "agreement_version": "acme-sla@1",
        "from_stage": from_stage, "to_stage": to_stage, "fit_score": 0, "engagement_score": 0, "queue": queue,
        "owner": owner, "explanation": [], "decided_at": when,
    }  # fmt: skip


def feedback(name: str, when: datetime, outcome: str, reason: str | None = None) -> dict[str, Any]:
    payload = {"outcome": outcome, **({"reason": reason} if reason else {})}
    return {
        "event_key": f"feedback:{name}:{outcome}", "request_hash": "0" * 64, "lead_id": IDS[name],
        "kind": "feedback",
        "payload": payload, "response": {"status": 202, "body": {}}, "received_at": when,
    }  # fmt: skip


def clock(
    name: str, obligation: str, queue: str, rep: str, started: datetime, state: str, **extra: Any
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(), "lead_id": IDS[name], "obligation": obligation, "queue": queue, "rep_id": rep,
        "state": state, "started_at": started, "due_at": started + timedelta(hours=4), "closed_at": None,
        "agreement_version": "acme-sla@1", "warn_at": None, "warned_at": None, "check_at": started,
        "calendar": None, "paused_at": None, "paused_seconds": 0.0, "attempts_made": 0,
        "attempts_required": None, "fulfilled_at": None, **extra,
    }  # fmt: skip


def event(name: str, event_type: str, when: datetime) -> dict[str, Any]:
    return outbox_row(
        topic="leads.handoff", event_type=event_type, cause=f"{name}:{event_type}:{when.isoformat()}",
        subject=str(IDS[name]), data={"lead_id": str(IDS[name])}, at=when,
    )  # fmt: skip


COMPLETE = {"company": "Acme", "industry": "software"}
HISTORY: dict[sa.Table, list[dict[str, Any]]] = {
    leads: [
        lead("L1", "hubspot", at(2), "enterprise-dach", "rep-anna", employees=2000, country="DE", **COMPLETE),
        lead(
            "L2", "hubspot", at(3), None, None, employees=500, country="FR", company="Bistro"
        ),  # no industry
        lead("L3", "salesforce", at(4), None, None, employees=50, country="AT", **COMPLETE),
        lead(
            "L4",
            "salesforce",
            at(20, month=10),
            "enterprise-dach",
            "rep-anna",
            employees=1500,
            country="DE",
            **COMPLETE,
        ),
        lead(
            "L5",
            "hubspot",
            at(2, month=12),
            "enterprise-dach",
            "rep-anna",
            employees=3000,
            country="DE",
            **COMPLETE,
        ),
    ],
    decisions: [
        decision("L1", at(2), "new", "mql", "enterprise-dach", "rep-anna"),
        decision("L1", at(5), "mql", "sql", "enterprise-dach", "rep-anna"),
        decision("L2", at(3), "new", "mql", "enterprise-france", "rep-pierre"),
        decision("L2", at(4, 12), "mql", "recycled", None, None),
        decision("L3", at(4), "new", "engaged", None, None),
        decision("L4", at(20, month=10), "new", "engaged", None, None),
        decision("L4", at(6), "engaged", "mql", "enterprise-dach", "rep-jonas"),
        decision("L4", at(7), "mql", "mql", "enterprise-dach", "rep-anna"),  # reassigned by hand
        decision("L5", at(2, month=12), "new", "mql", "enterprise-dach", "rep-anna"),  # after the window
    ],
    lead_events: [
        feedback("L1", at(3), "accepted"),
        feedback("L1", at(10), "converted"),
        feedback("L2", at(4, 12), "rejected", "no_budget"),
        feedback("L4", at(8), "accepted"),
    ],
    sla_clocks: [
        clock(
            "L1",
            "first_touch",
            "enterprise-dach",
            "rep-anna",
            at(2, 10),
            "met",
            closed_at=at(2, 11),
            fulfilled_at=at(2, 11),
        ),  # 3,600 s
        clock(
            "L2",
            "first_touch",
            "enterprise-france",
            "rep-pierre",
            at(3, 9),
            "breached",
            closed_at=at(3, 13),
            warn_at=at(3, 12),
            warned_at=at(3, 12),
            fulfilled_at=at(4, 9),
        ),  # late: 86,400 s
        clock(
            "L4",
            "first_touch",
            "enterprise-dach",
            "rep-jonas",
            at(6, 10),
            "met",
            closed_at=at(6, 12),
            fulfilled_at=at(6, 12),
        ),  # 7,200 s
        clock(
            "L1",
            "attempts",
            "enterprise-dach",
            "rep-anna",
            at(2, 10),
            "met",
            closed_at=at(4),
            attempts_made=3,
            attempts_required=3,
        ),
        clock(
            "L4",
            "attempts",
            "enterprise-dach",
            "rep-anna",
            at(6, 10),
            "breached",
            closed_at=at(11),
            attempts_made=1,
            attempts_required=3,
        ),
    ],
    outbox: [
        event("L4", LEAD_UNASSIGNED, at(6, 8)),
        event("L4", LEAD_HANDED_OFF, at(6, 10)),  # waited 7,200 s
        event("L2", LEAD_UNASSIGNED, at(5, 12)),  # still waiting
    ],
}


def app_settings(db_url: str, **extra: Any) -> Settings:
    """The app on the example agreement, with no background workers (tests run them by hand)."""
    return Settings(
        database_url=db_url, agreement_path=EXAMPLE_AGREEMENT, kafka_bootstrap_servers=None,
        run_clock_worker=False, run_assignment_worker=False, **extra,
    )  # fmt: skip


@pytest.fixture
async def history(uow: UnitOfWork) -> UnitOfWork:
    async with uow.transaction() as conn:
        for table, rows in HISTORY.items():
            await conn.execute(sa.insert(table), rows)
    return uow


async def test_totals_and_goals_match_the_hand_computed_figures(history: UnitOfWork) -> None:
    async with history.read() as conn:
        report = await sla_report(conn, AGREEMENT, Window(NOV, DEC, NOW), None)
    (group,) = report.groups
    assert group.key == "all"
    marketing, sales, routing = group.marketing, group.sales, group.routing
    assert (marketing.leads, marketing.mqls, marketing.sqls, marketing.handed_off) == (3, 3, 1, 3)
    assert marketing.data_completeness == pytest.approx(2 / 3)  # L2 has no industry
    assert marketing.rejected_by_reason == {"no_budget": 1}
    assert marketing.rejection_rate == pytest.approx(1 / 3)
    assert (sales.accepted, sales.rejected, sales.converted) == (2, 1, 1)
    assert sales.acceptance_rate == pytest.approx(2 / 3)
    assert sales.mql_to_sql_rate == pytest.approx(1 / 3)  # of L1, L2, L4 only L1 reached SQL
    assert sales.sql_to_opportunity_rate == 1.0  # L1 converted after its SQL
    touch = sales.time_to_first_touch
    assert (touch.count, touch.p50_seconds) == (3, 7200.0)  # 3,600, 7,200 and the late 86,400
    assert touch.p90_seconds == pytest.approx(7200 + 0.8 * (86400 - 7200))
    # buckets 15 min, 30 min, 1 h, 2 h, 4 h, 8 h, 1 day, 2 days, more: 3,600 s is "at most 1 h"
    assert [b.count for b in touch.histogram] == [0, 0, 1, 1, 0, 0, 1, 0, 0]
    assert [(w.week, w.queue, w.breaches) for w in report.breaches_by_week] == [
        (date(2026, 11, 2), "enterprise-france", 1),  # L2's first touch, Tuesday 3 November
        (date(2026, 11, 9), "enterprise-dach", 1),  # L4's attempts, Wednesday 11 November
    ]
    first = sales.obligations["first_touch"]
    assert (first.met, first.breached, first.warned) == (2, 1, 1)
    assert first.met_rate == pytest.approx(2 / 3)
    attempts = sales.obligations["attempts"]
    assert (attempts.met, attempts.breached, attempts.attempts_made, attempts.attempts_required) == (
        1,
        1,
        4,
        6,
    )
    decision_clock = sales.obligations["decision"]
    assert (decision_clock.met, decision_clock.breached, decision_clock.met_rate) == (0, 0, None)
    assert routing.reassignments == 1  # L4: rep-jonas -> rep-anna in enterprise-dach
    assert (routing.unassigned.count, routing.unassigned.p50_seconds, routing.still_waiting) == (1, 7200.0, 1)
    goals = report.goals
    assert goals is not None
    assert goals.mqls is not None
    assert (goals.mqls.target, goals.mqls.actual, goals.mqls.projected) == (400, 3, 6)  # 3 in half the month
    assert goals.mqls.status == "at_risk"
    segments = {s.segment: (s.target, s.actual) for s in goals.by_segment}
    assert segments == {"enterprise": (80, 2), "dach": (120, 2)}  # L1 and L4; L2 is neither
    assert goals.data_completeness is not None
    assert goals.data_completeness.status == "missed"  # 0.67 < 0.95
    assert goals.acceptance_rate is not None
    assert goals.acceptance_rate.status == "missed"  # 0.67 < 0.8
    assert goals.mql_to_sql_rate is not None
    assert goals.mql_to_sql_rate.status == "met"  # 0.33 >= 0.3
    shares = {(s.queue, s.rep_id): (s.handoffs, s.share, s.expected_share) for s in report.distribution}
    assert shares[("enterprise-dach", "rep-anna")] == (1, 0.5, 0.5)
    assert shares[("enterprise-dach", "rep-jonas")] == (1, 0.5, 0.5)
    assert shares[("enterprise-france", "rep-pierre")] == (1, 1.0, 1.0)
    assert shares[("enterprise-uk", "rep-liam")] == (0, None, 1.0)


async def test_figures_per_rep_and_per_source(history: UnitOfWork) -> None:
    async with history.read() as conn:
        by_rep = {g.key: g for g in (await sla_report(conn, AGREEMENT, Window(NOV, DEC, NOW), "rep")).groups}
        by_source = {
            g.key: g for g in (await sla_report(conn, AGREEMENT, Window(NOV, DEC, NOW), "source")).groups
        }
    assert by_rep["rep-anna"].marketing.mqls == 1  # L1 (L4's MQL decision named rep-jonas)
    assert by_rep["rep-jonas"].marketing.mqls == 1
    assert by_rep["rep-pierre"].sales.time_to_first_touch.p50_seconds == 86400.0
    assert by_rep["rep-anna"].routing.reassignments == 1
    assert by_source["hubspot"].marketing.leads == 2  # L1, L2 (L5 is December's)
    assert by_source["salesforce"].marketing.leads == 1  # L3 (L4 is October's)
    assert by_source["salesforce"].marketing.mqls == 1  # L4
    assert by_source["hubspot"].sales.rejected == 1
    assert by_source["hubspot"].routing.still_waiting == 1  # L2


async def test_figures_per_goal_segment(history: UnitOfWork) -> None:
    """A lead counts in every segment it matches now: L1 and L4 are enterprise and DACH, L3 DACH only,
    L2 (French, 500 people) in none."""
    async with history.read() as conn:
        report = await sla_report(conn, AGREEMENT, Window(NOV, DEC, NOW), "segment")
    groups = {g.key: g for g in report.groups}
    assert set(groups) == {"enterprise", "dach", "none"}
    enterprise, dach, none = groups["enterprise"], groups["dach"], groups["none"]
    assert (enterprise.marketing.leads, enterprise.marketing.mqls, enterprise.marketing.sqls) == (1, 2, 1)
    assert (dach.marketing.leads, dach.marketing.mqls) == (2, 2)  # L1 and L3 created; L1 and L4 MQLs
    assert (none.marketing.leads, none.marketing.mqls, none.sales.rejected) == (1, 1, 1)
    assert enterprise.sales.accepted == 2
    assert enterprise.routing.reassignments == 1
    assert enterprise.sales.time_to_first_touch.p50_seconds == 5400.0  # 3,600 and 7,200
    assert none.routing.still_waiting == 1
    assert report.goals is not None
    assert report.goals.mqls is not None
    assert report.goals.mqls.actual == 3  # the goals count each lead once


async def test_at_the_goal_boundaries() -> None:
    """Status at the edges: the target reached is met, even mid-window; after the window a shortfall
    is missed; during it, the pace decides between on track and at risk."""
    assert progress(10, 10, NOV, DEC, NOW).status == "met"
    assert progress(10, 9, NOV, DEC, DEC).status == "missed"
    assert progress(10, 5, NOV, DEC, NOW).status == "on_track"  # 5 in half the window: 10 at the end
    assert progress(10, 4.99, NOV, DEC, NOW).status == "at_risk"


def test_window_defaults_to_the_goal_period_and_refuses_bad_ones() -> None:
    window = report_window(None, None, "month", NOW)
    assert (window.start, window.end) == (NOV, DEC)
    quarter = report_window(None, None, "quarter", NOW)
    assert (quarter.start, quarter.end) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(DomainError):
        report_window(DEC, NOV, "month", NOW)
    with pytest.raises(DomainError):
        report_window(NOV, NOV + timedelta(days=401), "month", NOW)


async def test_the_api_serves_the_same_figures(history: UnitOfWork, db_url: str, tmp_path: Path) -> None:
    settings = app_settings(db_url)
    async with app_client(settings) as (client, app):
        reply = await client.get(
            "/v1/reports/sla", params={"from": "2026-11-01", "to": "2026-12-01", "group_by": "queue"}
        )
        assert reply.status_code == 200, reply.text
        bad = await client.get("/v1/reports/sla", params={"from": "2026-12-01", "to": "2026-11-01"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "query.to"
        unknown = await client.get("/v1/reports/sla", params={"group_by": "planet"})
        assert unknown.status_code == 422
        for edge in ("0001-01-01T00:30:00+01:00", "9999-12-31"):  # outside the years reports compute with
            far = await client.get("/v1/reports/sla", params={"from": edge})
            assert far.status_code == 422, far.text
            assert far.json()["errors"][0]["field"] == "query.from"
        runtime = runtime_of(app)  # what the app's review worker does every LEADROUTER_REVIEW_WORKER_SECONDS
        await ReviewWorker(runtime.uow, settings, runtime.active, utcnow).refresh()
        gauges = await _goal_gauges(client)
    # the goal gauges show the current goal period's goals (whatever month it is now)
    async with history.read() as conn:
        current = await sla_report(conn, AGREEMENT, report_window(None, None, "month", utcnow()), None)
    assert current.goals is not None
    assert current.goals.mqls is not None
    assert gauges[("leadrouter_goal_target", "mqls")] == pytest.approx(current.goals.mqls.target)
    assert gauges[("leadrouter_goal_actual", "mqls")] == current.goals.mqls.actual
    enterprise = next(s for s in current.goals.by_segment if s.segment == "enterprise")
    assert gauges[("leadrouter_goal_actual", "mqls.enterprise")] == enterprise.actual
    assert gauges[("leadrouter_goal_target", "acceptance_rate")] == 0.8
    body = reply.json()
    assert (body["from"], body["to"], body["group_by"]) == (
        "2026-11-01T00:00:00Z",
        "2026-12-01T00:00:00Z",
        "queue",
    )
    async with history.read() as conn:
        expected = await sla_report(conn, AGREEMENT, Window(NOV, DEC, NOW), "queue")
    assert body["groups"] == [g.model_dump(mode="json") for g in expected.groups]
    dach = next(g for g in body["groups"] if g["key"] == "enterprise-dach")
    assert dach["sales"]["obligations"]["first_touch"]["met"] == 2


async def _goal_gauges(client: Any) -> dict[tuple[str, str], float]:
    """The goal gauges from /metrics."""
    found = {}
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith("leadrouter_goal_"):
            name, _, rest = line.partition('{goal="')
            goal, _, value = rest.partition('"} ')
            found[(name, goal)] = float(value)
    return found


async def test_the_cli_prints_the_report_as_tables_and_as_json(history: UnitOfWork, db_url: str) -> None:
    env = {"LEADROUTER_DATABASE_URL": db_url, "LEADROUTER_AGREEMENT_PATH": str(EXAMPLE_AGREEMENT)}
    window = ["--from", "2026-11-01", "--to", "2026-12-01"]
    tables = await asyncio.to_thread(run_cli, ["report", *window, "--group-by", "rep"], env)
    assert tables.returncode == 0, tables.stderr
    assert "MQLs · enterprise" in tables.stdout
    assert "rep-pierre" in tables.stdout
    as_json = await asyncio.to_thread(run_cli, ["report", *window, "--json"], env)
    assert as_json.returncode == 0, as_json.stderr
    printed = json.loads(as_json.stdout)
    async with history.read() as conn:
        expected = await sla_report(conn, AGREEMENT, Window(NOV, DEC, NOW), None)
    assert printed["groups"] == [g.model_dump(mode="json") for g in expected.groups]
    refused = await asyncio.to_thread(run_cli, ["report", "--from", "2026-12-01", "--to", "2026-11-01"], env)
    assert refused.returncode == 2
    assert "'from' must be before 'to'" in refused.stderr
    far = await asyncio.to_thread(run_cli, ["report", "--from", "9999-12-01"], env)
    assert far.returncode == 2
    assert "--from" in far.stderr
    assert "between 1900-01-01 and 2999-12-31" in far.stderr


async def test_the_scorecard_lists_every_goal_and_obligation_with_its_status(history: UnitOfWork) -> None:
    async with history.read() as conn:
        during = await scorecard(conn, AGREEMENT, Window(NOV, DEC, NOW))
        after = await scorecard(conn, AGREEMENT, Window(NOV, DEC, DEC))
    items = {i.item: i for i in during.items}
    assert {name: (i.target_value, i.actual_value, i.status) for name, i in items.items()} == {
        "mqls": (400, 3, "at_risk"),
        "mqls.enterprise": (80, 2, "at_risk"),
        "mqls.dach": (120, 2, "at_risk"),
        "data_completeness": (0.95, pytest.approx(2 / 3), "at_risk"),
        "acceptance_rate": (0.8, pytest.approx(2 / 3), "at_risk"),
        "mql_to_sql_rate": (0.3, pytest.approx(1 / 3), "met"),
        "first_touch": (0.95, pytest.approx(2 / 3), "at_risk"),
        "attempts": (0.95, 0.5, "at_risk"),
        "decision": (0.95, None, "no_data"),
    }
    assert items["first_touch"].remediation == [
        "after breach 1: notify sales_manager",
        "after breach 2: service credit of one MQL for marketing's monthly count",
    ]
    assert items["first_touch"].side == "sales"
    assert items["first_touch"].target == "95% of leads: first touch within 4 h"
    assert items["attempts"].target == "95% of leads: 3 attempts within 5 days"
    assert items["mqls"].side == "marketing"
    assert (during.missed, during.at_risk) == (0, 7)
    # once the window is over, what was at risk is missed
    assert (after.missed, after.at_risk) == (7, 0)
    assert during.review.every_months == 3
    # quarterly from 2026-01-01: the next would be 2027-01-01, after valid_to; 30 days' notice before it
    assert during.review.next_review_on is None
    assert during.review.expiry_review_on == date(2026, 12, 1)
    assert during.review.valid_to == date(2026, 12, 31)
    assert "Either side misses its goals three months in a row." in during.termination_conditions


async def test_the_scorecard_api(history: UnitOfWork, db_url: str) -> None:
    settings = app_settings(db_url)
    async with app_client(settings) as (client, _app):
        path = "/v1/agreements/acme-sla/versions/{}/scorecard"
        reply = await client.get(path.format(1), params={"from": "2026-11-01", "to": "2026-12-01"})
        assert reply.status_code == 200, reply.text
        missing = await client.get(path.format(9))
        assert missing.status_code == 404
        for bad in (0, 2**31, 3243511310241748746240):  # the last one overflowed the database (a 500)
            out_of_range = await client.get(path.format(bad))
            assert out_of_range.status_code == 422, (bad, out_of_range.text)
            assert out_of_range.json()["errors"][0]["field"] == "path.version"
        bad_id = await client.get("/v1/agreements/%C2%A6b/versions/1/scorecard")
        assert bad_id.status_code == 422
    items = {i["item"]: i for i in reply.json()["items"]}
    assert items["mqls"]["actual_value"] == 3
    assert items["attempts"]["actual_value"] == 0.5


async def test_reviews_falling_due_are_announced_once(db_url: str) -> None:
    settings = app_settings(db_url, review_worker_seconds=0)
    async with app_client(settings) as (_client, app):
        runtime = runtime_of(app)
        in_november = ReviewWorker(runtime.uow, settings, runtime.active, lambda: NOW)
        after_notice = ReviewWorker(
            runtime.uow, settings, runtime.active, lambda: datetime(2026, 12, 5, tzinfo=UTC)
        )
        assert len(await in_november.announce_reviews()) == 1  # the review of 1 October (not April's, July's)
        assert await in_november.announce_reviews() == []  # once
        assert len(await after_notice.announce_reviews()) == 1  # 30 days' notice before valid_to
        assert await after_notice.announce_reviews() == []  # another replica: nothing more
        async with runtime.uow.read() as conn:
            query = (
                sa.select(outbox.c.event).where(outbox.c.type == AGREEMENT_REVIEW_DUE).order_by(outbox.c.id)
            )
            events = [row.event for row in await conn.execute(query)]
    periodic, expiry = (event["data"] for event in events)
    assert (periodic["kind"], periodic["due_on"], periodic["period_from"]) == (
        "periodic",
        "2026-10-01",
        "2026-07-01",
    )
    assert (
        periodic["scorecard"] == "/v1/agreements/acme-sla/versions/1/scorecard?from=2026-07-01&to=2026-10-01"
    )
    assert periodic["review_owner"] == "Head of Revenue Operations"
    assert (expiry["kind"], expiry["due_on"], expiry["valid_to"]) == ("expiry", "2026-12-01", "2026-12-31")
