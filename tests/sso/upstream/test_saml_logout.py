"""SAML single logout: the hub's LogoutRequest and its answer, and the IdP's own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.errors import OneLogin_Saml2_Error
from sqlalchemy import select

from scimserver.audit.models import AuditEntry
from scimserver.db import get_database
from scimserver.sso.models import LoginRequest
from tests.conftest import BASE_URL, ScimClient
from tests.sso.upstream.conftest import (
    assertion_for,
    create_user,
    post_response,
    sp_entity_id,
    start_saml_login,
)
from tests.sso.upstream.saml_idp import KeyPair, TestIdp
from tests.sso.upstream.saml_slo import (
    REQUESTER,
    RSA_SHA1,
    LogoutMessage,
    check_logout_response,
    logout_request_url,
    logout_response_url,
    read_logout_request,
)
from tests.sso.upstream.test_saml import audit_entries, signed_in_user

SLO_URL = "https://idp.corp.test/slo"
#: Where the browser goes; the messages name the public URL (``sls_url``).
SLS_PATH = "/sso/saml/corp/sls"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"


def sls_url(alias: str = "corp") -> str:
    return f"{BASE_URL}/sso/saml/{alias}/sls"


@pytest.fixture
def hub_keys() -> KeyPair:
    """The hub's SP key: it signs LogoutRequests and LogoutResponses."""
    return KeyPair.generate("Hub SP")


@pytest.fixture
def sso_toml(sso_toml: str, tmp_path: Path, hub_keys: KeyPair) -> str:
    """The corporate IdP offers single logout; the partner IdP does not."""
    (tmp_path / "sp.pem").write_text(hub_keys.certificate)
    (tmp_path / "sp.key").write_text(hub_keys.private_key)
    sso_url = 'sso_url = "https://idp.corp.test/sso"\n'
    assert sso_url in sso_toml
    text = sso_toml.replace(sso_url, f'{sso_url}slo_url = "{SLO_URL}"\n')
    return (
        f'{text}\n[saml_sp]\ncertificate_file = "sp.pem"\nprivate_key_file = "sp.key"\n'
    )


def sign_in(
    client: FlaskClient, scim: ScimClient, idp: TestIdp, alias: str = "corp"
) -> tuple[str, str]:
    """Sign bjensen in at ``alias``; her User id and the IdP's SessionIndex."""
    user_id = create_user(scim, "bjensen", externalId="E-1001")
    request = start_saml_login(client, alias)
    assertion = assertion_for(request, "bjensen", attributes={"uid": ["E-1001"]})
    response = post_response(client, alias, idp.response(assertion))
    assert response.status_code == 303, response.get_data(as_text=True)
    assert signed_in_user(client) == user_id
    return user_id, assertion.session_index


def sign_out(client: FlaskClient, **form: str) -> Any:
    """Press "Sign out" on the consent page, as the employee would."""
    page = client.get("/account/consent").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None, page
    return client.post("/sso/logout", data={"csrf_token": token.group(1), **form})


def needs_login(client: FlaskClient) -> bool:
    """Whether a page that needs a session sends the browser to sign in."""
    response = client.get("/account/consent")
    return response.status_code in (302, 303) and "/sso/login" in response.location


def refusals(app: Flask) -> list[AuditEntry]:
    return audit_entries(app, "sso.logout_refused")


def assert_refused(app: Flask, response: Any, reason: str, status: int = 403) -> None:
    """A clear page naming the reason, and an audit entry with that reason."""
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "sign-out could not be completed" in page
    assert reason in page
    entry = refusals(app)[-1]
    assert entry.detail["reason"] == reason
    assert "bjensen" not in str(entry.detail)


def test_metadata_names_the_single_logout_service_where_the_idp_has_one(
    client: FlaskClient,
) -> None:
    corp = etree.fromstring(client.get("/sso/saml/corp/metadata").data)
    partner = etree.fromstring(client.get("/sso/saml/partner/metadata").data)

    service = corp.find(f".//{{{MD}}}SingleLogoutService")
    assert service is not None
    assert service.get("Location") == sls_url()
    assert service.get("Binding").endswith(":bindings:HTTP-Redirect")
    assert partner.find(f".//{{{MD}}}SingleLogoutService") is None


def test_sp_initiated_logout_round_trip(
    client: FlaskClient,
    scim: ScimClient,
    app: Flask,
    corp_idp: TestIdp,
    hub_keys: KeyPair,
) -> None:
    user_id, session_index = sign_in(client, scim, corp_idp)

    started = sign_out(client)
    assert started.status_code == 303
    assert started.location.startswith(f"{SLO_URL}?")
    assert needs_login(client)  # the hub session ended before the IdP answers
    seen = read_logout_request(started.location, hub_keys.certificate)
    assert seen.signature_valid is True
    assert (seen.name_id, seen.session_index) == ("bjensen", session_index)
    assert seen.issuer == sp_entity_id("corp")
    assert seen.destination == SLO_URL
    answer = LogoutMessage(sls_url(), seen.id, relay_state=seen.relay_state)

    finished = client.get(logout_response_url(corp_idp, SLS_PATH, answer))

    assert finished.status_code == 200
    assert "You are signed out" in finished.get_data(as_text=True)
    assert needs_login(client)
    [started_entry, finished_entry] = audit_entries(app, "sso.logout")
    assert started_entry.resource_id == user_id
    assert started_entry.detail["message"] == "LogoutRequest"
    assert finished_entry.detail["message"] == "LogoutResponse"
    assert finished_entry.detail["idp_confirmed"] is True
    assert "bjensen" not in str(started_entry.detail)
    with get_database(app).sessions() as session:
        assert session.get(LoginRequest, seen.id) is None  # used up


def test_sp_initiated_logout_lands_on_next(
    client: FlaskClient, scim: ScimClient, corp_idp: TestIdp
) -> None:
    sign_in(client, scim, corp_idp)
    seen = read_logout_request(sign_out(client, next="/sso/login").location)

    answer = LogoutMessage(sls_url(), seen.id)
    finished = client.get(logout_response_url(corp_idp, SLS_PATH, answer))

    assert finished.status_code == 303
    assert finished.location == "/sso/login"


def test_a_logout_response_is_accepted_once(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    sign_in(client, scim, corp_idp)
    seen = read_logout_request(sign_out(client).location)
    url = logout_response_url(corp_idp, SLS_PATH, LogoutMessage(sls_url(), seen.id))
    assert client.get(url).status_code == 200

    assert_refused(app, client.get(url), "unknown_request")


def test_without_slo_url_only_the_hub_session_ends(
    client: FlaskClient, scim: ScimClient, app: Flask, partner_idp: TestIdp
) -> None:
    user_id, _ = sign_in(client, scim, partner_idp, "partner")

    response = sign_out(client)

    assert response.status_code == 200
    assert "You are signed out" in response.get_data(as_text=True)
    assert needs_login(client)
    [entry] = audit_entries(app, "sso.logout")
    assert entry.resource_id == user_id
    assert entry.detail["idp"] == "partner"
    assert entry.detail["message"] is None
    assert client.get("/sso/saml/partner/sls").status_code == 404
    with get_database(app).sessions() as session:
        assert session.scalars(select(LoginRequest)).all() == []


def test_a_logout_request_that_cannot_be_built_still_signs_out_of_the_hub(
    client: FlaskClient,
    scim: ScimClient,
    app: Flask,
    corp_idp: TestIdp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """python3-saml failing to sign (say, a key replaced by a broken one).

    The failure is injected: the SP key is read once at start-up, so a broken key
    file cannot be swapped in under a running app.
    """
    user_id, _ = sign_in(client, scim, corp_idp)

    def broken(*args: object, **kwargs: object) -> str:
        raise OneLogin_Saml2_Error(
            "cannot sign", OneLogin_Saml2_Error.SP_CERTS_NOT_FOUND
        )

    monkeypatch.setattr(OneLogin_Saml2_Auth, "logout", broken)
    response = sign_out(client)

    assert response.status_code == 200
    assert "You are signed out" in response.get_data(as_text=True)
    assert needs_login(client)
    [entry] = audit_entries(app, "sso.logout")
    assert entry.resource_id == user_id
    assert entry.detail["message"] is None


def test_idp_initiated_logout_ends_the_session_and_is_answered(
    client: FlaskClient,
    scim: ScimClient,
    app: Flask,
    corp_idp: TestIdp,
    hub_keys: KeyPair,
) -> None:
    user_id, session_index = sign_in(client, scim, corp_idp)
    message = LogoutMessage(
        sls_url(), name_id="bjensen", session_index=session_index, relay_state="rs-1"
    )
    url = logout_request_url(corp_idp, SLS_PATH, message)

    response = client.get(url)

    assert response.status_code == 303
    assert response.location.startswith(f"{SLO_URL}?")
    assert needs_login(client)
    errors = check_logout_response(
        response.location,
        corp_idp,
        hub_entity_id=sp_entity_id("corp"),
        hub_certificate=hub_keys.certificate,
        request_id=read_logout_request(url).id,
    )
    assert errors == []
    assert "RelayState=rs-1" in response.location
    [entry] = audit_entries(app, "sso.logout")
    assert entry.resource_id == user_id
    assert entry.detail["initiated_by"] == "idp"
    assert entry.detail["session_ended"] is True


def test_the_idps_check_catches_a_changed_logout_response(
    client: FlaskClient,
    scim: ScimClient,
    corp_idp: TestIdp,
    hub_keys: KeyPair,
) -> None:
    """The test side's check is not a rubber stamp: another key fails it."""
    _, session_index = sign_in(client, scim, corp_idp)
    message = LogoutMessage(sls_url(), name_id="bjensen", session_index=session_index)
    url = logout_request_url(corp_idp, SLS_PATH, message)
    response = client.get(url)

    errors = check_logout_response(
        response.location,
        corp_idp,
        hub_entity_id=sp_entity_id("corp"),
        hub_certificate=KeyPair.generate("Someone else").certificate,
        request_id=read_logout_request(url).id,
    )

    assert "invalid_logout_response_signature" in errors


@pytest.mark.parametrize(
    ("name_id", "index_changes"),
    [("someone-else", False), ("bjensen", True)],
    ids=["other-name-id", "other-session-index"],
)
def test_idp_logout_of_another_session_keeps_this_one(
    client: FlaskClient,
    scim: ScimClient,
    app: Flask,
    corp_idp: TestIdp,
    name_id: str,
    index_changes: bool,
) -> None:
    user_id, session_index = sign_in(client, scim, corp_idp)
    index = "_another-session" if index_changes else session_index
    message = LogoutMessage(sls_url(), name_id=name_id, session_index=index)

    response = client.get(logout_request_url(corp_idp, SLS_PATH, message))

    assert response.status_code == 303  # answered: this principal is not here
    assert signed_in_user(client) == user_id
    [entry] = audit_entries(app, "sso.logout")
    assert entry.detail["session_ended"] is False
    assert entry.resource_id is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"sign": False}, "unsigned"),
        ({"keys": KeyPair.generate("Impostor")}, "bad_signature"),
        ({"signature_algorithm": RSA_SHA1}, "deprecated_algorithm"),
        (
            {"destination": "https://hub.other.test/sso/saml/corp/sls"},
            "wrong_destination",
        ),
        ({"destination": f"{BASE_URL}/sso/saml/corp/sls/x"}, "wrong_destination"),
    ],
    ids=["unsigned", "other-key", "sha1", "other-host", "longer-path"],
)
def test_a_doubtful_idp_logout_request_is_refused_and_the_session_kept(
    client: FlaskClient,
    scim: ScimClient,
    app: Flask,
    corp_idp: TestIdp,
    changes: dict[str, Any],
    reason: str,
) -> None:
    user_id, session_index = sign_in(client, scim, corp_idp)
    message = LogoutMessage(sls_url(), name_id="bjensen", session_index=session_index)
    for name, value in changes.items():
        setattr(message, name, value)

    response = client.get(logout_request_url(corp_idp, SLS_PATH, message))

    assert_refused(app, response, reason)
    assert signed_in_user(client) == user_id
    assert audit_entries(app, "sso.logout") == []


def test_a_tampered_idp_logout_request_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    user_id, session_index = sign_in(client, scim, corp_idp)
    other = LogoutMessage(sls_url(), name_id="someone-else")
    signed = logout_request_url(corp_idp, SLS_PATH, other)
    mine = LogoutMessage(sls_url(), name_id="bjensen", session_index=session_index)
    unsigned = logout_request_url(corp_idp, SLS_PATH, _unsigned(mine))
    # The message of one request with the signature of another.
    tampered = unsigned + signed[signed.index("&SigAlg=") :]

    response = client.get(tampered)

    assert_refused(app, response, "bad_signature")
    assert signed_in_user(client) == user_id


def test_a_replayed_idp_logout_request_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    _, session_index = sign_in(client, scim, corp_idp)
    message = LogoutMessage(sls_url(), name_id="bjensen", session_index=session_index)
    url = logout_request_url(corp_idp, SLS_PATH, message)
    assert client.get(url).status_code == 303

    assert_refused(app, client.get(url), "replayed")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"in_response_to": "_not-ours"}, "unknown_request"),
        ({"in_response_to": None}, "unknown_request"),
        ({"keys": KeyPair.generate("Impostor")}, "bad_signature"),
        (
            {"destination": "https://hub.other.test/sso/saml/corp/sls"},
            "wrong_destination",
        ),
        ({"status": REQUESTER}, "idp_error"),
    ],
    ids=["unknown", "no-in-response-to", "other-key", "other-host", "not-success"],
)
def test_a_doubtful_logout_response_is_refused(
    client: FlaskClient,
    scim: ScimClient,
    app: Flask,
    corp_idp: TestIdp,
    changes: dict[str, Any],
    reason: str,
) -> None:
    sign_in(client, scim, corp_idp)
    seen = read_logout_request(sign_out(client).location)
    answer = LogoutMessage(sls_url(), seen.id)
    for name, value in changes.items():
        setattr(answer, name, value)

    response = client.get(logout_response_url(corp_idp, SLS_PATH, answer))

    assert_refused(app, response, reason)
    assert needs_login(client)  # the hub session ended when the logout began
    [entry] = refusals(app)
    assert entry.detail["message"] == "LogoutResponse"


def test_a_login_request_id_does_not_answer_a_logout(
    client: FlaskClient, app: Flask, corp_idp: TestIdp
) -> None:
    login = start_saml_login(client)

    answer = LogoutMessage(sls_url(), login.id)
    response = client.get(logout_response_url(corp_idp, SLS_PATH, answer))

    assert_refused(app, response, "unknown_request")
    with get_database(app).sessions() as session:
        assert session.get(LoginRequest, login.id) is not None


def test_a_logout_request_of_another_idp_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    user_id, session_index = sign_in(client, scim, corp_idp)
    stranger = TestIdp("https://idp.stranger.test/metadata")
    message = LogoutMessage(sls_url(), name_id="bjensen", session_index=session_index)

    response = client.get(logout_request_url(stranger, SLS_PATH, message))

    assert_refused(app, response, "bad_signature")
    assert signed_in_user(client) == user_id


@pytest.mark.parametrize(
    "query", ["", "?SAMLRequest=not-base64!", "?SAMLResponse=PHhtbD4%3D"]
)
def test_malformed_logout_messages_are_a_clear_400(
    client: FlaskClient, app: Flask, query: str
) -> None:
    response = client.get(f"/sso/saml/corp/sls{query}")

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.get_data(as_text=True)
    assert refusals(app)[-1].detail["reason"] == "malformed"


def _unsigned(message: LogoutMessage) -> LogoutMessage:
    message.sign = False
    return message
