"""CRM webhooks end to end through the app, on SQLite and PostgreSQL: signatures, mapping,
records waiting for an e-mail, all-or-nothing deliveries and idempotent redelivery."""

from __future__ import annotations

import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from standardwebhooks import Webhook

from services.db.tables import crm_contacts, lead_events, leads, webhook_deliveries
from services.settings import Settings
from services.webhooks.signatures import sign_hubspot, sign_salesforce
from tests.support.app import app_client, runtime_of

ROOT = Path(__file__).resolve().parents[2]
HUBSPOT_SECRET = "hubspot-client-secret"
SALESFORCE_SECRET = "salesforce-shared-secret"
FORMS_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def settings(db_url: str, agreement_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The app with the example webhook sources file and their secrets in the environment."""
    path = tmp_path / "webhooks.yaml"
    shutil.copy(ROOT / "deploy/webhooks/example.yaml", path)
    monkeypatch.setenv("LEADROUTER_HUBSPOT_CLIENT_SECRET", HUBSPOT_SECRET)
    monkeypatch.setenv("LEADROUTER_SALESFORCE_WEBHOOK_SECRET", SALESFORCE_SECRET)
    monkeypatch.setenv("LEADROUTER_FORMS_WEBHOOK_SECRET", FORMS_SECRET)
    return Settings(
        database_url=db_url, agreement_path=agreement_file, kafka_bootstrap_servers=None,
        run_clock_worker=False, webhooks_path=path,
    )  # fmt: skip


_event_ids = iter(range(1_000_000, 2_000_000))


def hubspot_event(contact: int, kind: str = "contact.propertyChange", **extra: Any) -> dict[str, Any]:
    """One HubSpot webhook event (the shape of a subscription batch's items)."""
    return {
        "eventId": next(_event_ids), "subscriptionId": 7, "portalId": 62515, "appId": 1160452,
        "occurredAt": int(time.time() * 1000), "subscriptionType": kind, "attemptNumber": 0,
        "objectId": contact, "changeSource": "CRM", **extra,
    }  # fmt: skip


def prop(contact: int, name: str, value: Any) -> dict[str, Any]:
    """A HubSpot property change event."""
    return hubspot_event(contact, propertyName=name, propertyValue=value)


async def post_hubspot(
    client: httpx.AsyncClient, events: list[dict[str, Any]], *, secret: str = HUBSPOT_SECRET, age: float = 0
) -> httpx.Response:
    """POST a batch signed as HubSpot signs it (v3: method + URI + body + timestamp in ms)."""
    body = orjson.dumps(events)
    timestamp = str(int((time.time() - age) * 1000))
    url = "http://leadrouter.test/v1/webhooks/hubspot"
    headers = {
        "content-type": "application/json",
        "x-hubspot-signature-v3": sign_hubspot(secret, "POST", url, body, timestamp),
        "x-hubspot-request-timestamp": timestamp,
    }
    return await client.post(url, content=body, headers=headers)


async def post_salesforce(client: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    """POST a Salesforce callout signed with the shared secret."""
    body = orjson.dumps(payload)
    timestamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-leadrouter-timestamp": timestamp,
        "x-leadrouter-signature": sign_salesforce(SALESFORCE_SECRET, body, timestamp),
    }
    return await client.post("/v1/webhooks/salesforce", content=body, headers=headers)


async def post_standard(
    client: httpx.AsyncClient, payload: dict[str, Any], webhook_id: str
) -> httpx.Response:
    """POST a Standard Webhooks message signed with the package's own signer."""
    body = orjson.dumps(payload).decode()
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(FORMS_SECRET).sign(webhook_id, now, body),
    }
    return await client.post("/v1/webhooks/forms", content=body, headers=headers)


async def counts(app: Any) -> dict[str, int]:
    """Rows in the tables a delivery writes."""
    async with runtime_of(app).uow.read() as conn:
        return {
            table.name: int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
            for table in (leads, lead_events, webhook_deliveries, crm_contacts)
        }


async def rejections(client: httpx.AsyncClient, source: str, reason: str) -> float:
    """``leadrouter_webhook_rejections_total`` of a source and reason, from /metrics."""
    series = f'leadrouter_webhook_rejections_total{{reason="{reason}",source="{source}"}} '
    exposition = (await client.get("/metrics")).text
    return float(next(line for line in exposition.splitlines() if line.startswith(series)).split()[1])


async def lead_of(app: Any, source: str, external_id: str) -> dict[str, Any] | None:
    """The stored lead of a CRM record."""
    async with runtime_of(app).uow.read() as conn:
        query = sa.select(leads).where(leads.c.source == source, leads.c.external_id == external_id)
        row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def test_hubspot_batch_creates_a_mapped_lead_and_a_redelivery_changes_nothing(
    settings: Settings,
) -> None:
    contact = 9001
    events = [
        hubspot_event(contact, "contact.creation"),
        prop(contact, "email", "Grace@Example-Corp.com"),
        prop(contact, "firstname", "Grace"),
        prop(contact, "numberofemployees", "2,500"),
        prop(contact, "annualrevenue", "50000000.00"),
        prop(contact, "industry", "software"),
        prop(contact, "jobtitle", "VP Operations"),
        prop(contact, "lifecyclestage", "marketingqualifiedlead"),
        hubspot_event(contact, "contact.deletion"),  # not lead data: skipped
    ]
    async with app_client(settings) as (client, app):
        reply = await post_hubspot(client, events)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["source"] == "hubspot"
        assert [c["external_id"] for c in body["contacts"]] == [str(contact)] * 8
        assert body["contacts"][0]["outcome"] == "pending"  # the creation event, before the e-mail
        assert body["contacts"][1]["outcome"] == "created"
        assert {c["outcome"] for c in body["contacts"][2:]} == {"updated"}
        last = body["contacts"][-1]
        assert last["stage"] == "mql"
        assert last["queue"] is not None
        lead = await lead_of(app, "hubspot", str(contact))
        assert lead is not None
        assert lead["email"] == "grace@example-corp.com"
        assert lead["profile"]["first_name"] == "Grace"
        assert lead["profile"]["employees"] == 2500
        assert lead["profile"]["annual_revenue"] == 50_000_000.0
        assert str(lead["id"]) == last["lead_id"]
        before = await counts(app)
        assert before["crm_contacts"] == 0  # the e-mail arrived in the same batch
        # HubSpot retries a batch with attemptNumber raised: a different body, the same events
        again = await post_hubspot(client, [{**e, "attemptNumber": 1} for e in events])
        assert again.status_code == 200, again.text
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json()["contacts"] == body["contacts"]
        # the same events in another batch: each is applied once, by its eventId
        regrouped = await post_hubspot(client, events[4:6])
        assert [c["outcome"] for c in regrouped.json()["contacts"]] == ["duplicate", "duplicate"]
        assert await counts(app) == {**before, "webhook_deliveries": before["webhook_deliveries"] + 1}
        detail = await client.get(f"/v1/leads/{lead['id']}")
        assert detail.status_code == 200


async def test_a_record_without_email_waits_until_the_email_arrives(settings: Settings) -> None:
    contact = 9002
    async with app_client(settings) as (client, app):
        first = await post_hubspot(
            client, [hubspot_event(contact, "contact.creation"), prop(contact, "firstname", "Ada"),
                     prop(contact, "numberofemployees", "120")],
        )  # fmt: skip
        assert first.status_code == 200, first.text
        assert [c["outcome"] for c in first.json()["contacts"]] == ["pending"] * 3
        assert all(c["lead_id"] is None for c in first.json()["contacts"])
        assert await lead_of(app, "hubspot", str(contact)) is None
        assert (await counts(app))["crm_contacts"] == 1
        second = await post_hubspot(client, [prop(contact, "lastname", "Lovelace")])
        assert second.json()["contacts"][0]["outcome"] == "pending"
        third = await post_hubspot(client, [prop(contact, "email", "ada@analytical.example")])
        assert third.status_code == 200, third.text
        assert third.json()["contacts"][0]["outcome"] == "created"
        lead = await lead_of(app, "hubspot", str(contact))
        assert lead is not None
        profile = lead["profile"]
        assert (profile["first_name"], profile["last_name"], profile["employees"]) == ("Ada", "Lovelace", 120)
        assert (await counts(app))["crm_contacts"] == 0
        # a later change without an e-mail updates the lead, which keeps its e-mail
        fourth = await post_hubspot(client, [prop(contact, "email", ""), prop(contact, "jobtitle", "CTO")])
        assert [c["outcome"] for c in fourth.json()["contacts"]] == ["updated", "updated"]
        lead = await lead_of(app, "hubspot", str(contact))
        assert lead is not None
        assert lead["email"] == "ada@analytical.example"
        assert lead["profile"]["title"] == "CTO"


@pytest.mark.parametrize(
    ("case", "secret", "age", "reason"),
    [
        ("wrong secret", "not-the-secret", 0, "does not match"),
        ("stale timestamp", HUBSPOT_SECRET, 301, "older than 300 s"),
        ("future timestamp", HUBSPOT_SECRET, -400, "in the future"),
    ],
)
async def test_a_bad_hubspot_signature_is_401_and_stores_nothing(
    settings: Settings, capfd: pytest.CaptureFixture[str], case: str, secret: str, age: float, reason: str
) -> None:
    async with app_client(settings) as (client, app):
        before = await counts(app)
        rejected = await rejections(client, "hubspot", "signature")
        reply = await post_hubspot(
            client, [prop(9003, "email", "secret.person@example.org")], secret=secret, age=age
        )
        assert reply.status_code == 401, case
        assert reply.headers["content-type"].startswith("application/problem+json")
        problem = reply.json()
        assert problem["type"].endswith("/invalid-signature")
        assert reason in problem["detail"]
        assert await counts(app) == before
        assert await rejections(client, "hubspot", "signature") == rejected + 1
    logged = capfd.readouterr().err
    assert "webhook.signature_rejected" in logged
    assert "secret.person" not in logged  # the body is never logged


async def test_missing_signature_headers_and_a_tampered_body_are_401(settings: Settings) -> None:
    async with app_client(settings) as (client, _app):
        body = orjson.dumps([prop(9004, "email", "x@example.org")])
        bare = await client.post(
            "/v1/webhooks/hubspot", content=body, headers={"content-type": "application/json"}
        )
        assert bare.status_code == 401
        assert "X-HubSpot-Request-Timestamp" in bare.json()["detail"]
        timestamp = str(int(time.time() * 1000))
        url = "http://leadrouter.test/v1/webhooks/hubspot"
        signature = sign_hubspot(HUBSPOT_SECRET, "POST", url, body, timestamp)
        tampered = body.replace(b"x@example", b"y@example")
        headers = {
            "content-type": "application/json", "x-hubspot-signature-v3": signature,
            "x-hubspot-request-timestamp": timestamp,
        }  # fmt: skip
        reply = await client.post(url, content=tampered, headers=headers)
        assert reply.status_code == 401
        salesforce = await client.post(
            "/v1/webhooks/salesforce", content=b"{}",
            headers={"content-type": "application/json", "x-leadrouter-timestamp": str(int(time.time())),
                     "x-leadrouter-signature": "sha256=00"},
        )  # fmt: skip
        assert salesforce.status_code == 401
        forms = await client.post(
            "/v1/webhooks/forms", content=b"{}",
            headers={"content-type": "application/json", "webhook-id": "msg_1",
                     "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1"},
        )  # fmt: skip
        assert forms.status_code == 401
        assert "malformed" in forms.json()["detail"]
        unknown = await client.post(
            "/v1/webhooks/pipedrive", content=body, headers={"content-type": "application/json"}
        )
        assert unknown.status_code == 404
        assert unknown.json()["type"].endswith("/unknown-webhook-source")


async def test_salesforce_delivery_is_applied_whole_or_not_at_all(settings: Settings) -> None:
    good = {
        "attributes": {"type": "Lead"}, "Id": "00Q5e000001AAAA", "Email": "lin@example-corp.com",
        "FirstName": "Lin", "Company": "Example Corp", "NumberOfEmployees": 40, "CountryCode": "de",
        "HasOptedOutOfEmail": False, "LastModifiedDate": "2026-11-28T10:00:00.000+0000",
    }  # fmt: skip
    bad = {**good, "Id": "00Q5e000001BBBB", "Email": "max@example-corp.com", "NumberOfEmployees": "lots"}
    async with app_client(settings) as (client, app):
        before = await counts(app)
        refused = await post_salesforce(client, {"deliveryId": "sf-1", "records": [good, bad]})
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["type"].endswith("/invalid-webhook-payload")
        assert [e["field"] for e in problem["errors"]] == ["body.records.1.NumberOfEmployees"]
        assert await rejections(client, "salesforce", "payload") >= 1
        assert "lots" not in refused.text  # values are not echoed
        assert await counts(app) == before  # not even the good record
        accepted = await post_salesforce(client, {"deliveryId": "sf-2", "records": [good]})
        assert accepted.status_code == 200, accepted.text
        lead = await lead_of(app, "salesforce", "00Q5e000001AAAA")
        assert lead is not None
        assert lead["profile"]["country"] == "DE"
        assert lead["profile"]["consent_marketing"] is True
        update = {"attributes": {"type": "Lead"}, "Id": "00Q5e000001AAAA", "Title": "Head of IT",
                  "LastModifiedDate": "2026-11-28T11:00:00.000+0000"}  # fmt: skip
        changed = await post_salesforce(client, {"deliveryId": "sf-3", "records": [update]})
        assert changed.json()["contacts"][0]["outcome"] == "updated"
        lead = await lead_of(app, "salesforce", "00Q5e000001AAAA")
        assert lead is not None
        assert lead["email"] == "lin@example-corp.com"
        assert lead["profile"]["title"] == "Head of IT"
        reused = await post_salesforce(
            client, {"deliveryId": "sf-3", "records": [{**update, "Title": "CEO"}]}
        )
        assert reused.status_code == 409


async def test_standard_webhooks_delivery_is_idempotent_by_webhook_id(settings: Settings) -> None:
    payload: dict[str, Any] = {
        "type": "lead.submitted", "timestamp": "2026-11-28T10:00:00Z",
        "data": {"id": "form-77", "email": "kim@example-corp.com", "interests": "crm, routing",
                 "employees": "2500", "campaign_name": "winter"},
    }  # fmt: skip
    webhook_id = f"msg_{uuid.uuid4().hex}"
    async with app_client(settings) as (client, app):
        first = await post_standard(client, payload, webhook_id)
        assert first.status_code == 200, first.text
        assert first.json()["contacts"][0]["outcome"] == "created"
        lead = await lead_of(app, "forms", "form-77")
        assert lead is not None
        assert lead["profile"]["product_interest"] == ["crm", "routing"]
        assert lead["profile"]["attributes"] == {"campaign_name": "winter"}  # unmapped: attributes
        before = await counts(app)
        again = await post_standard(client, payload, webhook_id)
        assert again.status_code == 200
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json() == first.json()
        assert await counts(app) == before
        changed = {**payload, "data": {**payload["data"], "employees": "9"}}
        assert (await post_standard(client, changed, webhook_id)).status_code == 409
        assert (await post_standard(client, changed, f"msg_{uuid.uuid4().hex}")).status_code == 200


async def test_webhooks_authenticate_by_signature_not_by_api_key(settings: Settings) -> None:
    """With API keys required on /v1, a signed delivery needs no key, and a key is no signature."""
    keyed = settings.model_copy(update={"api_keys": [SecretStr("lr_static_key_for_tests")]})
    payload = {"type": "lead.submitted", "data": {"id": "form-91", "email": "noor@example-corp.com"}}
    async with app_client(keyed) as (client, _app):
        assert (await client.get("/v1/reps")).status_code == 401  # keys are on
        signed = await post_standard(client, payload, f"msg_{uuid.uuid4().hex}")
        assert signed.status_code == 200, signed.text
        unsigned = await client.post(
            "/v1/webhooks/forms", json=payload, headers={"Authorization": "Bearer lr_static_key_for_tests"}
        )
        assert unsigned.status_code == 401
        assert unsigned.json()["type"].endswith("/invalid-signature")
