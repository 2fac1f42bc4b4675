"""The consent page in headless Chromium, after a real SAML login.

The hub and a small corporate IdP both run on 127.0.0.1; the browser follows
every redirect, submits the IdP's HTTP-POST form, grants on the consent page
with the keyboard, lands on ``next``, and withdraws again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from scimserver import create_app, schema_migrations
from scimserver.db import get_database
from tests.conftest import ScimClient, make_token
from tests.sso.upstream.conftest import OFFERS, create_user
from tests.sso.upstream.saml_idp import TestIdp
from tests.support.browser import (
    PAGE_CHANGING,
    LiveServer,
    corporate_login,
    wait_until,
)


@pytest.fixture
def hub_and_idp(tmp_path: Path, schema_dir: str) -> Iterator[tuple[LiveServer, Flask]]:
    """The hub on SQLite and the corporate IdP, both live on 127.0.0.1."""
    idp = TestIdp("https://idp.corp.test/metadata")
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    schema_migrations.upgrade(url)
    with LiveServer() as hub, LiveServer() as idp_server:
        idp_server.app = corporate_login(idp, "bjensen")
        (tmp_path / "sso.toml").write_text(
            f'[saml.corp]\nentity_id = "{idp.entity_id}"\n'
            f'sso_url = "{idp_server.url}/sso"\n'
            f'certificate = """{idp.keys.certificate}"""\n{OFFERS}'
        )
        app = create_app(
            {
                "database_url": url,
                "base_url": hub.url,
                "schema_dir": schema_dir,
                "sso_config_file": str(tmp_path / "sso.toml"),
                "receipt_key_file": str(tmp_path / "receipt-key.pem"),
            }
        )
        hub.app = app
        yield hub, app
        get_database(app).dispose()


def test_sign_in_grant_land_on_next_then_withdraw(
    browser: webdriver.Chrome, hub_and_idp: tuple[LiveServer, Flask]
) -> None:
    hub, app = hub_and_idp
    token = make_token(app, "hris", ["scim:read", "scim:write"])
    create_user(ScimClient(app.test_client(), token), "bjensen")
    landing = "/account/consent?purpose=learning_records&recipient=lms"

    browser.get(
        f"{hub.url}/account/consent?purpose=eap_referral&recipient=eap"
        f"&next=/account/consent%3Fpurpose%3Dlearning_records%26recipient%3Dlms"
    )
    assert browser.title == "Corporate login"
    browser.find_element(By.ID, "continue").click()

    WebDriverWait(browser, 20, ignored_exceptions=PAGE_CHANGING).until(
        lambda b: b.find_elements(By.ID, "grant-eap_referral-eap")
    )
    assert "Referral to the employee assistance programme" in browser.page_source
    assert "You have not agreed." in browser.page_source
    grant = browser.find_element(By.ID, "grant-eap_referral-eap")
    grant.send_keys(Keys.ENTER)  # keyboard only

    # The consent page's own URL names learning_records too, inside ``next``:
    # wait for the whole landing address, not a part of it.
    wait_until(browser, lambda b: _path_and_query(b.current_url) == landing, "next")
    browser.get(f"{hub.url}/account/consent")
    assert "You agreed on" in browser.page_source
    assert len(browser.find_elements(By.PARTIAL_LINK_TEXT, "Download receipt")) == 1

    browser.find_element(By.ID, "withdraw-eap_referral-eap").click()
    WebDriverWait(browser, 20, ignored_exceptions=PAGE_CHANGING).until(
        lambda b: "withdrawn" in b.find_element(By.CSS_SELECTOR, "main").text
    )
    assert "withdrawn" in browser.find_element(By.CSS_SELECTOR, "main").text
    section = browser.find_element(By.CSS_SELECTOR, "section.offer")
    assert "You have not agreed." in section.text


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"
