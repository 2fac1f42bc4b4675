"""The consent page in headless Chromium, after a real SAML login.

The hub and a small corporate IdP both run on 127.0.0.1; the browser follows
every redirect, submits the IdP's HTTP-POST form, grants on the consent page
with the keyboard, lands on ``next``, and withdraws again.
"""

from __future__ import annotations

import html
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, request
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait
from werkzeug.serving import make_server

from scimserver import create_app, schema_migrations
from scimserver.db import get_database
from tests.conftest import ScimClient, make_token
from tests.sso.upstream.conftest import OFFERS, create_user
from tests.sso.upstream.saml_idp import Assertion, TestIdp

CHROMIUM = "/usr/bin/chromium"
#: What reading a page that is being replaced may raise; a wait tries again.
PAGE_CHANGING = (StaleElementReferenceException, NoSuchElementException)
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Flags that let Chromium run headless as root in a container, offline.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

WsgiApp = Callable[..., Any]


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing; .ci/run installs it")
        pytest.skip("Chromium is not installed (CI installs it)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


class LiveServer:
    """A WSGI application served on a free loopback port from a thread."""

    def __init__(self) -> None:
        self.app: WsgiApp | None = None
        self.server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.thread.join()


def corporate_login(idp: TestIdp, user: str) -> Flask:
    """The IdP's pages: a login that answers with an auto-post form (no script)."""
    app = Flask("corporate_idp")

    @app.get("/sso")
    def sso() -> str:
        authn = idp.read_request(request.url)
        assertion = Assertion(
            name_id=user,
            audience=authn.issuer,
            recipient=authn.acs_url,
            in_response_to=authn.id,
        )
        return (
            "<!doctype html><title>Corporate login</title>"
            f'<form method="post" action="{html.escape(authn.acs_url)}">'
            '<input type="hidden" name="SAMLResponse" '
            f'value="{idp.response(assertion)}">'
            '<input type="hidden" name="RelayState" '
            f'value="{html.escape(authn.relay_state or "")}">'
            f'<button id="continue">Continue as {html.escape(user)}</button></form>'
        )

    return app


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

    WebDriverWait(browser, 20, ignored_exceptions=PAGE_CHANGING).until(
        lambda b: "learning_records" in b.current_url
    )
    current = urlsplit(browser.current_url)
    assert f"{current.path}?{current.query}" == landing
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
