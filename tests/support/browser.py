"""Headless Chromium, live loopback servers and a corporate IdP, for page tests.

The ``browser`` fixture is a plugin of the whole suite (see ``tests/conftest.py``);
the rest is imported by the tests that drive pages over real HTTP.
"""

from __future__ import annotations

import html
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, request
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.wait import WebDriverWait
from werkzeug.serving import make_server

from tests.sso.upstream.saml_idp import Assertion, TestIdp

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: What reading a page that is being replaced may raise; a wait tries again.
PAGE_CHANGING = (StaleElementReferenceException, NoSuchElementException)
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
#: How long a page change may take on a loaded two-core machine.
PATIENCE = 20

WsgiApp = Callable[..., Any]


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium; missing, it fails the test under CI and skips it elsewhere."""
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


def wait_until(
    browser: webdriver.Chrome, condition: Callable[[Any], Any], what: str
) -> Any:
    """Wait for ``condition`` of the browser, reading through page changes.

    On timeout the test fails naming ``what`` it waited for and where the
    browser stands instead.
    """
    wait = WebDriverWait(browser, PATIENCE, ignored_exceptions=PAGE_CHANGING)
    try:
        return wait.until(condition)
    except TimeoutException:
        where = urlsplit(browser.current_url)
        pytest.fail(
            f"waited {PATIENCE} s for {what}; the browser shows "
            f"{browser.title!r} at {where.netloc}{where.path}"
        )


class LiveServer:
    """A WSGI application served on a free loopback port from a thread.

    ``host`` names the address in :attr:`url`: ``localhost`` puts a server on
    another site than those named ``127.0.0.1``, as far as cookies go.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.app: WsgiApp | None = None
        self.server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
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
