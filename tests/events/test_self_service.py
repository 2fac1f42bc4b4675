"""POST /account/referrals: the signed-in employee refers themself."""

from __future__ import annotations

import time

from flask import Flask
from flask.testing import FlaskClient

from scimserver.sso.session import (
    ISSUER_KEY,
    METHOD_KEY,
    SIGNED_IN_AT_KEY,
    USER_KEY,
)
from tests.connectors.outbox_support import drain, hris, make_hub
from tests.events.support import (
    Eap,
    consent_admin,
    eap,
    grant,
    hub,
    new_employee,
    referrals,
)

__all__ = ["eap", "hub", "make_hub"]

CSRF = "csrf-token-of-this-session"


def test_a_signed_in_employee_with_consent_refers_themself(
    hub: Flask, eap: Eap
) -> None:
    user_id = new_employee(hris(hub), "bjensen")
    grant(consent_admin(hub), user_id)
    browser = _signed_in(hub, user_id)

    response = browser.post(
        "/account/referrals", data={"csrf_token": CSRF, "next": "/account/consent"}
    )
    again = browser.post("/account/referrals", data={"csrf_token": CSRF})
    drain(hub)

    assert response.status_code == again.status_code == 303
    assert response.headers["Location"] == "/account/consent"
    [referral] = referrals(hub)
    assert (referral.origin, referral.reason, referral.state) == (
        "self",
        "self_referral",
        "sent",
    )
    [(_headers, payload)] = eap.received
    assert payload["reason"] == "self_referral"


def test_self_referral_needs_consent_csrf_and_a_session(hub: Flask) -> None:
    user_id = new_employee(hris(hub), "bjensen")
    browser = _signed_in(hub, user_id)

    no_consent = browser.post("/account/referrals", data={"csrf_token": CSRF})
    forged = browser.post("/account/referrals", data={"csrf_token": "guess"})
    anonymous = hub.test_client().post("/account/referrals", data={})

    assert no_consent.status_code == 409
    assert forged.status_code == 400
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"].startswith("/sso/login")
    assert referrals(hub) == []


def _signed_in(app: Flask, user_id: str) -> FlaskClient:
    browser = app.test_client()
    with browser.session_transaction() as session:
        session[USER_KEY] = user_id
        session[ISSUER_KEY] = "https://idp.corp.test/metadata"
        session[METHOD_KEY] = "saml"
        session[SIGNED_IN_AT_KEY] = int(time.time())
        session["csrf_token"] = CSRF
    return browser
