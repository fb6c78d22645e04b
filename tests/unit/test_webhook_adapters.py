"""Each webhook adapter on any payload: a valid delivery the writer accepts, or a ``PayloadError``
naming the problem's place in the body (a 4xx); signatures checked before anything is read."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook

from schemas.problems import FieldError
from schemas.webhooks import WebhookDelivery
from services.ingest import ApplyDelivery
from services.ingest_request import IngestRequest, to_command
from services.webhooks.adapters import read_delivery
from services.webhooks.config import FieldRule, SourceConfig, WebhookSource, load_webhook_sources
from services.webhooks.mapping import CoercionError, PayloadError, convert
from services.webhooks.signatures import (
    SignatureError,
    hubspot_uri,
    sign_hubspot,
    sign_salesforce,
    verify_hubspot,
)
from services.yaml_documents import DocumentError

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "LEADROUTER_HUBSPOT_CLIENT_SECRET": "hs-secret",
    "LEADROUTER_SALESFORCE_WEBHOOK_SECRET": "sf-secret",
    "LEADROUTER_FORMS_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}
SOURCES = load_webhook_sources(ROOT / "deploy/webhooks/example.yaml", SECRETS)
URL = "https://leads.example.com/v1/webhooks/hubspot"

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
)  # fmt: skip
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# Text CRMs really send for numbers, booleans and e-mails, beside anything at all
CRM_TEXTS = ["", "1,200", "250.0", "12.5", "yes", "No", "true", "a@b.example", "Ada@Example.COM", "de"]
crm_values = json_values | st.sampled_from(CRM_TEXTS)


def _plausible(rule: FieldRule) -> st.SearchStrategy[Any]:
    """Values a CRM sends for a property mapped by ``rule`` (most of them fit)."""
    if rule.values is not None:
        return st.sampled_from([*rule.values, "unlisted"])
    by_target: dict[str, st.SearchStrategy[Any]] = {
        "email": st.sampled_from(["ada@example.org", "Grace@Example-Corp.COM", " kim@x.example ", "no-at"]),
        "country": st.sampled_from(["de", "US", "", "Germany"]),
        "employees": st.integers(0, 20_000_000) | st.sampled_from(["1,200", "12.0", ""]),
        "annual_revenue": st.floats(0, 1e12) | st.sampled_from(["1,000.50", "-5"]),
        "consent_marketing": st.booleans() | st.sampled_from(["yes", "No", "maybe"]),
        "product_interest": st.text(max_size=40),
    }
    return by_target.get(rule.to, st.text(max_size=60) | st.integers(-(2**40), 2**40))


def plausible_records(source: str, id_property: str, ids: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Records whose mapped properties carry values like a CRM's, and an id."""
    rules = SOURCES[source].config.fields
    return st.fixed_dictionaries(
        {id_property: ids}, optional={name: _plausible(rule) for name, rule in rules.items()}
    )


def _names(source: str) -> list[str]:
    return [*SOURCES[source].config.fields, "unmapped_property", "Id", "id"]


def deliver(source: str, body: bytes, headers: dict[str, str] | None = None) -> WebhookDelivery:
    """Sign ``body`` as the source's CRM does, then read it."""
    now = time.time()
    found = SOURCES[source]
    if found.config.adapter == "hubspot":
        stamp = str(int(now * 1000))
        signed = {"x-hubspot-signature-v3": sign_hubspot(found.secret, "POST", URL, body, stamp),
                  "x-hubspot-request-timestamp": stamp}  # fmt: skip
    elif found.config.adapter == "salesforce":
        stamp = str(int(now))
        signed = {
            "x-leadrouter-signature": sign_salesforce(found.secret, body, stamp),
            "x-leadrouter-timestamp": stamp,
        }
    else:
        at = datetime.now(UTC)
        signed = {"webhook-id": "msg_1", "webhook-timestamp": str(int(at.timestamp())),
                  "webhook-signature": Webhook(found.secret).sign("msg_1", at, body.decode())}  # fmt: skip
    return read_delivery(found, "POST", URL, body, {**signed, **(headers or {})}, now=now)


def check_outcome(source: str, payload: Any) -> None:
    """The property: a delivery the writer takes as it is, or a PayloadError naming places in the body."""
    refused: list[FieldError] | None
    try:
        delivery = deliver(source, orjson.dumps(payload))
    except PayloadError as error:
        refused = error.errors
    else:
        refused = None
    event("refused" if refused is not None else "mapped" if delivery.changes else "mapped, no changes")
    if refused is not None:
        assert refused
        assert all(e.field.startswith("body") for e in refused), refused
        return
    command = to_command(IngestRequest("webhook", delivery.model_dump_json(exclude_unset=True).encode()))
    assert isinstance(command, ApplyDelivery)
    assert command.body == delivery
    assert command.event_key == f"webhook:{source}:{delivery.delivery_id}"


def _as_hubspot_change(record: dict[str, Any]) -> dict[str, Any]:
    """A plausible record as one HubSpot property change (the first of its properties)."""
    change = {
        "eventId": record["objectId"] * 7, "objectId": record["objectId"], "occurredAt": 1_764_000_000_000,
        "subscriptionType": "contact.propertyChange",
    }  # fmt: skip
    properties = [(k, v) for k, v in record.items() if k != "objectId"]
    if properties:
        change["propertyName"], change["propertyValue"] = properties[0]
    return change


HUBSPOT_TYPES = ["contact.creation", "contact.propertyChange", "contact.deletion", "x"]
hubspot_events = st.lists(
    st.fixed_dictionaries(
        {
            "eventId": st.integers(1, 2**40), "objectId": st.integers(1, 2**40) | st.text(max_size=3),
            "occurredAt": st.integers(0, 2**45),
            "subscriptionType": st.sampled_from(HUBSPOT_TYPES),
        },
        optional={"propertyName": st.sampled_from(_names("hubspot")), "propertyValue": crm_values},
    )
    | plausible_records("hubspot", "objectId", st.integers(1, 99)).map(_as_hubspot_change),
    max_size=8,
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=hubspot_events | json_values)
def test_hubspot_any_payload_maps_or_is_refused_by_name(payload: Any) -> None:
    check_outcome("hubspot", payload)


salesforce_plausible = plausible_records("salesforce", "Id", st.text(min_size=1, max_size=18))
salesforce_any = st.dictionaries(
    st.sampled_from([*_names("salesforce"), "LastModifiedDate"]), crm_values, max_size=6
)
salesforce_records = (
    st.lists(salesforce_plausible, max_size=4) | st.lists(salesforce_any | salesforce_plausible, max_size=5)
).map(lambda records: [{"attributes": {"type": "Lead"}, **record} for record in records])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payload=st.fixed_dictionaries({"deliveryId": st.text(max_size=8), "records": salesforce_records})
    | json_values
)
def test_salesforce_any_payload_maps_or_is_refused_by_name(payload: Any) -> None:
    check_outcome("salesforce", payload)


standard_records = st.dictionaries(
    st.sampled_from(_names("forms")), crm_values, max_size=6
) | plausible_records("forms", "id", st.text(max_size=20) | st.integers(-(2**40), 2**40))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payload=st.fixed_dictionaries(
        {
            "type": st.just("lead.submitted"),
            "data": standard_records | st.lists(standard_records, max_size=4),
        },
        optional={"timestamp": st.sampled_from(["2026-11-28T10:00:00Z", "yesterday", "2026-11-28T10:00:00"])},
    )
    | json_values
)
def test_standard_any_payload_maps_or_is_refused_by_name(payload: Any) -> None:
    check_outcome("forms", payload)


def test_a_mapped_delivery_carries_only_the_fields_it_changes() -> None:
    payload = {"deliveryId": "d", "records": [{"Id": "00Q1", "Title": "CTO", "NumberOfEmployees": "1,200"}]}
    delivery = deliver("salesforce", orjson.dumps(payload))
    (change,) = delivery.changes
    assert change.fields.model_dump(exclude_unset=True) == {"title": "CTO", "employees": 1200}
    assert change.event_id is None  # no LastModifiedDate: applied by the delivery id alone


def test_a_nul_anywhere_in_the_payload_is_refused_by_its_place() -> None:
    """PostgreSQL cannot store a NUL: the delivery is refused before it reaches the writer."""
    payload = {"deliveryId": "d", "records": [{"Id": "00Q1", "FirstName": "A\u0000da"}]}
    with pytest.raises(PayloadError) as caught:
        deliver("salesforce", orjson.dumps(payload))
    assert [e.field for e in caught.value.errors] == ["body.records.0.FirstName"]


def test_refusals_name_the_crm_property_and_never_echo_its_value() -> None:
    payload = {
        "deliveryId": "d",
        "records": [
            {"Id": "00Q1", "Email": "not-an-email-address", "NumberOfEmployees": "12.5"},
            {"Email": "ok@example.org"},
        ],
    }
    with pytest.raises(PayloadError) as caught:
        deliver("salesforce", orjson.dumps(payload))
    fields = sorted(e.field for e in caught.value.errors)
    assert fields == ["body.records.0.Email", "body.records.0.NumberOfEmployees", "body.records.1.Id"]
    assert "not-an-email-address" not in str([e.model_dump() for e in caught.value.errors])


@pytest.mark.parametrize(
    ("to", "value", "expected"),
    [
        ("employees", "2,500", 2500), ("employees", 40.0, 40), ("employees", "", None),
        ("annual_revenue", "1,000.50", 1000.5), ("consent_marketing", "Yes", True),
        ("consent_marketing", 0, False),
        ("tags", "a; b;;c", ["a", "b", "c"]), ("tags", ["x", 1], ["x", "1"]), ("tags", "", []),
        ("first_name", 12, "12"), ("first_name", True, "true"), ("attributes.score", 7, 7),
    ],
)  # fmt: skip
def test_coercion_by_the_target_field(to: str, value: Any, expected: Any) -> None:
    assert convert(FieldRule(to=to), value) == expected


@pytest.mark.parametrize(
    ("to", "value"),
    [("employees", "12.5"), ("employees", "lots"), ("employees", True), ("annual_revenue", "1_000"),
     ("annual_revenue", "inf"), ("consent_marketing", "maybe"), ("first_name", {"a": 1}),
     ("attributes.x", [1])],
)  # fmt: skip
def test_values_that_do_not_convert_are_refused(to: str, value: Any) -> None:
    with pytest.raises(CoercionError):
        convert(FieldRule(to=to), value)


def test_values_map_translates_and_leaves_unlisted_values_alone() -> None:
    rule = FieldRule(to="stage", values={"marketingqualifiedlead": "mql", "other": None})
    assert convert(rule, "marketingqualifiedlead") == "mql"
    assert convert(rule, "other") is None
    leave = convert(rule, "customer")
    assert leave not in ("mql", None)  # the field is left as it is


def test_hubspot_signature_covers_method_uri_body_and_timestamp() -> None:
    body, stamp, now = b'[{"a":1}]', str(int(time.time() * 1000)), time.time()
    good = {
        "x-hubspot-signature-v3": sign_hubspot("k", "POST", URL, body, stamp),
        "x-hubspot-request-timestamp": stamp,
    }
    verify_hubspot("k", "POST", URL, body, good, now=now, tolerance=300)
    for method, uri, sent in [("PUT", URL, body), ("POST", URL + "?x=1", body), ("POST", URL, body + b" ")]:
        with pytest.raises(SignatureError, match="does not match"):
            verify_hubspot("k", method, uri, sent, good, now=now, tolerance=300)
    with pytest.raises(SignatureError, match="older than 300 s"):
        verify_hubspot("k", "POST", URL, body, good, now=now + 301, tolerance=300)
    # HubSpot signs the URI with some escapes decoded
    assert hubspot_uri("https://h/x%3Fa%3Db%40c%2c") == "https://h/x?a%3Db@c,"


def test_sources_file_problems_name_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.yaml"
    path.write_text(
        "sources:\n  crm:\n    adapter: hubspot\n    secret_env: MISSING\n    fields:\n      e: emial\n"
    )
    with pytest.raises(DocumentError) as caught:
        load_webhook_sources(path, {})
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (6, "sources.crm.fields.e.to")
    assert "'emial' is not a lead field" in problem.message
    path.write_text(
        "sources:\n  crm:\n    adapter: standard\n    secret_env: FORMS\n    fields: {email: email}\n"
    )
    with pytest.raises(DocumentError) as unset:
        load_webhook_sources(path, {})
    assert "FORMS is unset" in str(unset.value)
    assert f"{path}:4:" in str(unset.value)
    with pytest.raises(DocumentError, match="not a Standard Webhooks secret"):
        load_webhook_sources(path, {"FORMS": "plain text!"})
    loaded = load_webhook_sources(path, {"FORMS": SECRETS["LEADROUTER_FORMS_WEBHOOK_SECRET"]})
    assert loaded["crm"] == WebhookSource("crm", SourceConfig.model_validate(
        {"adapter": "standard", "secret_env": "FORMS", "fields": {"email": "email"}}
    ), SECRETS["LEADROUTER_FORMS_WEBHOOK_SECRET"])  # fmt: skip
