"""``/sso/login``: straight to the only or default IdP, else a chooser page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from tests.sso.upstream.conftest import configure_sso

TWO_IDPS = """
[saml.corp]
entity_id = "https://idp.corp.test/metadata"
sso_url = "https://idp.corp.test/sso"
certificate = "x"
display_name = "Corporate login"

[oidc.partner]
issuer = "https://login.partner.test"
client_id = "hub"
client_secret = "s"
display_name = "Partner login"
"""


def test_the_default_idp_starts_at_once(client: FlaskClient) -> None:
    response = client.get("/sso/login?next=/account/consent%3Fpurpose%3Dx")

    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/sso/saml/corp/login"
    assert parse_qs(location.query)["next"] == ["/account/consent?purpose=x"]


def test_several_idps_without_default_show_a_chooser(
    client: FlaskClient, app: Flask, tmp_path: Path
) -> None:
    configure_sso(app, tmp_path, TWO_IDPS)

    response = client.get("/sso/login?next=/x")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/sso/saml/corp/login?next=%2Fx">Corporate login' in page
    assert 'href="/sso/oidc/partner/login?next=%2Fx">Partner login' in page


def test_an_open_redirect_is_refused(client: FlaskClient) -> None:
    response = client.get("/sso/login?next=https://evil.test/")

    assert response.status_code == 400
    assert "must be on this server" in response.get_data(as_text=True)


def test_without_idps_the_page_says_so(
    client: FlaskClient, app: Flask, tmp_path: Path
) -> None:
    configure_sso(app, tmp_path, "")

    response = client.get("/sso/login")

    assert response.status_code == 404
    assert "not configured" in response.get_data(as_text=True)


def test_logout_needs_the_form_token(client: FlaskClient) -> None:
    assert client.post("/sso/logout", data={}).status_code == 400
