"""The whole sign-in path into the EAP, in headless Chromium.

Three servers run on 127.0.0.1: the hub, a corporate SAML IdP and the EAP app,
a real relying party (:mod:`tests.sso.eap_app`). The EAP app is addressed as
``localhost``, another site than the hub as far as cookies go, as it would be
in a deployment. The browser starts at the EAP app, signs in at the corporate
IdP, grants on the hub's consent page with the keyboard and lands in the EAP
app signed in under a pairwise ``sub``; after withdrawing on the consent page
it can no longer be signed in to the EAP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from scimserver import create_app, schema_migrations
from scimserver.db import get_database
from scimserver.sso.provider.claims import pairwise_subject
from scimserver.sso.provider.relying_parties import Registration
from tests.audit.test_events import exported
from tests.conftest import ScimClient, make_token
from tests.sso.eap_app import EapApp, eap_app
from tests.sso.provider.conftest import register_party
from tests.sso.upstream.conftest import OFFERS, create_user
from tests.sso.upstream.saml_idp import TestIdp
from tests.support.browser import LiveServer, corporate_login, wait_until

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
#: The EAP may read names and email addresses only under the employee's consent.
EAP_POLICY: dict[str, Any] = {
    "read": {"with_consent": [f"{USER}:name", f"{USER}:emails"]},
    "purposes": ["eap_referral"],
    "recipient": "eap",
}
GRANT_BUTTON = "grant-eap_referral-eap"
WITHDRAW_BUTTON = "withdraw-eap_referral-eap"
SECTOR = "eap"


@dataclass
class Servers:
    """The live hub and the EAP app the browser walks between."""

    hub: Flask
    hub_url: str
    eap: EapApp
    eap_url: str


@pytest.fixture
def servers(tmp_path: Path, schema_dir: str) -> Iterator[Servers]:
    """The hub on SQLite, the corporate IdP and the EAP app, all live."""
    idp = TestIdp("https://idp.corp.test/metadata")
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    schema_migrations.upgrade(url)
    with (
        LiveServer() as hub_server,
        LiveServer() as idp_server,
        LiveServer(host="localhost") as eap_server,
    ):
        idp_server.app = corporate_login(idp, "bjensen")
        (tmp_path / "sso.toml").write_text(
            f'[saml.corp]\nentity_id = "{idp.entity_id}"\n'
            f'sso_url = "{idp_server.url}/sso"\n'
            f'certificate = """{idp.keys.certificate}"""\n{OFFERS}'
        )
        hub = create_app(
            {
                "database_url": url,
                "base_url": hub_server.url,
                "schema_dir": schema_dir,
                "sso_config_file": str(tmp_path / "sso.toml"),
                "receipt_key_file": str(tmp_path / "receipt-key.pem"),
            }
        )
        hub_server.app = hub
        party = register_party(
            hub,
            Registration(
                client_id="eap",
                redirect_uris=(f"{eap_server.url}/callback",),
                sector=SECTOR,
                policy=EAP_POLICY,
                consent_purpose="eap_referral",
                consent_recipient="eap",
            ),
        )
        eap = eap_app(hub_server.url, party.client_id, party.secret, eap_server.url)
        eap_server.app = eap.app
        yield Servers(hub, hub_server.url, eap, eap_server.url)
        get_database(hub).dispose()


def test_sign_in_through_consent_into_the_eap_then_withdraw_shuts_the_door(
    browser: webdriver.Chrome, servers: Servers
) -> None:
    user_id = _provision_bjensen(servers.hub)
    sub = pairwise_subject(servers.hub.config["SETTINGS"].secret_key, SECTOR, user_id)

    _sign_in_granting_consent(browser, servers)

    assert _status(browser) == f"Signed in as {sub}"
    assert sub not in (user_id, "bjensen")
    claims = servers.eap.id_tokens[-1]
    assert claims["email"] == "bjensen@corp.example"  # released under the consent
    assert claims["given_name"] == "Barbara"
    browser.get(f"{servers.eap_url}/")
    assert _status(browser) == f"Signed in as {sub}"  # the EAP app's own session

    _withdraw(browser, servers.hub_url)
    browser.get(f"{servers.eap_url}/logout")  # the EAP app forgets its own session
    assert _status(browser) == "Not signed in"
    codes_before = servers.eap.codes_received()

    browser.get(f"{servers.eap_url}/login")  # redirects only: get() waits for all
    _assert_consent_page_returns_to_authorize(browser.current_url, servers.hub_url)
    assert browser.find_elements(By.ID, GRANT_BUTTON)
    browser.get(f"{servers.eap_url}/login?prompt=none")
    assert _status(browser) == "Sign-in failed: consent_required"
    browser.get(f"{servers.eap_url}/")
    assert _status(browser) == "Not signed in"
    assert servers.eap.codes_received() == codes_before

    _assert_audited(servers.hub, user_id)


def _provision_bjensen(hub: Flask) -> str:
    """The HRIS creates the employee through SCIM; returns the User id."""
    token = make_token(hub, "hris", ["scim:read", "scim:write"])
    return create_user(
        ScimClient(hub.test_client(), token),
        "bjensen",
        name={"givenName": "Barbara", "familyName": "Jensen"},
        emails=[{"value": "bjensen@corp.example", "type": "work", "primary": True}],
    )


def _sign_in_granting_consent(browser: webdriver.Chrome, servers: Servers) -> None:
    """From the EAP app's login through the IdP and the consent page, and back."""
    browser.get(f"{servers.eap_url}/login")
    wait_until(browser, lambda b: b.title == "Corporate login", "the IdP's page")
    browser.find_element(By.ID, "continue").click()

    grant = wait_until(
        browser, lambda b: b.find_element(By.ID, GRANT_BUTTON), "the consent page"
    )
    _assert_consent_page_returns_to_authorize(browser.current_url, servers.hub_url)
    grant.send_keys(Keys.ENTER)  # keyboard only

    wait_until(
        browser,
        lambda b: b.current_url.startswith(f"{servers.eap_url}/callback"),
        "the EAP app's callback",
    )


def _withdraw(browser: webdriver.Chrome, hub_url: str) -> None:
    """Withdraw the EAP consent on the hub's consent page."""
    browser.get(f"{hub_url}/account/consent")
    browser.find_element(By.ID, WITHDRAW_BUTTON).click()
    wait_until(
        browser,
        lambda b: "withdrawn" in b.find_element(By.TAG_NAME, "main").text,
        "the withdrawal to be confirmed",
    )


def _assert_consent_page_returns_to_authorize(current_url: str, hub_url: str) -> None:
    """The door sent the browser to the EAP offer, with the authorize request next."""
    page = urlsplit(current_url)
    assert f"{page.scheme}://{page.netloc}{page.path}" == f"{hub_url}/account/consent"
    query = parse_qs(page.query)
    assert query["purpose"] == ["eap_referral"] and query["recipient"] == ["eap"]
    back = urlsplit(query["next"][0])
    assert back.path == "/oidc/authorize"
    assert parse_qs(back.query)["code_challenge_method"] == ["S256"]


def _status(browser: webdriver.Chrome) -> str:
    text: str = browser.find_element(By.ID, "status").text
    return text


def _assert_audited(hub: Flask, user_id: str) -> None:
    """The audit log holds the sign-in, the grant, the code and the withdrawal."""
    actions = [
        entry["action"]
        for entry in exported(hub)
        if entry["resource_id"] == user_id and entry["action"] != "user.create"
    ]
    assert actions[:2] == ["sso.sign_in", "consent.grant"]
    assert actions.count("oidc.authorize") == 1
    assert actions.index("oidc.authorize") < actions.index("consent.withdraw")
    assert actions[-1] != "oidc.authorize"
