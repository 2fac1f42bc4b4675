"""The employee's consent page, through HTTP."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import select

from scimserver.audit.models import AuditEntry
from scimserver.consent.records import consent_history
from scimserver.db import get_database
from scimserver.sso.session import ISSUER_KEY, METHOD_KEY, SIGNED_IN_AT_KEY, USER_KEY
from tests.conftest import ScimClient
from tests.sso.upstream.conftest import OFFERS, configure_sso, create_user

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CONSENT_ID = re.compile(r'name="consent_id" value="([^"]+)"')


@pytest.fixture
def app(app: Flask, tmp_path: Path) -> Flask:
    """The application offering the consents of :data:`OFFERS`."""
    configure_sso(app, tmp_path, OFFERS)
    return app


@pytest.fixture
def employee(client: FlaskClient, scim: ScimClient) -> str:
    """A provisioned User, signed in through the session contract of the hub."""
    user_id = create_user(scim, "bjensen")
    sign_in_as(client, user_id)
    return user_id


def sign_in_as(client: FlaskClient, user_id: str) -> None:
    with client.session_transaction() as session:
        session[USER_KEY] = user_id
        session[ISSUER_KEY] = "https://idp.corp.test/metadata"
        session[METHOD_KEY] = "saml"
        session[SIGNED_IN_AT_KEY] = int(time.time())


def page(client: FlaskClient, **query: str) -> tuple[str, str]:
    """The page's HTML and its CSRF token."""
    response = client.get("/account/consent", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    token = CSRF.search(html)
    assert token is not None
    return html, token.group(1)


def grant(client: FlaskClient, token: str, **extra: str) -> Any:
    form = {"csrf_token": token, "purpose": "eap_referral", "recipient": "eap", **extra}
    return client.post("/account/consent/grant", data=form)


def test_a_visitor_is_sent_to_sign_in_and_back(client: FlaskClient) -> None:
    response = client.get("/account/consent?purpose=eap_referral&recipient=eap")

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/sso/login"
    assert parse_qs(location.query)["next"] == [
        "/account/consent?purpose=eap_referral&recipient=eap"
    ]


def test_the_page_says_what_is_shared_with_whom_and_why(
    client: FlaskClient, employee: str
) -> None:
    html, _token = page(client)

    assert "Referral to the employee assistance programme" in html
    assert "So that the EAP can contact you" in html
    assert "Shared with:</strong> eap" in html
    assert "2026-12" in html
    assert re.search(
        r"<td>phoneNumbers</td><td>restricted</td>\s*"
        r"<td>Contact by phone where the employee asked for it.</td>",
        html,
    )
    assert "all of EnterpriseUser" in html
    assert "You have not agreed." in html
    headers = client.get("/account/consent").headers
    assert headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_grant_without_the_csrf_token_is_refused(
    client: FlaskClient, app: Flask, employee: str
) -> None:
    response = grant(client, "forged")

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    with get_database(app).sessions() as session:
        assert consent_history(session, employee) == []


def test_grant_records_the_consent_and_goes_on_to_next(
    client: FlaskClient, app: Flask, employee: str
) -> None:
    _html, token = page(client, purpose="eap_referral", recipient="eap")

    response = grant(client, token, next="/sso/launch/eap")

    assert response.status_code == 303
    assert response.headers["Location"] == "/sso/launch/eap"
    with get_database(app).sessions() as session:
        [record] = consent_history(session, employee)
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "consent.grant")
        ).one()
    assert (record.purpose, record.recipient) == ("eap_referral", "eap")
    assert record.capture_method == "consent_page"
    assert record.notice_version == "2026-12"
    assert "urn:ietf:params:scim:schemas:core:2.0:User:phoneNumbers" in (
        record.data_categories
    )
    assert entry.actor == f"employee:{employee}"
    html, _token = page(client, next="/sso/launch/eap")
    assert "You agreed on" in html
    assert '<a href="/sso/launch/eap" class="continue">Continue</a>' in html


def test_grant_refuses_a_next_off_this_server(
    client: FlaskClient, app: Flask, employee: str
) -> None:
    _html, token = page(client)

    response = grant(client, token, next="https://evil.test/")

    assert response.status_code == 400
    with get_database(app).sessions() as session:
        assert consent_history(session, employee) == []


def test_only_offered_consents_can_be_granted(
    client: FlaskClient, app: Flask, employee: str
) -> None:
    _html, token = page(client)

    response = grant(client, token, recipient="data-broker")

    assert response.status_code == 404
    with get_database(app).sessions() as session:
        assert consent_history(session, employee) == []


def test_withdraw_takes_effect_and_stays_in_the_history(
    client: FlaskClient, app: Flask, employee: str
) -> None:
    _html, token = page(client)
    grant(client, token)
    html, token = page(client)
    consent_id = CONSENT_ID.search(html)
    assert consent_id is not None

    response = client.post(
        "/account/consent/withdraw",
        data={"csrf_token": token, "consent_id": consent_id.group(1)},
    )

    assert response.status_code == 303
    html, _token = page(client)
    assert "You have not agreed." in html
    assert "withdrawn" in html
    with get_database(app).sessions() as session:
        [record] = consent_history(session, employee)
    assert record.withdrawn_by == "employee"


def test_another_persons_consent_cannot_be_withdrawn_or_downloaded(
    client: FlaskClient, app: Flask, scim: ScimClient, employee: str
) -> None:
    _html, token = page(client)
    grant(client, token)
    html, _token = page(client)
    consent_id = CONSENT_ID.search(html)
    assert consent_id is not None

    other = app.test_client()
    sign_in_as(other, create_user(scim, "someone-else"))
    _html, other_token = page(other)
    withdraw = other.post(
        "/account/consent/withdraw",
        data={"csrf_token": other_token, "consent_id": consent_id.group(1)},
    )
    download = other.get(f"/account/consent/receipts/{consent_id.group(1)}")

    assert withdraw.status_code == 404
    assert download.status_code == 404
    assert "You agreed on" in page(client)[0]


def test_each_receipt_downloads_signed(
    client: FlaskClient, app: Flask, employee: str
) -> None:
    _html, token = page(client)
    grant(client, token)
    html, _token = page(client)
    [link] = re.findall(r'href="(/account/consent/receipts/[^"]+)"', html)

    response = client.get(link)

    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    body = json.loads(response.data)
    keys = KeySet.import_key_set(client.get("/api/v1/receipts/jwks.json").get_json())
    verified = jws.deserialize_compact(body["jws"], keys, algorithms=["ES256"])
    receipt = json.loads(verified.payload)
    assert receipt["piiPrincipalId"] == employee
    assert receipt["collectionMethod"] == "consent_page"
    assert receipt["noticeVersion"] == "2026-12"


def test_a_changed_notice_asks_to_agree_again(
    client: FlaskClient, app: Flask, employee: str, tmp_path: Path
) -> None:
    _html, token = page(client)
    grant(client, token)

    configure_sso(app, tmp_path, OFFERS.replace('"2026-12"', '"2027-01"'))
    html, token = page(client)

    assert "The notice has changed since you agreed" in html
    assert grant(client, token).status_code == 303
    with get_database(app).sessions() as session:
        history = consent_history(session, employee)
    assert [r.notice_version for r in history] == ["2027-01", "2026-12"]
    assert history[1].withdrawal_reason == "superseded"


def test_narrowed_to_an_unknown_offer_is_a_404_page(
    client: FlaskClient, employee: str
) -> None:
    response = client.get("/account/consent?purpose=marketing&recipient=eap")

    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_a_user_deactivated_since_signing_in_is_signed_out(
    client: FlaskClient, scim: ScimClient, employee: str
) -> None:
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    assert scim.patch(f"/Users/{employee}", patch).status_code == 200

    response = client.get("/account/consent")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/sso/login"
    with client.session_transaction() as session:
        assert USER_KEY not in session
