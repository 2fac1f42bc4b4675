"""Authorization requests refused: PKCE, redirect URIs, sign-in, inactive employees."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from flask import Flask

from scimserver.sso.provider.relying_parties import Registration
from tests.conftest import ScimClient
from tests.sso.provider.conftest import (
    LMS_CALLBACK,
    AppClient,
    LiveHub,
    Party,
    browser_for,
    challenge_of,
    register_party,
)

VERIFIER = "a-verifier-that-is-long-enough-for-rfc-7636-pkce-0123"


def authorize(browser: httpx.Client, party: Party, **changes: Any) -> httpx.Response:
    """Send an authorization request built by hand, with ``changes`` applied."""
    params: dict[str, Any] = {
        "response_type": "code",
        "client_id": party.client_id,
        "redirect_uri": party.redirect_uri,
        "scope": "openid profile",
        "state": "s-1",
        "code_challenge": challenge_of(VERIFIER),
        "code_challenge_method": "S256",
    }
    params.update(changes)
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return browser.get(f"/oidc/authorize?{query}")


def redirect_error(response: httpx.Response) -> str:
    """The ``error`` sent back to the redirect URI; fails when a code came back."""
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert "code" not in query
    return query["error"][0]


@pytest.mark.parametrize(
    "changes",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": None},
        {"code_challenge_method": "plain", "code_challenge": VERIFIER},
    ],
    ids=["no-pkce", "no-method", "plain"],
)
def test_a_confidential_client_without_s256_pkce_gets_no_code(
    hub: LiveHub, lms: Party, employee: str, changes: dict[str, Any]
) -> None:
    response = authorize(browser_for(hub, employee), lms, **changes)

    assert redirect_error(response) == "invalid_request"
    assert response.headers["Location"].startswith(LMS_CALLBACK)


def test_a_wrong_code_verifier_is_refused(
    hub: LiveHub, lms: Party, employee: str
) -> None:
    rp = AppClient(hub, lms)
    callback = rp.start(browser_for(hub, employee)).headers["Location"]
    rp.verifier = "another-verifier-of-sufficient-length-for-pkce-checks"

    with pytest.raises(OAuthError) as refused:
        rp.finish(callback)

    assert refused.value.error == "invalid_grant"


def test_a_token_request_without_verifier_is_refused(
    hub: LiveHub, lms: Party, employee: str
) -> None:
    rp = AppClient(hub, lms)
    callback = rp.start(browser_for(hub, employee)).headers["Location"]
    code = parse_qs(urlsplit(callback).query)["code"][0]

    response = httpx.post(
        rp.metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": lms.redirect_uri,
        },
        auth=(lms.client_id, lms.secret),
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "access_token" not in response.json()


def test_a_code_is_redeemed_once_and_a_replay_revokes_its_tokens(
    hub: LiveHub, lms: Party, employee: str
) -> None:
    rp = AppClient(hub, lms)
    callback = rp.start(browser_for(hub, employee)).headers["Location"]
    first = rp.finish(callback)
    assert rp.userinfo(first.token["access_token"]).status_code == 200

    with pytest.raises(OAuthError) as replayed:
        rp.finish(callback)

    assert replayed.value.error == "invalid_grant"
    revoked = rp.userinfo(first.token["access_token"])
    assert revoked.status_code == 401
    assert "invalid_token" in revoked.headers["WWW-Authenticate"]


def test_an_unregistered_redirect_uri_gets_a_page_not_a_redirect(
    hub: LiveHub, lms: Party, employee: str
) -> None:
    response = authorize(
        browser_for(hub, employee), lms, redirect_uri="https://evil.example/cb"
    )

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "text/html" in response.headers["Content-Type"]
    assert "not registered" in response.text


def test_a_missing_redirect_uri_is_refused(
    hub: LiveHub, lms: Party, employee: str
) -> None:
    response = authorize(browser_for(hub, employee), lms, redirect_uri=None)

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_the_token_request_must_repeat_the_redirect_uri(
    hub: LiveHub, employee: str, app: Flask
) -> None:
    party = register_party(
        app,
        Registration(
            client_id="lms2",
            redirect_uris=(LMS_CALLBACK, "https://lms.example/other"),
        ),
    )
    rp = AppClient(hub, party)
    callback = rp.start(browser_for(hub, employee)).headers["Location"]
    rp.oauth.redirect_uri = "https://lms.example/other"

    with pytest.raises(OAuthError) as refused:
        rp.finish(callback)

    assert refused.value.error == "invalid_grant"


def test_an_unknown_client_gets_a_page(hub: LiveHub, employee: str) -> None:
    party = Party("nobody", "", LMS_CALLBACK)

    response = authorize(browser_for(hub, employee), party)

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_without_a_hub_session_the_browser_signs_in_upstream_first(
    hub: LiveHub, lms: Party
) -> None:
    response = authorize(browser_for(hub, None), lms)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/sso/login"
    back = parse_qs(location.query)["next"][0]
    assert back.startswith("/oidc/authorize?")
    assert parse_qs(urlsplit(back).query)["client_id"] == ["lms"]


def test_prompt_none_without_a_session_answers_login_required(
    hub: LiveHub, lms: Party
) -> None:
    response = authorize(browser_for(hub, None), lms, prompt="none")

    assert redirect_error(response) == "login_required"


def test_prompt_login_sends_a_signed_in_employee_to_sign_in_again(
    hub: LiveHub, lms: Party, employee: str
) -> None:
    response = authorize(browser_for(hub, employee), lms, prompt="login")

    location = urlsplit(response.headers["Location"])
    assert location.path == "/sso/login"
    back = parse_qs(location.query)["next"][0]
    assert "prompt" not in parse_qs(urlsplit(back).query)


def test_a_deactivated_employee_gets_no_code(
    hub: LiveHub, lms: Party, employee: str, scim: ScimClient
) -> None:
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    assert scim.patch(f"/Users/{employee}", patch).status_code == 200

    response = authorize(browser_for(hub, employee), lms)

    assert redirect_error(response) == "access_denied"


def test_a_code_is_refused_once_the_employee_is_deactivated(
    hub: LiveHub, lms: Party, employee: str, scim: ScimClient
) -> None:
    rp = AppClient(hub, lms)
    callback = rp.start(browser_for(hub, employee)).headers["Location"]
    assert scim.delete(f"/Users/{employee}").status_code == 204

    with pytest.raises(OAuthError) as refused:
        rp.finish(callback)

    assert refused.value.error == "invalid_grant"


def test_an_overlong_nonce_is_refused(hub: LiveHub, lms: Party, employee: str) -> None:
    response = authorize(browser_for(hub, employee), lms, nonce="n" * 513)

    assert redirect_error(response) == "invalid_request"


def test_two_concurrent_redemptions_of_one_code_yield_one_token(
    hub: LiveHub, lms: Party, employee: str
) -> None:
    rp = AppClient(hub, lms)
    callback = rp.start(browser_for(hub, employee)).headers["Location"]
    outcomes: list[str] = []

    def redeem() -> None:
        app = AppClient(hub, lms, verifier=rp.verifier)
        app.nonce = rp.nonce
        try:
            app.finish(callback)
            outcomes.append("token")
        except OAuthError as error:
            outcomes.append(str(error.error))

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Exactly one redemption wins. The losers are refused; on a loaded machine
    # SQLite may refuse a writer that waited past its busy timeout with a
    # server_error rather than invalid_grant, which is still no token.
    assert len(outcomes) == 4 and outcomes.count("token") == 1
    assert set(outcomes) - {"token"} <= {"invalid_grant", "server_error"}
