"""Consent at the door, and claims released only as far as consent goes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.sso.provider.conftest import (
    USER,
    AppClient,
    ConsentDesk,
    LiveHub,
    Party,
    browser_for,
)


def test_without_consent_the_eap_employee_goes_to_the_consent_page(
    hub: LiveHub, eap: Party, employee: str
) -> None:
    rp = AppClient(hub, eap)

    response = rp.start(browser_for(hub, employee))

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/account/consent"
    query = parse_qs(location.query)
    assert query["purpose"] == ["eap_referral"]
    assert query["recipient"] == ["eap-vendor"]
    back = urlsplit(query["next"][0])
    assert back.path == "/oidc/authorize"
    assert parse_qs(back.query)["client_id"] == ["eap"]


def test_prompt_none_without_consent_answers_consent_required(
    hub: LiveHub, eap: Party, employee: str
) -> None:
    response = AppClient(hub, eap).start(browser_for(hub, employee), prompt="none")

    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["consent_required"] and "code" not in query


def test_the_consent_page_leads_back_to_a_code(
    hub: LiveHub, eap: Party, employee: str, consents: ConsentDesk
) -> None:
    rp, browser = AppClient(hub, eap), browser_for(hub, employee)
    consent_page = rp.start(browser).headers["Location"]
    consents.grant(employee, [f"{USER}:name", f"{USER}:emails"])

    back = parse_qs(urlsplit(consent_page).query)["next"][0]
    response = browser.get(back)

    assert response.status_code == 302
    assert response.headers["Location"].startswith(eap.redirect_uri + "?code=")
    assert rp.finish(response.headers["Location"]).claims["email"] == (
        "ada@corp.example"
    )


def test_the_eap_gets_name_and_email_only_as_far_as_consent_releases_them(
    hub: LiveHub, eap: Party, employee: str, consents: ConsentDesk
) -> None:
    browser = browser_for(hub, employee)
    consents.grant(employee, [f"{USER}:name"])

    names_only = AppClient(hub, eap).sign_in(browser).claims
    consents.grant(employee, [f"{USER}:name", f"{USER}:emails"])
    both = AppClient(hub, eap).sign_in(browser).claims

    assert names_only["given_name"] == "Ada" and names_only["family_name"] == (
        "Lovelace"
    )
    assert "email" not in names_only and "email_verified" not in names_only
    assert both["email"] == "ada@corp.example" and both["email_verified"] is True


def test_the_lms_never_gets_what_only_consent_to_the_eap_releases(
    hub: LiveHub, lms: Party, employee: str, consents: ConsentDesk
) -> None:
    consents.grant(employee, [f"{USER}:name", f"{USER}:emails"])

    claims = AppClient(hub, lms).sign_in(browser_for(hub, employee)).claims

    assert claims["name"] == "Ada Lovelace"  # displayName, public
    assert "given_name" not in claims and "email" not in claims


def test_withdrawal_ends_the_eap_token_and_the_next_sign_in(
    hub: LiveHub, eap: Party, employee: str, consents: ConsentDesk
) -> None:
    browser = browser_for(hub, employee)
    consent = consents.grant(employee, [f"{USER}:name"])
    rp = AppClient(hub, eap)
    signed_in = rp.sign_in(browser)
    assert rp.userinfo(signed_in.token["access_token"]).json()["given_name"] == "Ada"

    consents.withdraw(consent)

    assert rp.userinfo(signed_in.token["access_token"]).status_code == 401
    again = AppClient(hub, eap).start(browser)
    assert urlsplit(again.headers["Location"]).path == "/account/consent"
