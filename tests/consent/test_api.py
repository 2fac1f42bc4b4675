"""The consent API over HTTP: grant, history, withdrawal, expiry, scopes, errors."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from scimserver.consent.models import Consent
from scimserver.consent.records import has_granted_consent
from scimserver.db import get_database
from tests.conftest import ScimClient, make_token
from tests.consent.conftest import (
    ENTERPRISE,
    GRANT,
    USER,
    Clock,
    ConsentClient,
    assert_error,
    create_user,
)

TOKEN_PATTERN = re.compile(r"ctk-[A-Za-z0-9_-]{32}")
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def granted_in_table(app: Flask, user_id: str, now: datetime) -> bool:
    with get_database(app).sessions() as session:
        return has_granted_consent(
            session, user_id, GRANT["purpose"], GRANT["recipient"], now
        )


def test_a_grant_returns_the_record_with_its_token(
    scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    user_id = create_user(scim)

    response = consents.grant(user_id)

    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    record = response.get_json()
    assert TOKEN_PATTERN.fullmatch(record.pop("consentToken"))
    assert record.pop("id")
    assert record == {
        "userId": user_id,
        "purpose": "eap_referral",
        "recipient": "eap-vendor",
        "dataCategories": GRANT["dataCategories"],
        "status": "granted",
        "noticeVersion": "2026-11",
        "grantedAt": "2027-03-01T09:00:00.000Z",
        "captureMethod": "enrolment_flow",
        "capturedBy": "enrolment",
    }


def test_every_grant_gets_its_own_token(
    scim: ScimClient, consents: ConsentClient
) -> None:
    user_id = create_user(scim)

    tokens = {
        consents.granted(user_id, recipient=f"vendor_{n}")["consentToken"]
        for n in range(5)
    }

    assert len(tokens) == 5


def test_withdrawal_takes_effect_at_once(
    app: Flask, scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    user_id = create_user(scim)
    token = consents.granted(user_id)["consentToken"]
    assert granted_in_table(app, user_id, T0)

    clock.now = T0 + timedelta(minutes=5)
    response = consents.withdraw(token)

    assert response.status_code == 200
    record = response.get_json()
    assert record["status"] == "withdrawn"
    assert record["withdrawnAt"] == "2027-03-01T09:05:00.000Z"
    assert (record["withdrawnBy"], record["withdrawalReason"]) == (
        "enrolment",
        "withdrawn",
    )
    assert not granted_in_table(app, user_id, clock.now)


def test_withdrawing_twice_keeps_the_first_withdrawal(
    scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    user_id = create_user(scim)
    token = consents.granted(user_id)["consentToken"]
    clock.now = T0 + timedelta(hours=1)
    first = consents.withdraw(token).get_json()

    clock.now = T0 + timedelta(hours=2)
    second = consents.withdraw(token)

    assert second.status_code == 200
    assert second.get_json() == first
    assert first["withdrawnAt"] == "2027-03-01T10:00:00.000Z"


def test_history_keeps_a_withdrawn_consent_beside_a_new_grant(
    app: Flask, scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    user_id = create_user(scim)
    first = consents.granted(user_id)
    clock.now = T0 + timedelta(days=1)
    consents.withdraw(first["consentToken"])
    clock.now = T0 + timedelta(days=2)
    second = consents.granted(user_id, noticeVersion="2027-02")

    response = consents.history(user_id)

    assert response.status_code == 200
    body = response.get_json()
    assert body["totalResults"] == 2
    newest, oldest = body["consents"]
    assert (newest["id"], newest["status"]) == (second["id"], "granted")
    assert (oldest["id"], oldest["status"]) == (first["id"], "withdrawn")
    assert oldest["withdrawnAt"] == "2027-03-02T09:00:00.000Z"
    assert granted_in_table(app, user_id, clock.now)


def test_a_new_grant_supersedes_the_consent_in_effect(
    scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    user_id = create_user(scim)
    old = consents.granted(user_id)
    consents.granted(user_id, purpose="learning_progress_sharing", recipient="lms")

    clock.now = T0 + timedelta(days=30)
    new = consents.granted(user_id, noticeVersion="2027-03")

    records = {r["id"]: r for r in consents.history(user_id).get_json()["consents"]}
    assert len(records) == 3
    assert records[new["id"]]["status"] == "granted"
    superseded = records[old["id"]]
    assert superseded["status"] == "withdrawn"
    assert superseded["withdrawalReason"] == "superseded"
    assert superseded["withdrawnAt"] == new["grantedAt"]
    others = [r for r in records.values() if r["purpose"] != "eap_referral"]
    assert [r["status"] for r in others] == ["granted"]


def test_a_consent_expires_at_its_end(
    app: Flask, scim: ScimClient, consents: ConsentClient, clock: Clock
) -> None:
    clock.now = T0
    user_id = create_user(scim)
    token = consents.granted(user_id, expiresAt="2027-03-31T23:59:59Z")["consentToken"]
    end = datetime(2027, 3, 31, 23, 59, 59, tzinfo=UTC)

    clock.now = end
    expired = consents.history(user_id).get_json()["consents"][0]

    assert expired["status"] == "expired"
    assert expired["expiresAt"] == "2027-03-31T23:59:59.000Z"
    assert granted_in_table(app, user_id, end - timedelta(seconds=1))
    assert not granted_in_table(app, user_id, end)
    unchanged = consents.withdraw(token).get_json()
    assert (unchanged["status"], unchanged.get("withdrawnAt")) == ("expired", None)


@pytest.mark.parametrize(
    "expires_at", ["2027-03-01T09:00:00Z", "2026-01-01T00:00:00+01:00"]
)
def test_an_end_that_has_passed_is_refused(
    scim: ScimClient, consents: ConsentClient, clock: Clock, expires_at: str
) -> None:
    clock.now = T0
    user_id = create_user(scim)

    response = consents.grant(user_id, expiresAt=expires_at)

    assert "expiresAt" in assert_error(response, 400, "invalidValue")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"purpose": None}, "purpose: Missing data for required field."),
        ({"purpose": "EAP Referral"}, "purpose: Use a lower-case identifier."),
        ({"recipient": ""}, "recipient: Length must be between 1 and 200."),
        ({"dataCategories": []}, "dataCategories: Length must be between 1 and 50."),
        ({"dataCategories": "contact"}, "dataCategories: Not a valid list."),
        ({"dataCategories": ["a", ""]}, "dataCategories[1]: Length must be"),
        ({"noticeVersion": None}, "noticeVersion: Missing data for required field."),
        ({"captureMethod": "telepathy"}, "captureMethod: Must be one of: api,"),
        ({"expiresAt": "2027-04-01T00:00:00"}, "expiresAt: Not a valid aware"),
        ({"expiresAt": "next week"}, "expiresAt: Not a valid datetime."),
        ({"expiresIn": "P30D"}, "expiresIn: Unknown field."),
    ],
)
def test_a_malformed_grant_fails_with_a_clear_message(
    scim: ScimClient, consents: ConsentClient, change: dict[str, Any], named: str
) -> None:
    user_id = create_user(scim)
    body = {k: v for k, v in {**GRANT, **change}.items() if v is not None}

    response = consents.request("POST", f"/users/{user_id}/consents", body)

    detail = assert_error(response, 400, "invalidValue")
    assert detail.startswith("The consent request is not valid: ")
    assert named in detail
    assert consents.history(user_id).get_json()["totalResults"] == 0


def test_data_categories_are_stored_as_qualified_attribute_paths(
    scim: ScimClient, consents: ConsentClient
) -> None:
    user_id = create_user(scim)

    record = consents.granted(
        user_id,
        dataCategories=[
            "PHONENUMBERS",
            f"{USER}:phoneNumbers",
            "name.givenName",
            f"{ENTERPRISE.upper()}:Department",
            ENTERPRISE,
        ],
    )

    assert record["dataCategories"] == [
        f"{USER}:phoneNumbers",
        f"{USER}:name.givenName",
        f"{ENTERPRISE}:department",
        ENTERPRISE,
    ]


def test_unknown_data_categories_are_refused(
    scim: ScimClient, consents: ConsentClient
) -> None:
    user_id = create_user(scim)

    response = consents.grant(
        user_id,
        dataCategories=["phoneNumbers", "contact_details", "urn:example:Wellbeing"],
    )

    detail = assert_error(response, 400, "invalidValue")
    assert "dataCategories[1], dataCategories[2]: not a schema URN" in detail
    assert consents.history(user_id).get_json()["totalResults"] == 0


def test_a_body_that_is_not_json_fails_with_invalid_syntax(
    scim: ScimClient, consents: ConsentClient
) -> None:
    user_id = create_user(scim)

    response = consents.client.post(
        f"/api/v1/users/{user_id}/consents",
        data="{purpose:",
        content_type="application/json",
        headers={"Authorization": f"Bearer {consents.token}"},
    )

    assert_error(response, 400, "invalidSyntax")


def test_unknown_users_and_tokens_give_404(
    scim: ScimClient, consents: ConsentClient
) -> None:
    group = scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "x",
        },
    ).get_json()
    unknown_token = "ctk-" + "A" * 32

    assert_error(consents.grant("no-such-user"), 404)
    assert_error(consents.grant(group["id"]), 404)
    assert_error(consents.history("no-such-user"), 404)
    assert_error(consents.withdraw(unknown_token), 404)
    assert_error(consents.receipt(unknown_token), 404)


@pytest.mark.parametrize(
    ("scopes", "method", "path"),
    [
        (["consent:read"], "POST", "/users/{user}/consents"),
        (["consent:read"], "POST", "/consents/{token}/withdraw"),
        (["consent:write"], "GET", "/users/{user}/consents"),
        (["consent:write"], "GET", "/consents/{token}/receipt"),
        (["scim:read", "scim:write"], "POST", "/users/{user}/consents"),
        (["scim:read", "scim:write"], "POST", "/consents/{token}/withdraw"),
        (["scim:read", "scim:write"], "GET", "/users/{user}/consents"),
        (["scim:read", "scim:write"], "GET", "/consents/{token}/receipt"),
    ],
)
def test_each_operation_needs_its_scope(
    app: Flask,
    client: FlaskClient,
    scim: ScimClient,
    consents: ConsentClient,
    scopes: list[str],
    method: str,
    path: str,
) -> None:
    user_id = create_user(scim)
    token = consents.granted(user_id)["consentToken"]
    other = ConsentClient(client, make_token(app, "lms", scopes))

    response = other.request(
        method,
        path.format(user=user_id, token=token),
        GRANT if method == "POST" else None,
    )

    assert_error(response, 403)
    history = consents.history(user_id).get_json()
    assert [r["status"] for r in history["consents"]] == ["granted"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/users/u/consents"),
        ("GET", "/users/u/consents"),
        ("POST", "/consents/ctk-x/withdraw"),
        ("GET", "/consents/ctk-x/receipt"),
    ],
)
def test_the_consent_api_needs_a_bearer_token(
    client: FlaskClient, method: str, path: str
) -> None:
    response = ConsentClient(client, None).request(method, path)

    assert_error(response, 401)


def test_deleting_the_user_erases_their_consents(
    app: Flask, scim: ScimClient, consents: ConsentClient
) -> None:
    user_id = create_user(scim)
    consents.granted(user_id)
    consents.granted(user_id, purpose="learning_progress_sharing", recipient="lms")

    assert scim.delete(f"/Users/{user_id}").status_code == 204

    with get_database(app).sessions() as session:
        left = session.scalar(
            select(func.count()).select_from(Consent).where(Consent.user_id == user_id)
        )
    assert left == 0


def logged_text(caplog: pytest.LogCaptureFixture, prefix: str) -> str:
    return "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(prefix)
    )


def exercise(scim: ScimClient, consents: ConsentClient) -> list[str]:
    """Grant, withdraw and fetch a receipt; return what must not be logged."""
    user_id = create_user(scim)
    record = consents.granted(user_id)
    consents.withdraw(record["consentToken"])
    receipt = consents.receipt(record["consentToken"]).get_json()
    return [record["consentToken"], receipt["jws"], "eap_referral", "eap-vendor"]


def test_consent_code_never_logs_tokens_or_contents(
    scim: ScimClient, consents: ConsentClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="scimserver")

    secrets = exercise(scim, consents)

    logged = logged_text(caplog, "scimserver.consent") + logged_text(
        caplog, "scimserver.scim"
    )
    assert "consent granted" in logged
    assert [s for s in secrets if s in logged] == []


def test_request_log_lines_do_not_carry_consent_tokens(
    scim: ScimClient, consents: ConsentClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="scimserver")

    secrets = exercise(scim, consents)

    assert [s for s in secrets if s in logged_text(caplog, "scimserver")] == []
