"""RP-initiated logout and the launch links into the applications."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.conftest import ScimClient
from tests.sso.provider.conftest import (
    USER,
    AppClient,
    ConsentDesk,
    LiveHub,
    Party,
    browser_for,
)

EAP_LOGOUT = "https://eap.example/signed-out"


def signed_in_eap(
    hub: LiveHub, eap: Party, employee: str, consents: ConsentDesk
) -> tuple[httpx.Client, str]:
    consents.grant(employee, [f"{USER}:name"])
    browser = browser_for(hub, employee)
    return browser, AppClient(hub, eap).sign_in(browser).token["id_token"]


def test_logout_with_id_token_hint_returns_to_the_registered_uri(
    hub: LiveHub, eap: Party, employee: str, consents: ConsentDesk
) -> None:
    consents.grant(employee, [f"{USER}:name"])
    browser, rp = browser_for(hub, employee), AppClient(hub, eap)
    signed_in = rp.sign_in(browser)
    id_token = signed_in.token["id_token"]
    query = {
        "id_token_hint": id_token,
        "post_logout_redirect_uri": EAP_LOGOUT,
        "state": "bye",
    }

    response = browser.get(f"/oidc/logout?{urlencode(query)}")

    assert response.status_code == 302
    assert response.headers["Location"] == f"{EAP_LOGOUT}?state=bye"
    assert rp.userinfo(signed_in.token["access_token"]).status_code == 401
    again = AppClient(hub, eap).start(browser)
    assert urlsplit(again.headers["Location"]).path == "/sso/login"


def test_logout_never_redirects_to_an_unregistered_uri(
    hub: LiveHub, eap: Party, employee: str, consents: ConsentDesk
) -> None:
    browser, id_token = signed_in_eap(hub, eap, employee, consents)
    query = {
        "id_token_hint": id_token,
        "post_logout_redirect_uri": "https://evil.example/",
    }

    response = browser.get(f"/oidc/logout?{urlencode(query)}")

    assert response.status_code == 200
    assert "signed out" in response.text


def test_logout_without_id_token_hint_asks_first(
    hub: LiveHub, eap: Party, employee: str, consents: ConsentDesk
) -> None:
    browser, _id_token = signed_in_eap(hub, eap, employee, consents)

    page = browser.get("/oidc/logout?client_id=eap")
    still = AppClient(hub, eap).start(browser)
    assert page.status_code == 200 and "<form" in page.text
    assert still.headers["Location"].startswith(eap.redirect_uri)

    forged = browser.post("/oidc/logout", data={"client_id": "eap"})
    assert "<form" in forged.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', forged.text)
    assert token is not None
    done = browser.post(
        "/oidc/logout", data={"client_id": "eap", "csrf_token": token.group(1)}
    )
    assert "signed out" in done.text
    after = AppClient(hub, eap).start(browser)
    assert urlsplit(after.headers["Location"]).path == "/sso/login"


def test_a_forged_id_token_hint_is_refused(hub: LiveHub, eap: Party) -> None:
    browser = browser_for(hub, None)

    response = browser.get("/oidc/logout?id_token_hint=e30.e30.AAAA")

    assert response.status_code == 400


def test_launch_without_a_session_signs_in_upstream_then_comes_back(
    hub: LiveHub, lms: Party
) -> None:
    response = browser_for(hub, None).get("/sso/launch/lms")

    location = urlsplit(response.headers["Location"])
    assert location.path == "/sso/login"
    assert parse_qs(location.query)["next"] == ["/sso/launch/lms"]


def test_launch_starts_the_apps_third_party_login(
    hub: LiveHub, lms: Party, employee: str
) -> None:
    response = browser_for(hub, employee).get("/sso/launch/lms")

    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        "https://lms.example/oidc/login"
    )
    query = parse_qs(location.query)
    assert query["iss"] == [hub.url]
    assert query["target_link_uri"] == ["https://lms.example/home"]


def test_launch_without_login_uri_goes_to_the_launch_url(
    hub: LiveHub, eap: Party, employee: str
) -> None:
    response = browser_for(hub, employee).get("/sso/launch/eap")

    assert response.headers["Location"] == "https://eap.example/start"


def test_launch_of_an_unknown_app_is_a_page(hub: LiveHub, employee: str) -> None:
    response = browser_for(hub, employee).get("/sso/launch/nothing")

    assert response.status_code == 404
    assert "text/html" in response.headers["Content-Type"]


def test_a_deactivated_employee_cannot_launch(
    hub: LiveHub, lms: Party, employee: str, scim: ScimClient
) -> None:
    assert scim.delete(f"/Users/{employee}").status_code == 204

    response = browser_for(hub, employee).get("/sso/launch/lms")

    assert response.status_code == 403
    assert "Location" not in response.headers
