"""Discovery, the JWKS, and key rotation that keeps issued tokens verifiable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from authlib.oidc import rpinitiated
from authlib.oidc.discovery import OpenIDProviderMetadata
from flask import Flask
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import RSAKey
from sqlalchemy import select

from scimserver.cli import main
from scimserver.db import get_database
from scimserver.sso.provider.models import SigningKey
from scimserver.sso.provider.signing_keys import SigningKeys, jwk_password
from tests.sso.provider.conftest import AppClient, LiveHub, Party, browser_for


def rotate(app: Flask) -> str:
    result = app.test_cli_runner().invoke(main, ["oidc", "keys", "rotate"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_discovery_document_is_valid_and_says_what_is_enforced(
    hub: LiveHub,
) -> None:
    metadata = OpenIDProviderMetadata(hub.metadata())

    metadata.validate(metadata_classes=[rpinitiated.OpenIDProviderMetadata])

    assert metadata["issuer"] == hub.url
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["subject_types_supported"] == ["pairwise"]
    assert metadata["end_session_endpoint"] == f"{hub.url}/oidc/logout"


def test_the_jwks_publishes_the_current_and_the_next_key(hub: LiveHub) -> None:
    keys = list(hub.key_set())

    assert len(keys) == 2
    assert all(not key.is_private for key in keys)
    assert {key.get("use") for key in keys} == {"sig"}


def test_private_keys_are_stored_encrypted(hub: LiveHub, app: Flask) -> None:
    hub.key_set()

    with get_database(app).sessions() as session:
        stored = list(session.scalars(select(SigningKey.private_key)))

    assert len(stored) == 2
    assert all("BEGIN ENCRYPTED PRIVATE KEY" in pem for pem in stored)
    assert jwk_password("one secret") != jwk_password("another")


def test_after_rotation_old_tokens_verify_and_new_ones_use_the_next_key(
    hub: LiveHub, app: Flask, lms: Party, employee: str
) -> None:
    browser = browser_for(hub, employee)
    before = AppClient(hub, lms).sign_in(browser)
    next_kid = [key.kid for key in hub.key_set() if key.kid != before.header["kid"]]

    rotate(app)

    rp = AppClient(hub, lms)
    rp.nonce = before.claims["nonce"]
    claims, _header = rp.verify(before.token["id_token"])
    assert claims["sub"] == before.claims["sub"]
    after = AppClient(hub, lms).sign_in(browser)
    assert after.header["kid"] == next_kid[0]
    assert len(list(hub.key_set())) == 3


def test_a_retired_key_leaves_the_jwks_after_its_grace_period(
    hub: LiveHub, app: Flask, lms: Party, employee: str
) -> None:
    signed = AppClient(hub, lms).sign_in(browser_for(hub, employee))
    rotate(app)
    settings = app.config["SETTINGS"]
    store = SigningKeys(settings.secret_key, settings.oidc_retired_key_seconds)
    later = datetime.now(UTC) + timedelta(seconds=settings.oidc_retired_key_seconds)

    with get_database(app).sessions() as session:
        published = store.published(session, later + timedelta(seconds=1))

    assert signed.header["kid"] not in {key.kid for key in published}
    assert len(list(published)) == 2


def test_a_token_signed_by_an_unknown_key_does_not_verify(
    hub: LiveHub, app: Flask, lms: Party, employee: str
) -> None:
    signed = AppClient(hub, lms).sign_in(browser_for(hub, employee))
    forger = RSAKey.generate_key(2048, {"kid": signed.header["kid"]})
    forged = jwt.encode(dict(signed.header), signed.claims, forger)

    with pytest.raises(BadSignatureError):
        jwt.decode(forged, hub.key_set(), algorithms=["RS256"])


def test_the_keys_command_lists_roles(hub: LiveHub, app: Flask) -> None:
    hub.key_set()
    rotate(app)

    result = app.test_cli_runner().invoke(main, ["oidc", "keys", "list"])

    roles = [line.split("\t")[1] for line in result.output.splitlines()]
    assert roles == ["next", "current", "retired"]
