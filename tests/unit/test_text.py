"""NUL characters in request text: found wherever they are, and only where they really are."""

from __future__ import annotations

import orjson
import pytest

from schemas.leads import LeadIn
from schemas.text import nul_paths
from services.errors import DomainError
from services.ingest_request import parse_body
from tests.support.leads import lead_body


def test_nul_paths_name_values_and_keys_at_any_depth() -> None:
    document = {"a": "ok", "b": ["x", "y\x00"], "c": {"d\x00": 1, "e": {"f": "\x00"}}, "g": 3}
    assert nul_paths(document) == [("b", 1), ("c", "d\x00"), ("c", "e", "f")]
    assert nul_paths({"a": "fine", "b": [1, None, True]}) == []


def test_a_lead_with_a_nul_is_refused_and_an_escaped_backslash_is_not_a_nul() -> None:
    with pytest.raises(DomainError) as refused:
        parse_body(LeadIn, orjson.dumps(lead_body(city="Ber\x00lin")))
    assert refused.value.status == 422
    assert [e.field for e in refused.value.errors] == ["city"]
    text = orjson.dumps(lead_body(city="C:\\u0000"))  # a backslash, then the letters u0000
    assert b"\\\\u0000" in text
    assert parse_body(LeadIn, text).city == "C:\\u0000"
