"""Fixtures of the OpenID Provider tests: employees, relying parties, a browser.

The relying parties are authlib OAuth clients talking HTTP to the provider served
on 127.0.0.1; the "browser" is an httpx client holding the hub's session cookie,
as the upstream login would leave it (:func:`scimserver.sso.session.sign_in`).

The shipped data dictionary classifies names and email addresses ``internal``;
here they are ``sensitive``, as a deployment that serves an EAP classifies them,
so that the EAP's policy can release them only under consent.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import BaseWSGIServer, make_server

from scimserver.db import get_database
from scimserver.policy.clients import create_client
from scimserver.sso import session as hub_session
from scimserver.sso.provider.context import EXTENSION_KEY
from scimserver.sso.provider.relying_parties import Registration, register
from scimserver.sso.provider.server import build_provider
from tests.conftest import ScimClient, give_policy, make_token

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SENSITIVE = (f"{USER}:name", f"{USER}:emails")
LMS_CALLBACK = "https://lms.example/oidc/callback"
EAP_CALLBACK = "https://eap.example/callback"
EAP_LOGOUT = "https://eap.example/signed-out"
EAP_POLICY: dict[str, Any] = {
    "read": {"attributes": [f"{USER}:name", f"{USER}:emails"]},
    "purposes": ["eap_referral"],
    "recipient": "eap-vendor",
}
LMS_POLICY: dict[str, Any] = {"read": {"classifications": ["public", "internal"]}}


@pytest.fixture(scope="session")
def schema_dir(schema_dir: str, tmp_path_factory: Any) -> str:
    """The test schemas, with names and email addresses classified sensitive."""
    folder: Path = tmp_path_factory.mktemp("op_schemas") / "schemas"
    shutil.copytree(schema_dir, folder)
    dictionary_file = folder / "privacy" / "data_dictionary.json"
    dictionary = json.loads(dictionary_file.read_text())
    for key in SENSITIVE:
        dictionary["attributes"][key]["classification"] = "sensitive"
    dictionary_file.write_text(json.dumps(dictionary))
    return str(folder)


@dataclass
class LiveHub:
    """The provider served over HTTP on 127.0.0.1."""

    app: Flask
    url: str

    def metadata(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(
            f"{self.url}/.well-known/openid-configuration"
        ).json()
        return body

    def key_set(self) -> KeySet:
        return KeySet.import_key_set(httpx.get(f"{self.url}/oidc/jwks.json").json())


@pytest.fixture
def hub(app: Flask) -> Iterator[LiveHub]:
    """Serve ``app`` on a free loopback port, its issuer being that address."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = app.config["SETTINGS"].with_overrides({"base_url": url})
    app.config["SETTINGS"] = settings
    app.extensions[EXTENSION_KEY] = build_provider(app)

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveHub(app, url)
    server.shutdown()
    thread.join()


@pytest.fixture
def employee(scim: ScimClient) -> str:
    """An active employee provisioned by the HRIS; returns the User id."""
    return provision(scim, "ada", "Ada", "Lovelace")


def provision(scim: ScimClient, user_name: str, given: str, family: str) -> str:
    """Create a User through the SCIM API and return its id."""
    response = scim.post(
        "/Users",
        {
            "schemas": [USER],
            "userName": user_name,
            "displayName": f"{given} {family}",
            "name": {"givenName": given, "familyName": family},
            "emails": [
                {"value": f"{user_name}@corp.example", "type": "work", "primary": True}
            ],
            "active": True,
        },
    )
    assert response.status_code == 201, response.get_json()
    user_id: str = response.get_json()["id"]
    return user_id


@dataclass
class Party:
    """A registered relying party and its secret."""

    client_id: str
    secret: str
    redirect_uri: str


def register_party(app: Flask, registration: Registration) -> Party:
    """Register a relying party directly in the database."""
    with app.app_context(), get_database(app).sessions() as session:
        party, secret = register(session, registration)
        session.commit()
    redirect_uri = registration.redirect_uris[0] if registration.redirect_uris else ""
    return Party(party.client_id, secret, redirect_uri)


@pytest.fixture
def lms(app: Flask) -> Party:
    """The learning platform: its SCIM client's policy governs its claims."""
    with get_database(app).sessions() as session:
        client, _token = create_client(session, "lms", ["scim:read"])
        give_policy(app, session, client, LMS_POLICY)
        session.commit()
    return register_party(
        app,
        Registration(
            client_id="lms",
            redirect_uris=(LMS_CALLBACK,),
            sector="learning",
            scim_client="lms",
            launch_url="https://lms.example/home",
            initiate_login_uri="https://lms.example/oidc/login",
        ),
    )


@pytest.fixture
def eap(app: Flask) -> Party:
    """The EAP: consent to ``eap_referral`` first; names and emails under consent."""
    return register_party(
        app,
        Registration(
            client_id="eap",
            redirect_uris=(EAP_CALLBACK,),
            post_logout_redirect_uris=(EAP_LOGOUT,),
            sector="eap",
            policy=EAP_POLICY,
            consent_purpose="eap_referral",
            consent_recipient="eap-vendor",
            launch_url="https://eap.example/start",
        ),
    )


@pytest.fixture
def consents(app: Flask, client: Any) -> ConsentDesk:
    """Grants and withdrawals through the consent API."""
    return ConsentDesk(client, make_token(app, "enrolment", ["consent:write"]))


class ConsentDesk:
    """The consent API, as an enrolment flow acting for the employee uses it."""

    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def grant(self, user_id: str, categories: list[str]) -> str:
        body = {
            "purpose": "eap_referral",
            "recipient": "eap-vendor",
            "dataCategories": categories,
            "noticeVersion": "2026-11",
            "captureMethod": "consent_page",
        }
        response = self.client.post(
            f"/api/v1/users/{user_id}/consents", json=body, headers=self.headers
        )
        assert response.status_code == 201, response.get_json()
        token: str = response.get_json()["consentToken"]
        return token

    def withdraw(self, consent_token: str) -> None:
        response = self.client.post(
            f"/api/v1/consents/{consent_token}/withdraw", headers=self.headers
        )
        assert response.status_code == 200, response.get_json()


def browser_for(hub: LiveHub, user_id: str | None) -> httpx.Client:
    """A browser on the hub, signed in as ``user_id`` (or not signed in)."""
    browser = httpx.Client(base_url=hub.url, follow_redirects=False)
    if user_id is not None:
        interface = hub.app.session_interface
        assert isinstance(interface, SecureCookieSessionInterface)
        serializer = interface.get_signing_serializer(hub.app)
        assert serializer is not None
        cookie = serializer.dumps(
            {
                hub_session.USER_KEY: user_id,
                hub_session.ISSUER_KEY: "https://idp.corp.example",
                hub_session.METHOD_KEY: "saml",
                hub_session.SIGNED_IN_AT_KEY: int(time.time()),
            }
        )
        name = hub.app.config["SESSION_COOKIE_NAME"]
        browser.cookies.set(name, cookie, domain="127.0.0.1", path="/")
    return browser


@dataclass
class SignIn:
    """What a relying party learns from one sign-in."""

    token: dict[str, Any]
    claims: dict[str, Any]
    header: dict[str, Any]


class AppClient:
    """An application signing employees in through the hub with authlib."""

    def __init__(
        self,
        hub: LiveHub,
        party: Party,
        scope: str = "openid profile email",
        verifier: str | None = None,
    ):
        self.hub = hub
        self.party = party
        self.metadata = hub.metadata()
        self.oauth = OAuth2Client(
            client_id=party.client_id,
            client_secret=party.secret,
            redirect_uri=party.redirect_uri,
            scope=scope,
            code_challenge_method="S256",
        )
        self.verifier = verifier or secrets.token_urlsafe(40)
        self.nonce = f"n-{time.time_ns()}"

    def authorization_url(self, **extra: Any) -> str:
        url, _state = self.oauth.create_authorization_url(
            self.metadata["authorization_endpoint"],
            code_verifier=self.verifier,
            nonce=self.nonce,
            **extra,
        )
        return str(url)

    def start(self, browser: httpx.Client, **extra: Any) -> httpx.Response:
        """The browser follows the party to the authorization endpoint."""
        return browser.get(self.authorization_url(**extra))

    def finish(self, callback: str) -> SignIn:
        """Redeem the code the browser brought back; verify the ID token."""
        token = self.oauth.fetch_token(
            self.metadata["token_endpoint"],
            authorization_response=callback,
            code_verifier=self.verifier,
        )
        return SignIn(dict(token), *self.verify(token["id_token"]))

    def sign_in(self, browser: httpx.Client) -> SignIn:
        response = self.start(browser)
        assert response.status_code == 302, response.text
        return self.finish(response.headers["Location"])

    def verify(self, id_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Check signature, issuer, audience, expiry and nonce (Core §3.1.3.7)."""
        decoded = jwt.decode(id_token, self.hub.key_set(), algorithms=["RS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.metadata["issuer"]},
            aud={"essential": True, "value": self.party.client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": self.nonce},
        ).validate(decoded.claims)
        return dict(decoded.claims), dict(decoded.header)

    def userinfo(self, access_token: str) -> httpx.Response:
        return httpx.get(
            self.metadata["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {access_token}"},
        )


def challenge_of(verifier: str) -> str:
    """The S256 challenge of a verifier (RFC 7636 §4.2)."""
    return str(create_s256_code_challenge(verifier))
