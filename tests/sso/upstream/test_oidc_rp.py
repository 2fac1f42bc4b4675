"""The OpenID Connect relying party against a real authlib provider on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from scimserver.db import get_database
from scimserver.sso import oidc_discovery
from scimserver.sso.id_token import IdTokenError, validate_id_token
from scimserver.sso.models import IdentityLink
from tests.conftest import BASE_URL, ScimClient
from tests.sso.upstream.conftest import OFFERS, create_user
from tests.sso.upstream.oidc_op import OpClient, TestOp, serve
from tests.sso.upstream.test_saml import audit_entries, signed_in_user

SECRET = "hub-client-secret"


@pytest.fixture
def op() -> Iterator[TestOp]:
    oidc_discovery.forget()
    provider = TestOp()
    for alias in ("staff", "mail"):
        provider.clients[alias] = OpClient(
            alias, SECRET, f"{BASE_URL}/sso/oidc/{alias}/callback"
        )
    with serve(provider):
        yield provider
    oidc_discovery.forget()


@pytest.fixture
def sso_toml(op: TestOp) -> str:
    return f"""
[oidc.staff]
issuer = "{op.issuer}"
client_id = "staff"
client_secret = "{SECRET}"

[oidc.mail]
issuer = "{op.issuer}"
client_id = "mail"
client_secret = "{SECRET}"
match_from = "email"
match_to = "email"
{OFFERS}
"""


def authorize_at_op(
    client: FlaskClient, alias: str, next_path: str = "/account/x"
) -> str:
    """Start the login at the hub and let the provider approve it; the callback."""
    start = client.get(f"/sso/oidc/{alias}/login", query_string={"next": next_path})
    assert start.status_code == 303, start.get_data(as_text=True)
    approved = httpx.get(start.headers["Location"], follow_redirects=False)
    assert approved.status_code == 302, approved.text
    location = approved.headers["Location"]
    assert location.startswith(f"{BASE_URL}/sso/oidc/{alias}/callback?")
    return location.removeprefix(BASE_URL)


def assert_refused(app: Flask, response: Any, reason: str, status: int = 403) -> None:
    assert response.status_code == status
    assert reason in response.get_data(as_text=True)
    entry = audit_entries(app, "sso.refused")[-1]
    assert entry.detail == {
        "idp": entry.detail["idp"],
        "method": "oidc",
        "reason": reason,
    }


def test_code_flow_with_pkce_signs_the_user_in(
    client: FlaskClient, scim: ScimClient, app: Flask, op: TestOp
) -> None:
    user_id = create_user(scim, "bjensen")
    op.add_user("bjensen")
    op.user = "bjensen"

    start = client.get("/sso/oidc/staff/login", query_string={"next": "/account/x"})
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    callback = authorize_at_op(client, "staff")
    response = client.get(callback)

    assert query["code_challenge_method"] == ["S256"]
    assert query["nonce"] and query["state"]
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/x"
    assert signed_in_user(client) == user_id
    with get_database(app).sessions() as session:
        link = session.get(IdentityLink, (op.issuer, "sub-bjensen"))
        assert link is not None
        assert link.user_id == user_id


def test_email_from_userinfo_links_only_when_verified(
    client: FlaskClient, scim: ScimClient, app: Flask, op: TestOp
) -> None:
    emails = [{"value": "Babs@Example.com", "type": "work"}]
    user_id = create_user(scim, "bjensen", emails=emails)
    op.add_user("babs", email="babs@example.com", email_verified=False)
    op.user = "babs"

    refused = client.get(authorize_at_op(client, "mail"))
    assert_refused(app, refused, "email_unverified")

    op.users["babs"]["email_verified"] = True
    accepted = client.get(authorize_at_op(client, "mail"))
    assert accepted.status_code == 303
    assert signed_in_user(client) == user_id


def test_a_home_email_does_not_link(
    client: FlaskClient, scim: ScimClient, app: Flask, op: TestOp
) -> None:
    create_user(scim, "bjensen", emails=[{"value": "babs@example.com", "type": "home"}])
    op.add_user("babs", email="babs@example.com", email_verified=True)
    op.user = "babs"

    response = client.get(authorize_at_op(client, "mail"))

    assert_refused(app, response, "no_account")


def test_callback_in_another_browser_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, op: TestOp
) -> None:
    create_user(scim, "bjensen")
    op.add_user("bjensen")
    op.user = "bjensen"
    callback = authorize_at_op(client, "staff")

    response = app.test_client().get(callback)

    assert_refused(app, response, "state_mismatch")


def test_callback_used_twice_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, op: TestOp
) -> None:
    create_user(scim, "bjensen")
    op.add_user("bjensen")
    op.user = "bjensen"
    callback = authorize_at_op(client, "staff")
    assert client.get(callback).status_code == 303

    response = client.get(callback)

    # Signing in started a fresh session, which holds no login in progress.
    assert_refused(app, response, "state_mismatch")


def test_id_token_for_another_audience_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, op: TestOp
) -> None:
    create_user(scim, "bjensen")
    op.add_user("bjensen")
    op.user = "bjensen"
    op.id_token_audience = "some-other-app"

    response = client.get(authorize_at_op(client, "staff"))

    assert_refused(app, response, "bad_id_token")
    assert signed_in_user(client) is None


def test_a_refused_code_exchange_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, op: TestOp
) -> None:
    create_user(scim, "bjensen")
    op.add_user("bjensen")
    op.user = "bjensen"
    callback = authorize_at_op(client, "staff")
    op.clients["staff"].client_secret = "rotated-at-the-provider"

    response = client.get(callback)

    assert_refused(app, response, "token_error")


def test_deactivated_user_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, op: TestOp
) -> None:
    create_user(scim, "bjensen", active=False)
    op.add_user("bjensen")
    op.user = "bjensen"

    response = client.get(authorize_at_op(client, "staff"))

    assert_refused(app, response, "inactive")


def test_provider_error_is_refused(client: FlaskClient, app: Flask, op: TestOp) -> None:
    response = client.get("/sso/oidc/staff/callback?error=access_denied&state=x")

    assert_refused(app, response, "idp_error")


def test_unreachable_provider_is_a_clear_502(
    client: FlaskClient, app: Flask, op: TestOp, tmp_path: Any
) -> None:
    from tests.sso.upstream.conftest import configure_sso

    configure_sso(
        app,
        tmp_path,
        '[oidc.gone]\nissuer = "http://127.0.0.1:9"\nclient_id = "x"\n'
        'client_secret = "y"\n',
    )

    response = client.get("/sso/oidc/gone/login")

    assert_refused(app, response, "provider_unavailable", status=502)


class TestIdTokenValidation:
    """Core §3.1.3.7, against the provider's published keys."""

    def metadata(self, op: TestOp) -> dict[str, Any]:
        return dict(oidc_discovery.provider_metadata(op.issuer))

    def token(
        self, op: TestOp, key: Any = None, alg: str = "RS256", **claims: Any
    ) -> str:
        now = int(time.time())
        body = {
            "iss": op.issuer,
            "sub": "sub-1",
            "aud": "staff",
            "iat": now,
            "exp": now + 300,
            "nonce": "n-1",
            **claims,
        }
        header = {"alg": alg, "kid": "op-key-1"}
        return jwt.encode(header, body, key or op.key, algorithms=[alg])

    def test_a_valid_token_passes(self, op: TestOp) -> None:
        claims = validate_id_token(self.token(op), self.metadata(op), "staff", "n-1")

        assert claims["sub"] == "sub-1"

    @pytest.mark.parametrize(
        ("claims", "nonce"),
        [
            ({"nonce": "other"}, "n-1"),
            ({"iss": "https://evil.test"}, "n-1"),
            ({"aud": "someone-else"}, "n-1"),
            ({"exp": int(time.time()) - 3600}, "n-1"),
            ({"aud": ["staff", "lms"]}, "n-1"),
        ],
    )
    def test_a_wrong_claim_fails(
        self, op: TestOp, claims: dict[str, Any], nonce: str
    ) -> None:
        with pytest.raises(IdTokenError):
            validate_id_token(
                self.token(op, **claims), self.metadata(op), "staff", nonce
            )

    def test_a_foreign_key_fails(self, op: TestOp) -> None:
        foreign = RSAKey.generate_key(2048)

        with pytest.raises(IdTokenError):
            validate_id_token(
                self.token(op, key=foreign), self.metadata(op), "staff", "n-1"
            )

    def test_an_hmac_token_keyed_with_anything_fails(self, op: TestOp) -> None:
        secret = OctKey.import_key(SECRET.encode() * 2)

        token = self.token(op, key=secret, alg="HS256")

        with pytest.raises(IdTokenError):
            validate_id_token(token, self.metadata(op), "staff", "n-1")
