"""Run an agreement's embedded test cases (pure): each example lead against its expected decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from router.agreement import CompiledAgreement, lead_facts
from schemas.agreement import TestCase
from schemas.leads import LeadIn


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One test case: what was expected, what the agreement decided, and the differences."""

    case: str
    expected: dict[str, Any]
    actual: dict[str, Any]
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Whether the decision matched every expectation."""
        return not self.problems


def run_case(agreement: CompiledAgreement, case: TestCase, now: datetime) -> CaseResult:
    """Qualify and route the case's lead as a new lead; compare with the expectations it states."""
    expected = case.expect.model_dump(exclude_none=True)
    try:
        body = LeadIn.model_validate({"source": "test", "external_id": case.id, **case.lead})
    except ValidationError as error:
        problems = tuple(f"lead.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return CaseResult(case.id, expected, {}, problems)
    profile = body.model_dump(exclude_none=True, exclude={"source", "external_id", "event_id", "stage"})
    profile["source"] = "test"
    facts = lead_facts(profile, {str(k): v for k, v in case.activities.items()})
    decision = agreement.qualify(facts, "new", case.stage, now)
    actual: dict[str, Any] = {
        "stage": decision.stage, "fit_score": decision.fit_score,
        "engagement_score": decision.engagement_score, "queue": agreement.route(facts, now).queue,
    }  # fmt: skip
    problems = tuple(
        f"{name}: expected {value!r}, got {actual[name]!r}"
        for name, value in expected.items()
        if actual[name] != value
    )
    return CaseResult(case.id, expected, actual, problems)


def run_cases(agreement: CompiledAgreement, now: datetime | None = None) -> list[CaseResult]:
    """Every embedded test case of the agreement, in document order."""
    at = now or datetime.now(UTC)
    return [run_case(agreement, case, at) for case in agreement.document.tests]
