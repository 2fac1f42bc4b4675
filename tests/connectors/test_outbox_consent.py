"""Connectors that need consent: only consenting Users, and removal on withdrawal."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from pytest_httpserver import HTTPServer

from tests.conftest import make_token
from tests.connectors.outbox_support import (
    HOOK_PATH,
    MakeHub,
    Receiver,
    cli,
    drain,
    hris,
    make_hub,
    new_user,
    outbox_rows,
    receiver,
    set_title,
    settle,
    webhook_toml,
)

__all__ = ["make_hub", "receiver"]

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
EAP_CONNECTOR = """
consent = { purpose = "eap_referral", recipient = "eap-vendor" }
on_consent_withdrawn = "deprovision"
"""
EAP_POLICY = f"""
[connectors.policy]
read.classifications = ["public", "internal"]
read.attributes = ["{CORE}:phoneNumbers"]
purposes = ["eap_referral"]
recipient = "eap-vendor"
"""
GRANT = {
    "purpose": "eap_referral",
    "recipient": "eap-vendor",
    "dataCategories": [f"{CORE}:phoneNumbers"],
    "noticeVersion": "2026-11",
    "captureMethod": "enrolment_flow",
}


def _consents(app: Flask) -> Any:
    token = make_token(app, "consent-desk", ["consent:read", "consent:write"])
    client = app.test_client()

    def call(path: str, body: Any = None) -> Any:
        response = client.post(
            "/api/v1" + path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    return call


def _eap_hub(make_hub: MakeHub, httpserver: HTTPServer) -> Flask:
    url = httpserver.url_for(HOOK_PATH)
    return make_hub(
        webhook_toml(url, name="eap", extra=EAP_CONNECTOR, policy=EAP_POLICY)
    )


def test_only_users_with_consent_are_delivered(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = _eap_hub(make_hub, httpserver)
    scim, consent = hris(app), _consents(app)
    phone = [{"value": "+1 555 0100", "type": "work"}]
    alice = new_user(scim, "alice", phoneNumbers=phone)
    bob = new_user(scim, "bob", phoneNumbers=phone)
    set_title(scim, bob, "No consent given")

    consent(f"/users/{alice}/consents", GRANT)
    set_title(scim, alice, "Consented")
    settle(app)

    assert [e["subject"] for e in receiver.events()] == [alice, alice]
    granted, updated = receiver.events()
    assert granted["type"] == "org.scimserver.user.consent_granted"
    assert granted["data"]["resource"]["phoneNumbers"][0]["value"] == "+1 555 0100"
    assert updated["data"]["resource"]["title"] == "Consented"
    assert bob not in str(receiver.events())


def test_withdrawal_cancels_pending_deliveries_and_deprovisions(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = _eap_hub(make_hub, httpserver)
    scim, consent = hris(app), _consents(app)
    alice = new_user(scim, "alice")
    record = consent(f"/users/{alice}/consents", GRANT)
    settle(app)
    receiver.script = [(503, {"Retry-After": "30"})]
    set_title(scim, alice, "Stays in the hub")
    drain(app)  # the update waits 30 s for the receiver

    consent(f"/consents/{record['consentToken']}/withdraw")
    set_title(scim, alice, "After withdrawal")
    settle(app)

    statuses = [(row.event_type, row.status) for row in outbox_rows(app)]
    assert statuses == [
        ("consent_granted", "delivered"),
        ("updated", "cancelled"),
        ("consent_withdrawn", "delivered"),
    ]
    withdrawn = receiver.events()[-1]
    assert withdrawn["type"] == "org.scimserver.user.consent_withdrawn"
    assert withdrawn["data"]["resource"] is None
    assert withdrawn["data"]["detail"] == {
        "purpose": "eap_referral",
        "removal": "deprovision",
    }
    assert "Stays in the hub" not in str(receiver.events())


def test_a_policy_using_the_consent_gets_its_grant_and_withdrawal(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    url = httpserver.url_for(HOOK_PATH)
    app = make_hub(webhook_toml(url, name="lms", policy=EAP_POLICY))
    scim, consent = hris(app), _consents(app)
    alice = new_user(scim, "alice")

    record = consent(f"/users/{alice}/consents", GRANT)
    consent(f"/consents/{record['consentToken']}/withdraw")
    settle(app)

    assert [e["type"].rsplit(".", 1)[1] for e in receiver.events()] == [
        "created",
        "consent_granted",
        "consent_withdrawn",
    ]
    withdrawn = receiver.events()[-1]["data"]
    assert withdrawn["detail"]["removal"] == "remove_attributes"
    assert withdrawn["resource"]["userName"] == "alice"


def test_an_expired_consent_cancels_deliveries_and_sends_the_removal(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = _eap_hub(make_hub, httpserver)
    scim, consent = hris(app), _consents(app)
    alice = new_user(scim, "alice")
    expires = _expire_soon(consent, alice)
    set_title(scim, alice, "Queued before expiry")

    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.1)
    settle(app)

    statuses = [(row.event_type, row.status) for row in outbox_rows(app)]
    assert statuses == [
        ("consent_granted", "cancelled"),
        ("updated", "cancelled"),
        ("consent_withdrawn", "delivered"),
    ]
    [removal] = receiver.events()
    assert removal["data"]["resource"] is None
    assert removal["data"]["detail"]["reason"] == "consent_ended"


def _expire_soon(consent: Any, user_id: str) -> datetime:
    """Grant ``user_id`` the EAP consent until a few seconds from now."""
    expires = datetime.now(UTC) + timedelta(seconds=4)  # room on a loaded machine
    expiry = expires.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    consent(f"/users/{user_id}/consents", {**GRANT, "expiresAt": expiry})
    return expires


def test_the_sweep_removes_a_user_whose_consent_expired_unnoticed(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    """Nothing changes and nothing is pending: only the sweep notices the expiry."""
    app = _eap_hub(make_hub, httpserver)
    scim, consent = hris(app), _consents(app)
    alice, bob = new_user(scim, "alice"), new_user(scim, "bob")
    consent(f"/users/{bob}/consents", GRANT)
    expires = _expire_soon(consent, alice)
    settle(app)
    assert [event["type"] for event in receiver.events()] == [
        "org.scimserver.user.consent_granted"
    ] * 2

    assert "0 consent departures" in cli(app, "outbox", "sweep").stderr
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.1)
    swept = cli(app, "outbox", "sweep")
    delivered = cli(app, "worker", "--once")  # sweeps too, then delivers
    settle(app)

    assert "1 consent departures queued" in swept.stderr
    assert "0 consent departures queued" in delivered.stderr
    assert "1 deliveries attempted" in delivered.stderr
    removal = receiver.events()[-1]
    assert removal["type"] == "org.scimserver.user.consent_withdrawn"
    assert removal["data"]["detail"]["reason"] == "consent_ended"
    assert removal["data"]["detail"]["removal"] == "deprovision"
    assert removal["data"]["resource"] is None
    assert len(receiver.events()) == 3  # bob, whose consent holds, is not touched
