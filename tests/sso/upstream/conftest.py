"""Fixtures of the upstream sign-in tests: a configured hub and a signing IdP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scimserver.sso import config as sso_config
from tests.conftest import BASE_URL, ScimClient
from tests.sso.upstream.saml_idp import Assertion, AuthnRequest, TestIdp

CORP = "https://idp.corp.test/metadata"
PARTNER = "https://idp.partner.test/metadata"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
OFFERS = """
[[consent_offers]]
purpose = "eap_referral"
recipient = "eap"
title = "Referral to the employee assistance programme"
description = "So that the EAP can contact you after a wellbeing course."
data_categories = ["name", "emails", "phoneNumbers"]
notice_version = "2026-12"

[[consent_offers]]
purpose = "learning_records"
recipient = "lms"
title = "Learning records"
data_categories = ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
notice_version = "2026-10"
"""


@pytest.fixture
def corp_idp() -> TestIdp:
    """The corporate IdP: SP-initiated logins only, linked by NameID to userName."""
    return TestIdp(CORP)


@pytest.fixture
def partner_idp() -> TestIdp:
    """A partner IdP that may start logins itself; links ``uid`` to externalId."""
    return TestIdp(PARTNER)


@pytest.fixture
def sso_toml(tmp_path: Path, corp_idp: TestIdp, partner_idp: TestIdp) -> str:
    """The SSO configuration of the tests (tests may append to it)."""
    (tmp_path / "corp.pem").write_text(corp_idp.keys.certificate)
    partner_certificate = partner_idp.keys.certificate.replace("\n", "\\n")
    return f"""
[saml.corp]
entity_id = "{CORP}"
sso_url = "https://idp.corp.test/sso"
certificate_file = "corp.pem"
display_name = "Corporate login"
default = true

[saml.partner]
entity_id = "{PARTNER}"
sso_url = "https://idp.partner.test/sso"
certificate = "{partner_certificate}"
allow_idp_initiated = true
match_from = "uid"
match_to = "externalId"
{OFFERS}
"""


@pytest.fixture
def app(app: Flask, tmp_path: Path, sso_toml: str) -> Iterator[Flask]:
    """The application with the SSO configuration file of the test."""
    configure_sso(app, tmp_path, sso_toml)
    yield app


def configure_sso(app: Flask, folder: Path, text: str) -> None:
    """Write ``text`` as the SSO file and load it, as start-up would."""
    path = folder / "sso.toml"
    path.write_text(text)
    app.config["SETTINGS"] = app.config["SETTINGS"].with_overrides(
        {
            "sso_config_file": str(path),
            "receipt_key_file": str(folder / "receipt-key.pem"),
        }
    )
    sso_config.init_app(app)


def create_user(scim: ScimClient, user_name: str, **extra: Any) -> str:
    """Provision a User through SCIM, as the HRIS would; return its id."""
    response = scim.post("/Users", {"schemas": [USER], "userName": user_name, **extra})
    assert response.status_code == 201, response.get_json()
    user_id: str = response.get_json()["id"]
    return user_id


def start_saml_login(
    client: FlaskClient, alias: str = "corp", next_path: str = "/account/consent"
) -> AuthnRequest:
    """Ask the hub for a login and read the AuthnRequest the IdP would get."""
    response = client.get(f"/sso/saml/{alias}/login", query_string={"next": next_path})
    assert response.status_code == 303, response.get_data(as_text=True)
    return TestIdp.read_request(response.headers["Location"])


def acs_url(alias: str) -> str:
    return f"{BASE_URL}/sso/saml/{alias}/acs"


def sp_entity_id(alias: str) -> str:
    return f"{BASE_URL}/sso/saml/{alias}/metadata"


def assertion_for(request: AuthnRequest, name_id: str, **changes: Any) -> Assertion:
    """An assertion answering ``request`` for ``name_id``."""
    values: dict[str, Any] = {
        "name_id": name_id,
        "audience": request.issuer,
        "recipient": request.acs_url,
        "in_response_to": request.id,
    }
    values.update(changes)
    return Assertion(**values)


def post_response(
    client: FlaskClient, alias: str, saml_response: str, relay_state: str = ""
) -> Any:
    """Deliver a response to the hub's ACS, as the browser's auto-post would."""
    form = {"SAMLResponse": saml_response}
    if relay_state:
        form["RelayState"] = relay_state
    return client.post(f"/sso/saml/{alias}/acs", data=form)
