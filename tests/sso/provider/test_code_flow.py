"""The authorization code flow end to end: an authlib RP against the hub on HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc.errors import InvalidClaimError

from scimserver.cli import main
from scimserver.policy.pseudonyms import derive_key, pseudonym
from tests.sso.provider.conftest import (
    LMS_CALLBACK,
    USER,
    AppClient,
    ConsentDesk,
    LiveHub,
    Party,
    browser_for,
)


def test_the_lms_signs_an_employee_in_with_a_verified_id_token(
    hub: LiveHub, lms: Party, employee: str
) -> None:
    rp = AppClient(hub, lms)

    signed_in = rp.sign_in(browser_for(hub, employee))

    secret = hub.app.config["SETTINGS"].secret_key
    assert signed_in.claims["sub"] == pseudonym(
        derive_key(secret), "learning", employee
    )
    assert signed_in.claims["sub"] != employee
    assert signed_in.header["kid"] in {key.kid for key in hub.key_set()}
    assert signed_in.claims["preferred_username"] == "ada"
    assert signed_in.claims["name"] == "Ada Lovelace"
    assert "at_hash" in signed_in.claims and "auth_time" in signed_in.claims
    assert signed_in.token["token_type"].lower() == "bearer"
    assert "refresh_token" not in signed_in.token


def test_a_policy_set_for_the_lms_scim_client_governs_its_next_sign_in(
    hub: LiveHub, lms: Party, employee: str, tmp_path: Path
) -> None:
    browser = browser_for(hub, employee)
    before = AppClient(hub, lms).sign_in(browser).claims
    policy = {
        "read": {
            "classifications": ["public", "internal"],
            "deny": [f"{USER}:userName"],
        }
    }
    (tmp_path / "lms.json").write_text(json.dumps(policy))

    changed = hub.app.test_cli_runner().invoke(
        main, ["clients", "policy", "set", "lms", "--file", str(tmp_path / "lms.json")]
    )
    after = AppClient(hub, lms).sign_in(browser).claims

    assert changed.exit_code == 0, changed.output
    assert before["preferred_username"] == "ada"
    assert "preferred_username" not in after
    assert after["name"] == "Ada Lovelace"  # displayName, still released


def test_the_code_comes_back_with_the_state(
    hub: LiveHub, lms: Party, employee: str
) -> None:
    rp = AppClient(hub, lms)

    response = rp.start(browser_for(hub, employee), state="xyz-123")

    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == LMS_CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["xyz-123"] and len(query["code"][0]) >= 40


def test_userinfo_agrees_with_the_id_token(
    hub: LiveHub, lms: Party, employee: str
) -> None:
    rp = AppClient(hub, lms)
    signed_in = rp.sign_in(browser_for(hub, employee))

    response = rp.userinfo(signed_in.token["access_token"])

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    info = response.json()
    for claim in ("sub", "name", "preferred_username"):
        assert info[claim] == signed_in.claims[claim]


def test_pairwise_subjects_differ_between_sectors_and_stay_stable(
    hub: LiveHub, lms: Party, eap: Party, employee: str, consents: ConsentDesk
) -> None:
    consents.grant(employee, [f"{USER}:name"])
    browser = browser_for(hub, employee)

    lms_first = AppClient(hub, lms).sign_in(browser).claims["sub"]
    lms_again = AppClient(hub, lms).sign_in(browser).claims["sub"]
    eap_first = AppClient(hub, eap).sign_in(browser).claims["sub"]
    eap_again = AppClient(hub, eap).sign_in(browser).claims["sub"]

    assert lms_first == lms_again
    assert eap_first == eap_again
    assert lms_first != eap_first


def test_a_token_of_another_party_is_refused_by_its_audience(
    hub: LiveHub, lms: Party, eap: Party, employee: str
) -> None:
    lms_rp = AppClient(hub, lms)
    signed_in = lms_rp.sign_in(browser_for(hub, employee))
    eap_view = AppClient(hub, eap)
    eap_view.nonce = lms_rp.nonce

    with pytest.raises(InvalidClaimError):
        eap_view.verify(signed_in.token["id_token"])
