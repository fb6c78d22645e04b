"""Account matching: company domains, free-mail addresses fall back to the normalised company name."""

from __future__ import annotations

import pytest

from router.accounts import account_key, normalised_company


@pytest.mark.parametrize(
    ("company", "normalised"),
    [
        ("ACME GmbH & Co. KG", "acme"),
        ("Acme, Inc.", "acme"),
        ("Société Générale S.A.", "societe generale"),
        ("Northwind Traders Ltd", "northwind traders"),
        ("  The   Boring   Company ", "the boring"),
    ],
)
def test_company_names_normalise(company: str, normalised: str) -> None:
    assert normalised_company(company) == normalised


def test_account_keys() -> None:
    assert account_key("ada@Example-Corp.com", "Example Corp") == "domain:example-corp.com"
    assert account_key("ada@gmail.com", "ACME GmbH") == "company:acme"
    assert account_key("ada@gmail.com", None) is None
    assert account_key("ada@gmail.com", "GmbH") is None  # nothing left of the name
