"""Linking a login to a provisioned User: deterministic, once, never by guesswork."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ScimClient
from tests.sso.upstream.conftest import (
    CORP,
    assertion_for,
    configure_sso,
    create_user,
    post_response,
    start_saml_login,
)
from tests.sso.upstream.saml_idp import TestIdp
from tests.sso.upstream.test_saml import assert_refused, audit_entries, signed_in_user


def corp_with(app: Flask, tmp_path: Path, idp: TestIdp, rules: str) -> None:
    """Configure the corporate IdP with other link rules."""
    certificate = idp.keys.certificate.replace("\n", "\\n")
    configure_sso(
        app,
        tmp_path,
        f'[saml.corp]\nentity_id = "{CORP}"\nsso_url = "https://idp.corp.test/sso"\n'
        f'certificate = "{certificate}"\n{rules}\n',
    )


def login(client: FlaskClient, idp: TestIdp, name_id: str, **attributes: str) -> Any:
    request = start_saml_login(client)
    values = {name: [value] for name, value in attributes.items()}
    assertion = assertion_for(request, name_id, attributes=values)
    return post_response(client, "corp", idp.response(assertion))


def test_jit_creation_is_off_by_default(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    assert_refused(app, login(client, corp_idp, "newcomer"), "no_account")
    assert scim.get("/Users").get_json()["totalResults"] == 0


def test_jit_creation_when_the_idp_allows_it(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp, tmp_path: Path
) -> None:
    corp_with(app, tmp_path, corp_idp, "jit_create = true")

    response = login(client, corp_idp, "newcomer")

    assert response.status_code == 303
    [user] = scim.get("/Users").get_json()["Resources"]
    assert user["userName"] == "newcomer"
    assert user["active"] is True
    assert signed_in_user(client) == user["id"]
    assert audit_entries(app, "sso.sign_in")[-1].detail["matched_by"] == "jit"


def test_a_work_email_attribute_links_when_the_idp_vouches_for_it(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp, tmp_path: Path
) -> None:
    emails = [{"value": "babs@example.com", "type": "work"}]
    user_id = create_user(scim, "bjensen", emails=emails)
    corp_with(
        app,
        tmp_path,
        corp_idp,
        'match_from = "mail"\nmatch_to = "email"\nemail_verified_by_idp = true',
    )

    response = login(client, corp_idp, "opaque-7", mail="BABS@example.com")

    assert response.status_code == 303
    assert signed_in_user(client) == user_id


def test_two_users_matching_one_login_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp, tmp_path: Path
) -> None:
    create_user(scim, "bjensen", externalId="E-1")
    create_user(scim, "bjensen2", externalId="E-1")
    corp_with(app, tmp_path, corp_idp, 'match_from = "uid"\nmatch_to = "externalId"')

    response = login(client, corp_idp, "opaque-7", uid="E-1")

    assert_refused(app, response, "ambiguous")


def test_a_missing_match_attribute_is_refused(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp, tmp_path: Path
) -> None:
    create_user(scim, "bjensen", externalId="E-1")
    corp_with(app, tmp_path, corp_idp, 'match_from = "uid"\nmatch_to = "externalId"')

    response = login(client, corp_idp, "opaque-7")

    assert_refused(app, response, "no_match_value")


def test_a_deleted_user_cannot_sign_in_by_an_old_link(
    client: FlaskClient, scim: ScimClient, app: Flask, corp_idp: TestIdp
) -> None:
    user_id = create_user(scim, "bjensen")
    assert login(client, corp_idp, "bjensen").status_code == 303
    assert scim.delete(f"/Users/{user_id}").status_code == 204

    response = login(app.test_client(), corp_idp, "bjensen")

    assert response.status_code == 403
