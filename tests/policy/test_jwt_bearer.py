"""JWT bearer tokens signed by a trusted issuer, as Microsoft Entra ID sends them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey
from sqlalchemy import select

from scimserver.cli import main
from scimserver.db import get_database
from scimserver.models import Client
from scimserver.policy.client_settings import InvalidKeySet, public_key_set
from scimserver.policy.jwt_bearer import looks_like_jwt
from tests.conftest import ScimClient, make_token

TENANT = "c6a1f5b2-0d4e-4f8a-9b3c-1e2d3f4a5b6c"
ISSUER = f"https://sts.windows.net/{TENANT}/"
AUDIENCE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "entra-1"})


@pytest.fixture(scope="module")
def other_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "entra-1"})


@pytest.fixture
def jwks_file(tmp_path: Path, signing_key: RSAKey) -> Path:
    """A JWKS file as an administrator saves it; it even holds the private half."""
    path = tmp_path / "entra-keys.json"
    path.write_text(json.dumps(KeySet([signing_key]).as_dict(private=True)))
    return path


@pytest.fixture
def entra_client(app: Flask, jwks_file: Path) -> str:
    make_token(app, "entra", ["scim:read", "scim:write"])
    result = app.test_cli_runner().invoke(
        main,
        [
            "clients",
            "update",
            "entra",
            "--profile",
            "entra",
            "--jwt-issuer",
            ISSUER,
            "--jwt-audience",
            AUDIENCE,
            "--jwt-keys",
            str(jwks_file),
        ],
    )
    assert result.exit_code == 0, result.output
    return "entra"


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + 3600,
        "appid": "00000014-0000-0000-c000-000000000000",
        "tid": TENANT,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any, payload: dict[str, Any], alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": "entra-1", "typ": "JWT"}, payload, key)


def test_a_token_from_the_trusted_issuer_authenticates_the_client(
    client: FlaskClient, entra_client: str, signing_key: RSAKey
) -> None:
    scim = ScimClient(client, sign(signing_key, claims()))

    listed = scim.get("/Users")
    created = scim.post(
        "/Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "jwt@contoso.com",
            "active": "True",
        },
    )

    assert listed.status_code == 200
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["active"] is True


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"aud": "someone-else"}, id="wrong-audience"),
        pytest.param({"iss": "https://sts.windows.net/other/"}, id="wrong-issuer"),
        pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"exp": None}, id="no-expiry"),
        pytest.param({"aud": None}, id="no-audience"),
        pytest.param({"nbf": int(time.time()) + 3600}, id="not-yet-valid"),
        pytest.param({"aud": ["a", "b"]}, id="audience-list-without-ours"),
    ],
)
def test_claims_that_do_not_match_are_refused(
    client: FlaskClient,
    entra_client: str,
    signing_key: RSAKey,
    changes: dict[str, Any],
) -> None:
    scim = ScimClient(client, sign(signing_key, claims(**changes)))

    assert scim.get("/Users").status_code == 401


def test_an_audience_list_holding_ours_is_accepted(
    client: FlaskClient, entra_client: str, signing_key: RSAKey
) -> None:
    token = sign(signing_key, claims(aud=["other", AUDIENCE]))

    assert ScimClient(client, token).get("/Users").status_code == 200


@pytest.mark.parametrize("kind", ["other-rsa-key", "hmac", "ec-key", "unsigned"])
def test_tokens_not_signed_by_a_trusted_key_are_refused(
    client: FlaskClient, entra_client: str, other_key: RSAKey, kind: str
) -> None:
    payload = claims()
    if kind == "other-rsa-key":
        token = sign(other_key, payload)
    elif kind == "hmac":
        token = sign(OctKey.import_key("x" * 32), payload, alg="HS256")
    elif kind == "ec-key":
        token = sign(ECKey.generate_key("P-256"), payload, alg="ES256")
    else:
        header, body, _signature = sign(other_key, payload).split(".")
        token = f"{header}.{body}.AAAA"

    assert ScimClient(client, token).get("/Users").status_code == 401


def test_only_public_keys_are_stored(app: Flask, entra_client: str) -> None:
    with get_database(app).sessions() as session:
        stored = session.scalar(select(Client).where(Client.name == entra_client))
        assert stored is not None
        keys = stored.jwt_keys or {}

    assert [key["kid"] for key in keys["keys"]] == ["entra-1"]
    assert all("d" not in key and "p" not in key for key in keys["keys"])


def test_no_jwt_turns_jwt_bearer_off(
    app: Flask, client: FlaskClient, entra_client: str, signing_key: RSAKey
) -> None:
    result = app.test_cli_runner().invoke(
        main, ["clients", "update", entra_client, "--no-jwt"]
    )

    assert result.exit_code == 0, result.output
    token = sign(signing_key, claims())
    assert ScimClient(client, token).get("/Users").status_code == 401


def test_a_rotated_key_replaces_the_old_one(
    app: Flask,
    client: FlaskClient,
    entra_client: str,
    signing_key: RSAKey,
    other_key: RSAKey,
    tmp_path: Path,
) -> None:
    rotated = tmp_path / "rotated.json"
    rotated.write_text(json.dumps(KeySet([other_key]).as_dict()))

    result = app.test_cli_runner().invoke(
        main, ["clients", "update", entra_client, "--jwt-keys", str(rotated)]
    )

    assert result.exit_code == 0, result.output
    old = ScimClient(client, sign(signing_key, claims()))
    new = ScimClient(client, sign(other_key, claims()))
    assert (old.get("/Users").status_code, new.get("/Users").status_code) == (401, 200)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param("not json", id="not-json"),
        pytest.param('{"keys": []}', id="empty"),
        pytest.param(
            '{"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}]}',
            id="secret",
        ),
        pytest.param('{"keys": [{"kty": "RSA"}]}', id="incomplete"),
    ],
)
def test_unusable_key_sets_are_refused(document: str) -> None:
    with pytest.raises(InvalidKeySet):
        public_key_set(document)


def test_jwt_trust_needs_keys(app: Flask) -> None:
    make_token(app, "entra", ["scim:read"])

    result = app.test_cli_runner().invoke(
        main, ["clients", "update", "entra", "--jwt-issuer", ISSUER]
    )

    assert result.exit_code != 0
    assert "--jwt-keys" in result.output


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("scs_abcdef", False),
        ("a.b.c", True),
        ("a.b.", False),
        ("a.b.c.d.e", False),
    ],
)
def test_looks_like_jwt(token: str, expected: bool) -> None:
    assert looks_like_jwt(token) is expected
