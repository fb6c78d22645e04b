"""Rules benchmark: the compiled example agreement next to the same agreement written by hand in Python.

Run from the repository root::

    .venv/bin/python bench/rules.py [--leads 100000] [--seed 7] [--repeat 3]

It generates seeded synthetic leads, builds their facts once, then times ``qualify`` + ``route`` of
the compiled ``deploy/agreements/example.yaml`` (30 fit rules, 9 engagement rules, 4 disqualifiers,
3 personas, MQL/SQL, a special case and 17 queues) against ``hand_written`` below, which encodes the
same agreement as plain Python. Every lead's results (stage, scores, fired rules and their points,
queue) must be identical, or the run fails. The best of ``--repeat`` runs of each is reported; the
last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from router.agreement import CompiledAgreement, FiredRule, _catalog, lead_facts  # noqa: E402
from router.rules.compiler import ExpressionCompiler, build_function  # noqa: E402
from router.rules.syntax import parse  # noqa: E402
from router.stages import advance  # noqa: E402
from services.agreements import load_agreement  # noqa: E402

NOW = datetime(2026, 6, 1, tzinfo=UTC)
INDUSTRIES = ["software", "saas", "fintech", "it_services", "manufacturing", "retail", "logistics",
              "healthcare", "media", "energy", "education", "government", None]  # fmt: skip
COUNTRIES = ["DE", "AT", "CH", "FR", "NL", "GB", "US", "CA", "ES", "IT", "SE", "PL", "AU", "JP", "BR", "IN",
             "MX", "FI", "IE", "SG", "BE", None]  # fmt: skip
SENIORITY = ["c_level", "vp", "director", "head", "manager", "senior", "entry", "manager", "student", None]
DEPARTMENTS = ["marketing", "sales", "engineering", "it", "operations", "finance", None]
TITLES = [
    "VP Marketing",
    "Director of Sales Ops",
    "RevOps Analyst",
    "IT Manager",
    "CTO",
    "Operations Lead",
    None,
]
PRODUCTS = ["routing", "scoring", "sla", "analytics", "api", "crm_sync"]
TAGS = ["inbound", "enterprise", "trial", "priority", "partner-referral", "competitor", "newsletter"]
DOMAINS = ["acme.io", "example-corp.de", "globex.com", "initech.com", "hooli.cloud", "vandelay.com",
           "tyrell-data.nl", "northwind.io", "gmail.com"]  # fmt: skip
LEAD_SOURCES = ["organic_search", "paid_search", "webinar", "event", "referral", "partner", None]
UTM_SOURCES = ["google", "linkedin", "partner_portal", "newsletter", None]
ACTIVITIES = ["demo_request", "contact_request", "trial_signup", "webinar_attended", "event_attended",
              "pricing_page_view", "content_download", "email_click", "page_view"]  # fmt: skip


def synthetic_leads(count: int, seed: int) -> list[dict[str, Any]]:
    """Seeded leads: (profile, activity counts, last activity) covering every rule's branches."""
    rng = random.Random(seed)
    leads = []
    for n in range(count):
        employees = rng.choice([None, int(10 ** rng.uniform(0.5, 4.5))])
        profile: dict[str, Any] = {
            "email": f"lead{n}@{rng.choice(DOMAINS)}",
            "industry": rng.choice(INDUSTRIES),
            "country": rng.choice(COUNTRIES),
            "employees": employees,
            "annual_revenue": None
            if employees is None or rng.random() < 0.2
            else employees * rng.uniform(2e4, 6e5),
            "seniority": rng.choice(SENIORITY),
            "department": rng.choice(DEPARTMENTS),
            "title": rng.choice(TITLES),
            "product_interest": rng.sample(PRODUCTS, rng.randint(0, 3)),
            "tags": rng.sample(TAGS, rng.randint(0, 3)),
            "intent_score": rng.choice([None, rng.randint(0, 100)]),
            "lead_source": rng.choice(LEAD_SOURCES),
            "utm_source": rng.choice(UTM_SOURCES),
            "utm_medium": rng.choice(["cpc", "email", "organic", None]),
            "website": rng.choice([None, "https://example.com"]),
            "consent_marketing": rng.choice([None, True, False]),
            "attributes": {
                k: v
                for k, v in (
                    ("plan", rng.choice(["trial", "pro", None])),
                    ("seats", rng.choice([None, 5, 60, "many"])),
                    ("customer", rng.choice([True, False, None])),
                )
                if v is not None
            },
        }
        counts = {a: rng.randint(0, 3) for a in rng.sample(ACTIVITIES, rng.randint(0, 4))}
        seen = NOW - timedelta(days=rng.uniform(0, 60)) if counts else None
        leads.append({"profile": profile, "counts": counts, "seen": seen})
    return leads


# --- the example agreement, by hand -----------------------------------------------------------------

_OPS = re.compile(r"(?i)ops|operations")
_ICP = frozenset({"software", "saas", "fintech", "it_services", "manufacturing"})
_ADJACENT = frozenset({"retail", "logistics", "healthcare", "media", "energy"})
_SENIOR = frozenset({"director", "vp", "c_level", "head"})
_TARGET = frozenset({"DE", "AT", "CH", "FR", "NL", "GB", "US", "CA"})
_SECONDARY = frozenset({"ES", "IT", "SE", "PL", "AU", "JP"})
_BUYING = frozenset({"marketing", "sales", "operations"})
_FREE = frozenset({"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "gmx.de", "web.de"})
_DACH = frozenset({"DE", "AT", "CH"})
_ENTERPRISE_QUEUES = (
    ("enterprise-dach", _DACH), ("enterprise-nordics", {"SE", "NO", "DK", "FI"}),
    ("enterprise-france", {"FR"}), ("enterprise-uk", {"GB", "IE"}), ("enterprise-na", {"US", "CA"}),
    ("enterprise-apac", {"JP", "AU", "IN", "SG"}),
)  # fmt: skip
_ENGAGEMENT = (("demo_request", "demo-request", 40, 40), ("contact_request", "contact-request", 30, 30),
               ("trial_signup", "trial-signup", 25, 25), ("webinar_attended", "webinar-attended", 15, 30),
               ("event_attended", "event-attended", 10, 20), ("pricing_page_view", "pricing-page", 10, 20),
               ("content_download", "content-download", 5, 15), ("email_click", "email-click", 2, 10),
               ("page_view", "page-view", 1, 10))  # fmt: skip


def _num(value: Any) -> bool:
    return type(value) in (int, float)


def hand_written(f: dict[str, Any], now: datetime) -> tuple[int, int, str, list[tuple[str, int]], str]:
    """The example agreement as plain Python: (fit, engagement, stage, fired, queue)."""
    industry, employees, seniority, country = f["industry"], f["employees"], f["seniority"], f["country"]
    revenue, products, department, intent = (
        f["annual_revenue"],
        f["product_interest"],
        f["department"],
        f["intent_score"],
    )
    tags, title = f["tags"], f["title"]
    enterprise_buyer = employees is not None and employees >= 1000 and seniority in _SENIOR
    revops = (
        department in ("operations", "sales", "marketing")
        and title is not None
        and _OPS.search(title) is not None
    )
    technical = department in ("engineering", "it") and not enterprise_buyer
    fired: list[tuple[str, int]] = []
    add = fired.append
    fit = 0
    if industry in _ICP:
        fit += 20
        add(("icp-industry", 20))
    if industry in _ADJACENT:
        fit += 8
        add(("adjacent-industry", 8))
    if employees is not None and 50 <= employees <= 199:
        fit += 5
        add(("size-small", 5))
    if employees is not None and 200 <= employees < 1000:
        fit += 15
        add(("size-mid-market", 15))
    if employees is not None and employees >= 1000:
        fit += 25
        add(("size-enterprise", 25))
    if seniority in _SENIOR:
        fit += 15
        add(("senior-buyer", 15))
    if seniority == "manager":
        fit += 5
        add(("manager", 5))
    if country in _TARGET:
        fit += 10
        add(("target-country", 10))
    if country in _SECONDARY:
        fit += 4
        add(("secondary-country", 4))
    if revenue is not None and revenue >= 10_000_000:
        fit += 10
        add(("revenue-10m", 10))
    if revenue is not None and revenue >= 100_000_000:
        fit += 5
        add(("revenue-100m", 5))
    if products is not None and "routing" in products:
        fit += 6
        add(("product-routing", 6))
    if products is not None and "sla" in products:
        fit += 6
        add(("product-sla", 6))
    if products is not None and ("analytics" in products or "scoring" in products):
        fit += 3
        add(("product-analytics", 3))
    if department in _BUYING:
        fit += 5
        add(("buying-department", 5))
    if enterprise_buyer:
        fit += 5
        add(("enterprise-persona", 5))
    if revops:
        fit += 4
        add(("revops-persona", 4))
    if intent is not None and intent >= 70:
        fit += 10
        add(("high-intent", 10))
    if intent is not None and 40 <= intent <= 69:
        fit += 4
        add(("some-intent", 4))
    if f["lead_source"] == "referral" or f["utm_source"] == "partner_portal":
        fit += 8
        add(("referral", 8))
    if f["utm_medium"] == "cpc":
        fit += 2
        add(("paid-search", 2))
    if f["lead_source"] in ("event", "webinar"):
        fit += 3
        add(("event-lead", 3))
    if tags is not None and "priority" in tags:
        fit += 5
        add(("priority-tag", 5))
    if tags is not None and "enterprise" in tags:
        fit += 3
        add(("enterprise-tag", 3))
    if f["website"] is not None:
        fit += 2
        add(("corporate-website", 2))
    if f["consent_marketing"] is True:
        fit += 1
        add(("marketing-consent", 1))
    if revenue is not None and employees and revenue / employees > 250_000:
        fit += 3
        add(("big-spender", 3))
    if f.get("attributes.plan") == "trial":
        fit += 4
        add(("trial-plan", 4))
    seats = f.get("attributes.seats")
    if isinstance(seats, int | float) and not isinstance(seats, bool) and seats >= 50:
        fit += 4
        add(("many-seats", 4))
    seen = f["last_activity_at"]
    if seen is not None and (now - seen).total_seconds() / 86400.0 <= 14:
        fit += 3
        add(("recently-active", 3))
    fit = min(fit, 100)
    engagement = 0
    for activity, rule, points, cap in _ENGAGEMENT:
        weight = f.get(f"weight.{activity}")
        if weight:
            earned = min(round(weight * points), cap)
            if earned:
                engagement += earned
                fired.append((rule, earned))
    engagement = min(engagement, 100)
    stage = _stage(f, fit, engagement, fired, tags)
    return fit, engagement, stage, fired, _queue(f, employees, country, industry, tags, technical)


def _stage(f: dict[str, Any], fit: int, engagement: int, fired: list[tuple[str, int]], tags: Any) -> str:
    for rule, hit in (("free-mail", f["email_domain"] in _FREE), ("student", f["seniority"] == "student"),
                      ("competitor", tags is not None and "competitor" in tags),
                      ("government", f["industry"] == "government")):  # fmt: skip
        if hit:
            fired.append((rule, 0))
            return "disqualified"
    if fit >= 40 and f["activity.demo_request"] >= 1:
        fired.append(("stage.sql", 0))
        return "sql"
    if fit >= 40 and engagement >= 10:
        fired.append(("stage.mql", 0))
        return "mql"
    return "engaged" if engagement > 0 else "new"


def _queue(f: dict[str, Any], employees: Any, country: Any, industry: Any, tags: Any, technical: bool) -> str:
    if f["utm_source"] == "partner_portal" and tags is not None and "partner-referral" in tags:
        return "partner"
    if f["lead_source"] == "partner":
        return "partner"
    big = employees is not None and employees >= 1000
    mid = employees is not None and 200 <= employees <= 999
    if country in _DACH and employees is not None and employees >= 5000:
        return "strategic-dach"
    if big:
        for queue, countries in _ENTERPRISE_QUEUES:
            if country in countries:
                return queue
        return "enterprise-global"
    if industry == "fintech" and employees is not None and employees >= 200:
        return "fintech-specialists"
    if mid and country in _DACH:
        return "mid-market-dach"
    if mid and country in {"FR", "NL", "GB", "ES", "IT", "SE", "PL", "BE"}:
        return "mid-market-europe"
    if mid and country in {"US", "CA"}:
        return "mid-market-na"
    if technical and employees is not None and employees >= 200:
        return "technical-buyers"
    if country in {"BR", "MX", "AR", "CL", "CO"}:
        return "latam"
    if employees is not None and employees < 200:
        return "smb"
    return "inside-sales"


# --- the run ----------------------------------------------------------------------------------------


def run_compiled(agreement: CompiledAgreement, facts: list[dict[str, Any]]) -> tuple[float, list[Any]]:
    """Seconds for qualify + route of every lead (stage advanced from "new"), and the results."""
    qualify, route = agreement._qualify, agreement._route  # the generated functions, as ingest calls them
    started = time.perf_counter()
    results = []
    for f in facts:
        fit, engagement, evaluated, fired = qualify(f, NOW)
        results.append((fit, engagement, advance("new", evaluated), fired, route(f, NOW).queue))
    return time.perf_counter() - started, results


class PerRuleClosures:
    """The design not chosen: every rule compiled on its own into a closure, driven by a Python loop.

    The same compiler and the same semantics as the agreement's generated functions; only the shape
    differs (one call and one fact lookup per rule per lead, instead of one function per agreement).
    """

    def __init__(self, agreement: CompiledAgreement) -> None:
        document = agreement.document
        self.personas = [(f"p_{i}", self._rule(document, p.when)) for i, p in enumerate(document.personas)]
        scoring = document.scoring
        self.fit = [(r.id, r.points, self._rule(document, r.when)) for r in scoring.fit]
        self.fit_cap = scoring.fit_cap
        self.engagement = [(r.id, r.activity, r.points, r.max_points) for r in scoring.engagement.rules]
        self.engagement_cap = scoring.engagement.cap
        self.disqualifiers = [(r.id, self._rule(document, r.when)) for r in scoring.disqualifiers]
        stages = document.stages
        self.stages = [
            (name, self._rule(document, getattr(stages, name))) for name in ("sql", "mql", "engaged")
        ]
        self.special = [(c.queue, self._rule(document, c.when)) for c in document.special_cases if c.queue]
        self.queues = [(q.id, self._rule(document, q.when) if q.when else None) for q in document.queues]
        self.fallback = document.handoff.fallback_queue

    @staticmethod
    def _rule(document: Any, text: str) -> Any:
        compiler = ExpressionCompiler(_catalog(document.personas, scores=True))
        expression = compiler.condition(parse(text), text)
        loads = [f"{local} = get({field!r})" for field, local in compiler.loads.items()]
        personas = [f"p_{i} = get('p_{i}')" for i in range(len(document.personas))]
        body = ["get = facts.get", *loads, *personas, "fit = get('fit_score')",
                "engagement = get('engagement_score')", f"return {expression}"]  # fmt: skip
        return build_function("rule", "facts, now", body, compiler.constants)

    def evaluate(self, facts: dict[str, Any], now: datetime) -> tuple[int, int, str, list[FiredRule], str]:
        """Stage, scores, fired rules and queue, one closure call per rule."""
        f = dict(facts)
        for local, rule in self.personas:
            f[local] = rule(f, now)
        fired: list[FiredRule] = []
        fit = 0
        for rule_id, points, rule in self.fit:
            if rule(f, now):
                fit += points
                fired.append(FiredRule(rule_id, "fit", points))
        if self.fit_cap is not None and fit > self.fit_cap:
            fit = self.fit_cap
        engagement = 0
        for rule_id, activity, points, max_points in self.engagement:
            weight = f.get(f"weight.{activity}")
            if weight:
                earned = round(weight * points)
                if max_points is not None and earned > max_points:
                    earned = max_points
                if earned:
                    engagement += earned
                    fired.append(FiredRule(rule_id, "engagement", earned))
        if self.engagement_cap is not None and engagement > self.engagement_cap:
            engagement = self.engagement_cap
        f["fit_score"], f["engagement_score"] = fit, engagement
        stage = ""
        for rule_id, rule in self.disqualifiers:
            if rule(f, now):
                fired.append(FiredRule(rule_id, "disqualifier"))
                stage = "disqualified"
                break
        if not stage:
            for name, rule in self.stages:
                if rule(f, now):
                    if name != "engaged":
                        fired.append(FiredRule(f"stage.{name}", "stage"))
                    stage = name
                    break
            else:
                stage = "new"
        return fit, engagement, stage, fired, self._queue(f, now)

    def _queue(self, f: dict[str, Any], now: datetime) -> str:
        for queue, rule in self.special:
            if rule(f, now):
                return str(queue)
        for queue, rule in self.queues:
            if rule is None or rule(f, now):
                return str(queue)
        return str(self.fallback)


def run_per_rule(closures: PerRuleClosures, facts: list[dict[str, Any]]) -> tuple[float, list[Any]]:
    """Seconds for the per-rule closures over every lead, and the results."""
    started = time.perf_counter()
    results = []
    for f in facts:
        fit, engagement, stage, fired, queue = closures.evaluate(f, NOW)
        results.append((fit, engagement, advance("new", stage), fired, queue))
    return time.perf_counter() - started, results


def run_hand_written(facts: list[dict[str, Any]]) -> tuple[float, list[Any]]:
    """Seconds for the hand-written agreement over every lead, and the results."""
    started = time.perf_counter()
    results = []
    for f in facts:
        fit, engagement, stage, fired, queue = hand_written(f, NOW)
        results.append((fit, engagement, advance("new", stage), fired, queue))
    return time.perf_counter() - started, results


def without_gc(run: Any, *args: Any) -> tuple[float, list[Any]]:
    """``run(*args)`` with the cyclic garbage collector off, as ``timeit`` does.

    The 100,000 results kept for the comparison make a large heap; full collections triggered by
    whichever contender runs next would otherwise charge it for the others' objects (measured: the
    same code's ratio moved between 0.45 and 0.72 with the order of the runs).
    """
    gc.collect()
    gc.disable()
    try:
        result: tuple[float, list[Any]] = run(*args)
    finally:
        gc.enable()
    return result


def main() -> int:
    """Generate, evaluate both ways, compare, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description="leadrouter rules benchmark (see module docstring)")
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    agreement = load_agreement(ROOT / "deploy" / "agreements" / "example.yaml")
    leads = synthetic_leads(args.leads, args.seed)
    facts = [lead_facts(lead["profile"], lead["counts"], last_activity_at=lead["seen"]) for lead in leads]
    closures = PerRuleClosures(agreement)
    compiled_s, hand_s, per_rule_s = [], [], []
    for _ in range(args.repeat):
        seconds, compiled = without_gc(run_compiled, agreement, facts)
        compiled_s.append(seconds)
        seconds, by_hand = without_gc(run_hand_written, facts)
        hand_s.append(seconds)
        seconds, per_rule = without_gc(run_per_rule, closures, facts)
        per_rule_s.append(seconds)
    mismatches = 0
    for index, (got, closure, want) in enumerate(zip(compiled, per_rule, by_hand, strict=True)):
        for name, result in (("compiled", got), ("per-rule", closure)):
            got_fired = [(r.rule, r.points) for r in result[3]]
            if (result[0], result[1], result[2], got_fired, result[4]) != want:
                mismatches += 1
                if mismatches <= 3:
                    print(
                        f"MISMATCH lead {index}: {name} {result[:3]} {got_fired} {result[4]} vs hand {want}",
                        file=sys.stderr,
                    )
    if mismatches:
        print(f"BENCHMARK FAILED: {mismatches} of {len(facts)} leads differ", file=sys.stderr)
        return 1
    compiled_rate, hand_rate = len(facts) / min(compiled_s), len(facts) / min(hand_s)
    per_rule_rate = len(facts) / min(per_rule_s)
    stages: dict[str, int] = {}
    queues: set[str] = set()
    for result in compiled:
        stages[result[2]] = stages.get(result[2], 0) + 1
        queues.add(result[4])
    print(f"{len(facts)} leads, seed {args.seed}, best of {args.repeat}; identical results for every lead")
    print(f"stages {dict(sorted(stages.items()))}; {len(queues)} queues used")
    print(f"compiled agreement   {compiled_rate:>10,.0f} leads/s")
    print(f"hand-written Python  {hand_rate:>10,.0f} leads/s")
    print(f"per-rule closures    {per_rule_rate:>10,.0f} leads/s  (ratio {per_rule_rate / hand_rate:.3f})")
    print(f"ratio compiled/hand-written: {compiled_rate / hand_rate:.3f}   (target >= 0.5)")
    print(json.dumps({
        "bench": "rules", "leads": len(facts), "compiled_per_s": round(compiled_rate),
        "baseline_per_s": round(hand_rate), "per_rule_closures_per_s": round(per_rule_rate),
        "per_rule_ratio": round(per_rule_rate / hand_rate, 4),
        "ratio": round(compiled_rate / hand_rate, 4), "fit_rules": len(agreement.document.scoring.fit),
        "queues": len(agreement.document.queues), "stages": stages,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
