"""End to end: an LMS completion becomes a consented referral at a real EAP."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks import Webhook

from scimserver.connectors.models import CANCELLED
from tests.connectors.outbox_support import (
    cli,
    drain,
    hris,
    make_hub,
    outbox_rows,
    settle,
)
from tests.events.support import (
    CALLBACK_SECRET,
    GRANT,
    Eap,
    consent_admin,
    eap,
    grant,
    hub,
    lms,
    lms_pseudonym,
    new_employee,
    referrals,
    xapi_completion,
)

__all__ = ["eap", "hub", "make_hub"]


def test_completion_with_consent_reaches_the_eap_with_the_minimal_payload(
    hub: Flask, eap: Eap
) -> None:
    user_id = new_employee(hris(hub), "bjensen")
    consent_token = grant(consent_admin(hub), user_id)
    statement = xapi_completion(lms_pseudonym(hub, "bjensen"))

    response = lms(hub).post("/learning-events", statement)
    drain(hub)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["results"][0]["referrals"] == 1
    assert eap.refused == []
    [(headers, payload)] = eap.received
    [referral] = referrals(hub)
    assert set(payload) == {"subject", "consentToken", "moduleId", "reason"}
    assert payload["subject"].startswith("pid-") and user_id not in json.dumps(payload)
    assert payload["subject"] != statement["actor"]["account"]["name"]  # EAP's own
    assert payload["consentToken"] == consent_token
    assert (payload["moduleId"], payload["reason"]) == (
        "wellness-101",
        "voluntary_followup",
    )
    assert headers["Webhook-Id"] == f"referral_{referral.id}"
    assert referral.state == "sent" and referral.rules_version == "2026-12-01"
    _assert_transitions_audited(
        hub, referral.id, ["created", "consent_checked", "sent"]
    )


def test_completion_without_consent_sends_nothing(hub: Flask, eap: Eap) -> None:
    new_employee(hris(hub), "bjensen")

    response = lms(hub).post("/learning-events", xapi_completion("bjensen"))
    drain(hub)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stored"] == 1
    assert referrals(hub) == [] and eap.received == []


def test_withdrawal_before_sending_cancels_the_referral(hub: Flask, eap: Eap) -> None:
    user_id = new_employee(hris(hub), "bjensen")
    portal = consent_admin(hub)
    consent_token = grant(portal, user_id)
    lms(hub).post("/learning-events", xapi_completion("bjensen"))

    withdrawn = portal.post(f"/consents/{consent_token}/withdraw", {})
    drain(hub)

    assert withdrawn.status_code == 200
    [referral] = referrals(hub)
    assert referral.state == "cancelled"
    assert eap.received == []
    assert [row.status for row in outbox_rows(hub)] == [CANCELLED]


def test_consent_ended_at_send_time_cancels_instead_of_sending(
    hub: Flask, eap: Eap
) -> None:
    """The connector checks again: here the consent expired after creation."""
    user_id = new_employee(hris(hub), "bjensen")
    response = consent_admin(hub).post(
        f"/users/{user_id}/consents", {**GRANT, "expiresAt": _later(2)}
    )
    assert response.status_code == 201, response.get_json()
    lms(hub).post("/learning-events", xapi_completion("bjensen"))
    assert [r.state for r in referrals(hub)] == ["created"]

    _wait_until(_later_moment(2))
    drain(hub)

    assert eap.received == []
    assert [r.state for r in referrals(hub)] == ["cancelled"]


def test_a_failing_eap_loses_no_referral_and_duplicates_make_one(
    hub: Flask, eap: Eap
) -> None:
    user_id = new_employee(hris(hub), "bjensen")
    grant(consent_admin(hub), user_id)
    statement = xapi_completion("bjensen")
    client = lms(hub)
    eap.script = [500, 503, 500]

    first = client.post("/learning-events", statement)
    again = client.post("/learning-events", [statement, statement])
    settle(hub)

    assert first.get_json()["stored"] == 1
    assert again.get_json()["duplicates"] == 2
    assert eap.failed == 3
    assert len(eap.received) == 1
    assert [r.state for r in referrals(hub)] == ["sent"]


def test_the_eap_reports_status_on_a_signed_callback(hub: Flask, eap: Eap) -> None:
    user_id = new_employee(hris(hub), "bjensen")
    grant(consent_admin(hub), user_id)
    lms(hub).post("/learning-events", xapi_completion("bjensen"))
    drain(hub)
    [referral] = referrals(hub)
    [(headers, _payload)] = eap.received
    delivered_as = headers["Webhook-Id"]  # the EAP's only name for the referral
    web = hub.test_client()

    acknowledged = _callback(web, delivered_as, "acknowledged", CALLBACK_SECRET)
    replayed = _callback(web, delivered_as, "acknowledged", CALLBACK_SECRET)
    unknown = _callback(web, "referral_nope", "acknowledged", CALLBACK_SECRET)
    forged = _callback(web, referral.id, "contact_made", "whsec_" + "A" * 44)
    backwards = _callback(web, referral.id, "acknowledged", CALLBACK_SECRET)
    contact = _callback(web, referral.id, "contact_made", CALLBACK_SECRET)
    late = _callback(web, referral.id, "declined", CALLBACK_SECRET)

    assert acknowledged.status_code == replayed.status_code == 200
    assert forged.status_code == 401 and unknown.status_code == 404
    assert backwards.status_code == 200  # Already acknowledged: a repeat.
    assert contact.get_json()["state"] == "contact_made"
    assert late.status_code == 409
    assert [r.state for r in referrals(hub)] == ["contact_made"]
    _assert_transitions_audited(
        hub,
        referral.id,
        ["created", "consent_checked", "sent", "acknowledged", "contact_made"],
    )


def test_an_employee_refers_themself(hub: Flask, eap: Eap) -> None:
    scim = hris(hub)
    user_id = new_employee(scim, "bjensen")
    other = new_employee(scim, "jsmith")
    portal = consent_admin(hub)
    grant(portal, user_id)

    created = portal.post("/referrals", {"userId": user_id})
    repeated = portal.post("/referrals", {"userId": user_id})
    refused = portal.post("/referrals", {"userId": other})
    drain(hub)

    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["origin"], body["reason"], body["state"]) == (
        "self",
        "self_referral",
        "created",
    )
    assert repeated.status_code == 200 and repeated.get_json()["id"] == body["id"]
    assert refused.status_code == 409
    assert "consent" in refused.get_json()["detail"]
    [(_headers, payload)] = eap.received
    assert payload["moduleId"] is None and payload["reason"] == "self_referral"
    assert portal.get(f"/referrals/{body['id']}").get_json()["state"] == "sent"


def _callback(web: FlaskClient, referral_id: str, status: str, secret: str) -> Any:
    """The EAP's status report, signed as Standard Webhooks prescribes."""
    body = json.dumps({"referralId": referral_id, "status": status})
    message_id = f"msg_{referral_id}_{status}"
    moment = datetime.now(UTC)
    return web.post(
        "/api/v1/referrals/callbacks/eap",
        data=body,
        content_type="application/json",
        headers={
            "webhook-id": message_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, moment, body),
        },
    )


def _assert_transitions_audited(
    app: Flask, referral_id: str, states: list[str]
) -> None:
    exported = cli(app, "audit", "export").stdout
    entries = [json.loads(line) for line in exported.splitlines()]
    actions = [
        e["action"].removeprefix("referral.")
        for e in entries
        if e.get("resource_id") == referral_id
    ]
    assert actions == states
    assert "audit log intact" in cli(app, "audit", "verify").stdout


def _later(seconds: int) -> str:
    return _later_moment(seconds).isoformat().replace("+00:00", "Z")


def _later_moment(seconds: int) -> datetime:
    now = datetime.now(UTC).replace(microsecond=0)
    return now + timedelta(seconds=seconds)


def _wait_until(moment: datetime) -> None:
    while datetime.now(UTC) <= moment:
        time.sleep(0.1)
