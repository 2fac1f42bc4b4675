"""The SAML service provider, end to end with responses signed by a real IdP key."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from scimserver.audit.models import AuditEntry
from scimserver.db import get_database
from scimserver.sso.models import IdentityLink, LoginRequest, UsedAssertion
from scimserver.sso.session import USER_KEY
from tests.conftest import ScimClient
from tests.sso.upstream.conftest import (
    acs_url,
    assertion_for,
    create_user,
    post_response,
    sp_entity_id,
    start_saml_login,
)
from tests.sso.upstream.saml_idp import ASSERTION, NSMAP, Assertion, KeyPair, TestIdp


def audit_entries(app: Flask, action: str) -> list[AuditEntry]:
    with get_database(app).sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == action)
        return list(session.scalars(query.order_by(AuditEntry.seq)))


def signed_in_user(client: FlaskClient) -> Any:
    with client.session_transaction() as session:
        return session.get(USER_KEY)


def assert_refused(app: Flask, response: Any, reason: str, status: int = 403) -> None:
    """A clear page naming the reason, and an audit entry with the reason only."""
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert reason in response.get_data(as_text=True)
    refusals = audit_entries(app, "sso.refused")
    assert refusals[-1].detail["reason"] == reason
    assert refusals[-1].detail["method"] == "saml"


def test_sp_metadata_names_the_acs_and_entity_id(client: FlaskClient) -> None:
    response = client.get("/sso/saml/corp/metadata")

    assert response.status_code == 200
    assert response.mimetype == "application/samlmetadata+xml"
    document = etree.fromstring(response.data)
    assert document.get("entityID") == sp_entity_id("corp")
    md = "urn:oasis:names:tc:SAML:2.0:metadata"
    service = document.find(f".//{{{md}}}AssertionConsumerService")
    assert service is not None
    assert service.get("Location") == acs_url("corp")


def test_unknown_alias_is_a_404_page(client: FlaskClient) -> None:
    response = client.get("/sso/saml/nobody/metadata")

    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_login_redirects_to_the_idp_and_keeps_the_request(
    client: FlaskClient, app: Flask
) -> None:
    request = start_saml_login(client)

    assert request.issuer == sp_entity_id("corp")
    assert request.acs_url == acs_url("corp")
    with get_database(app).sessions() as session:
        stored = session.get(LoginRequest, request.id)
        assert stored is not None
        assert stored.next_path == "/account/consent"


@pytest.mark.parametrize(
    "next_path", ["https://evil.test/", "//evil.test/x", "/\\evil.test", "javascript:1"]
)
def test_login_refuses_an_open_redirect(
    client: FlaskClient, app: Flask, next_path: str
) -> None:
    response = client.get("/sso/saml/corp/login", query_string={"next": next_path})

    assert_refused(app, response, "bad_next", status=400)


def test_signed_response_signs_the_user_in_and_lands_on_next(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    user_id = create_user(scim, "bjensen")
    request = start_saml_login(client, next_path="/account/consent?purpose=x")

    response = post_response(
        client, "corp", corp_idp.response(assertion_for(request, "bjensen"))
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/account/consent?purpose=x"
    assert signed_in_user(client) == user_id
    [entry] = audit_entries(app, "sso.sign_in")
    assert entry.resource_id == user_id
    assert entry.detail["matched_by"] == "userName"
    assert entry.detail["first_login"] is True
    assert "bjensen" not in str(entry.detail)


def test_later_logins_follow_the_link_after_a_rename(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    user_id = create_user(scim, "bjensen")
    request = start_saml_login(client)
    post_response(client, "corp", corp_idp.response(assertion_for(request, "bjensen")))
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "userName", "value": "b.jensen"}],
    }
    assert scim.patch(f"/Users/{user_id}", patch).status_code == 200

    client.post("/sso/logout", data={})  # refused (no CSRF token), session kept
    request = start_saml_login(client)
    response = post_response(
        client, "corp", corp_idp.response(assertion_for(request, "bjensen"))
    )

    assert response.status_code == 303
    assert signed_in_user(client) == user_id
    with get_database(app).sessions() as session:
        link = session.get(IdentityLink, (corp_idp.entity_id, "bjensen"))
        assert link is not None
        assert link.user_id == user_id


def test_deactivated_user_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    create_user(scim, "bjensen", active=False)
    request = start_saml_login(client)

    response = post_response(
        client, "corp", corp_idp.response(assertion_for(request, "bjensen"))
    )

    assert_refused(app, response, "inactive")
    assert signed_in_user(client) is None


def test_user_without_an_account_is_refused_and_not_created(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    request = start_saml_login(client)

    response = post_response(
        client, "corp", corp_idp.response(assertion_for(request, "nobody"))
    )

    assert_refused(app, response, "no_account")
    assert scim.get("/Users").get_json()["totalResults"] == 0


def test_unsolicited_response_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    create_user(scim, "bjensen")
    assertion = Assertion(
        name_id="bjensen", audience=sp_entity_id("corp"), recipient=acs_url("corp")
    )

    response = post_response(client, "corp", corp_idp.response(assertion))

    assert_refused(app, response, "unsolicited")
    assert signed_in_user(client) is None


def test_response_to_a_request_never_sent_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    create_user(scim, "bjensen")
    request = start_saml_login(client)
    forged = assertion_for(request, "bjensen", in_response_to="_not-ours")

    response = post_response(client, "corp", corp_idp.response(forged))

    assert_refused(app, response, "unknown_request")


def test_replayed_solicited_response_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    create_user(scim, "bjensen")
    saml_response = corp_idp.response(
        assertion_for(start_saml_login(client), "bjensen")
    )
    assert post_response(client, "corp", saml_response).status_code == 303

    other_browser = app.test_client()
    response = post_response(other_browser, "corp", saml_response)

    assert_refused(app, response, "unknown_request")
    assert signed_in_user(other_browser) is None


def test_idp_initiated_login_where_allowed_and_its_replay_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, partner_idp: TestIdp
) -> None:
    user_id = create_user(scim, "bjensen", externalId="E-1001")
    assertion = Assertion(
        name_id="opaque-42",
        audience=sp_entity_id("partner"),
        recipient=acs_url("partner"),
        attributes={"uid": ["E-1001"]},
    )
    saml_response = partner_idp.response(assertion)

    first = post_response(client, "partner", saml_response, relay_state="/account/x")
    replayed = post_response(app.test_client(), "partner", saml_response)

    assert first.status_code == 303
    assert first.headers["Location"] == "/account/x"
    assert signed_in_user(client) == user_id
    assert_refused(app, replayed, "replayed")
    with get_database(app).sessions() as session:
        assert session.scalar(select(UsedAssertion.issuer)) == partner_idp.entity_id


def test_idp_initiated_relay_state_cannot_redirect_away(
    client: FlaskClient, scim: ScimClient, partner_idp: TestIdp
) -> None:
    create_user(scim, "bjensen", externalId="E-1001")
    assertion = Assertion(
        name_id="opaque-42",
        audience=sp_entity_id("partner"),
        recipient=acs_url("partner"),
        attributes={"uid": ["E-1001"]},
    )
    saml_response = partner_idp.response(assertion)

    response = post_response(client, "partner", saml_response, "https://evil.test/")

    assert response.status_code == 303
    assert response.headers["Location"] == "/account/consent"


def test_response_signed_with_another_key_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    create_user(scim, "bjensen")
    request = start_saml_login(client)
    impostor = KeyPair.generate("Impostor")

    saml_response = corp_idp.response(assertion_for(request, "bjensen"), impostor)
    response = post_response(client, "corp", saml_response)

    assert_refused(app, response, "bad_signature")


def test_unsigned_response_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    create_user(scim, "bjensen")
    request = start_saml_login(client)

    unsigned = assertion_for(request, "bjensen", sign=False)
    response = post_response(client, "corp", corp_idp.response(unsigned))

    assert_refused(app, response, "bad_signature")


def test_tampered_response_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    create_user(scim, "bjensen")
    create_user(scim, "admin")
    request = start_saml_login(client)
    document = corp_idp.response_xml(assertion_for(request, "bjensen"))

    name_id = document.find(f".//{{{ASSERTION}}}NameID", NSMAP)
    name_id.text = "admin"  # changed after signing
    tampered = base64.b64encode(etree.tostring(document)).decode()
    response = post_response(client, "corp", tampered)

    assert_refused(app, response, "bad_signature")
    assert signed_in_user(client) is None


def test_expired_response_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    create_user(scim, "bjensen")
    request = start_saml_login(client)
    late = assertion_for(
        request, "bjensen", issued_at=datetime.now(UTC) - timedelta(minutes=30)
    )

    response = post_response(client, "corp", corp_idp.response(late))

    assert_refused(app, response, "expired")


def test_response_for_another_audience_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    create_user(scim, "bjensen")
    request = start_saml_login(client)
    elsewhere = assertion_for(request, "bjensen", audience="https://other-sp.test/")

    response = post_response(client, "corp", corp_idp.response(elsewhere))

    assert_refused(app, response, "wrong_audience")


def test_sha1_signature_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    create_user(scim, "bjensen")
    request = start_saml_login(client)
    sha1 = assertion_for(request, "bjensen", signature_algorithm="rsa-sha1")

    response = post_response(client, "corp", corp_idp.response(sha1))

    assert_refused(app, response, "deprecated_algorithm")
    assert signed_in_user(client) is None


def test_response_of_one_idp_is_refused_at_another_alias(
    client: FlaskClient, scim: ScimClient, app: Flask, partner_idp: TestIdp
) -> None:
    create_user(scim, "bjensen")
    request = start_saml_login(client, "corp")

    saml_response = partner_idp.response(assertion_for(request, "bjensen"))
    response = post_response(client, "corp", saml_response)

    assert response.status_code == 403
    assert signed_in_user(client) is None


@pytest.mark.parametrize("body", ["", "not base64 at all!", "PHhtbD4="])
def test_malformed_response_is_a_clear_400(
    client: FlaskClient, app: Flask, body: str
) -> None:
    response = post_response(client, "corp", body)

    assert response.status_code in (400, 403)
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.get_data(as_text=True)


def test_an_assertion_refused_for_its_user_is_still_used_up(
    client: FlaskClient, scim: ScimClient, app: Flask, partner_idp: TestIdp
) -> None:
    user_id = create_user(scim, "bjensen", externalId="E-1001", active=False)
    assertion = Assertion(
        name_id="opaque-42",
        audience=sp_entity_id("partner"),
        recipient=acs_url("partner"),
        attributes={"uid": ["E-1001"]},
    )
    saml_response = partner_idp.response(assertion)
    assert_refused(app, post_response(client, "partner", saml_response), "inactive")
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": True}],
    }
    assert scim.patch(f"/Users/{user_id}", patch).status_code == 200

    response = post_response(client, "partner", saml_response)

    assert_refused(app, response, "replayed")
