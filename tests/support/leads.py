"""Lead bodies for tests."""

from __future__ import annotations

import itertools
from typing import Any

_counter = itertools.count(1)


def lead_body(**overrides: Any) -> dict[str, Any]:
    """A lead that fits the example agreement's ICP (enterprise, DACH) but has no engagement yet."""
    n = next(_counter)
    body: dict[str, Any] = {
        "source": "hubspot",
        "external_id": f"contact-{n}",
        "email": f"Buyer{n}@Example-Corp.com",
        "first_name": "Ada",
        "last_name": "Buyer",
        "company": "Example Corp",
        "title": "VP Operations",
        "seniority": "vp",
        "industry": "software",
        "country": "DE",
        "employees": 2500,
        "annual_revenue": 50_000_000,
    }
    body.update(overrides)
    return body


def qualified_lead_body(**overrides: Any) -> dict[str, Any]:
    """A lead the source asserts is an MQL: handed off on arrival."""
    return lead_body(stage="mql", **overrides)
