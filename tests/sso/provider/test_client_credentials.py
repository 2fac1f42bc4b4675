"""``client_credentials`` for machine clients (RFC 6749 §4.4)."""

from __future__ import annotations

import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from flask import Flask
from sqlalchemy import select

from scimserver.db import get_database
from scimserver.sso.provider.models import AccessToken
from scimserver.sso.provider.relying_parties import Registration
from scimserver.sso.provider.token_store import digest
from tests.sso.provider.conftest import LiveHub, Party, register_party


@pytest.fixture
def reporting(app: Flask) -> Party:
    """A machine client of the EAP: no browser, no employee."""
    return register_party(
        app,
        Registration(
            client_id="eap-reporting",
            grant_types=("client_credentials",),
            scope="referrals:read",
        ),
    )


def machine(party: Party) -> OAuth2Client:
    return OAuth2Client(party.client_id, party.secret)


def test_a_machine_client_gets_a_token_stored_only_as_a_digest(
    hub: LiveHub, app: Flask, reporting: Party
) -> None:
    token = machine(reporting).fetch_token(
        f"{hub.url}/oidc/token", grant_type="client_credentials"
    )

    assert token["scope"] == "referrals:read"
    assert "id_token" not in token and "refresh_token" not in token
    with get_database(app).sessions() as session:
        row = session.scalar(select(AccessToken))
        assert row is not None and row.user_id is None
        assert row.token_hash == digest(token["access_token"])


def test_a_scope_beyond_the_registration_is_refused(
    hub: LiveHub, reporting: Party
) -> None:
    with pytest.raises(OAuthError) as refused:
        machine(reporting).fetch_token(
            f"{hub.url}/oidc/token",
            grant_type="client_credentials",
            scope="referrals:read referrals:write",
        )

    assert refused.value.error == "invalid_scope"


def test_a_wrong_secret_is_refused(hub: LiveHub, reporting: Party) -> None:
    wrong = Party(reporting.client_id, "ocs_wrong", "")

    with pytest.raises(OAuthError) as refused:
        machine(wrong).fetch_token(
            f"{hub.url}/oidc/token", grant_type="client_credentials"
        )

    assert refused.value.error == "invalid_client"


def test_a_party_not_registered_for_the_grant_is_refused(
    hub: LiveHub, lms: Party
) -> None:
    with pytest.raises(OAuthError) as refused:
        machine(lms).fetch_token(
            f"{hub.url}/oidc/token", grant_type="client_credentials"
        )

    assert refused.value.error == "unauthorized_client"


def test_a_machine_token_opens_no_userinfo(hub: LiveHub, reporting: Party) -> None:
    client = machine(reporting)
    client.fetch_token(f"{hub.url}/oidc/token", grant_type="client_credentials")

    response = client.get(f"{hub.url}/oidc/userinfo")

    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
