"""``scimserver oidc clients create|list|show``."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from scimserver.cli import main
from scimserver.db import get_database
from scimserver.policy.clients import create_client
from scimserver.sso.provider.models import RelyingParty
from scimserver.sso.provider.relying_parties import hash_secret
from tests.sso.provider.conftest import EAP_POLICY


def invoke(app: Flask, *arguments: str) -> tuple[int, str, str]:
    result = app.test_cli_runner().invoke(main, ["oidc", "clients", *arguments])
    return result.exit_code, result.stdout, result.stderr


def stored(app: Flask, client_id: str) -> RelyingParty:
    with get_database(app).sessions() as session:
        party = session.scalar(
            select(RelyingParty).where(RelyingParty.client_id == client_id)
        )
        assert party is not None
        return party


def test_create_prints_the_secret_and_stores_only_its_digest(
    app: Flask, tmp_path: Path
) -> None:
    policy = tmp_path / "eap.json"
    policy.write_text(json.dumps(EAP_POLICY))

    code, out, _err = invoke(
        app,
        "create",
        "eap",
        "--redirect-uri",
        "https://eap.example/callback",
        "--sector",
        "eap",
        "--policy",
        str(policy),
        "--consent-purpose",
        "eap_referral",
        "--consent-recipient",
        "eap-vendor",
    )

    assert code == 0
    secret = out.strip()
    party = stored(app, "eap")
    assert secret.startswith("ocs_") and party.secret_hash == hash_secret(secret)
    assert secret not in json.dumps(party.policy)
    assert party.consent_purpose == "eap_referral"
    assert party.policy is not None and party.policy["recipient"] == "eap-vendor"


def test_list_and_show_never_print_the_secret(app: Flask) -> None:
    with get_database(app).sessions() as session:
        create_client(session, "lms", ["scim:read"])
        session.commit()
    _code, secret, _err = invoke(
        app,
        "create",
        "lms",
        "--redirect-uri",
        "https://lms.example/cb",
        "--scim-client",
        "lms",
    )

    _code, listing, _err = invoke(app, "list")
    code, shown, _err = invoke(app, "show", "lms")

    assert listing.split("\t")[:2] == ["lms", "lms"]
    assert code == 0 and json.loads(shown)["redirect_uris"] == [
        "https://lms.example/cb"
    ]
    assert secret.strip() not in listing + shown


def test_a_public_client_has_no_secret(app: Flask) -> None:
    code, out, _err = invoke(
        app,
        "create",
        "mobile",
        "--redirect-uri",
        "https://app.example/cb",
        "--auth-method",
        "none",
    )

    assert code == 0 and "no secret" in out
    assert stored(app, "mobile").secret_hash is None


def test_bad_registrations_are_refused_with_every_reason(app: Flask) -> None:
    code, _out, err = invoke(
        app,
        "create",
        "Bad Name",
        "--redirect-uri",
        "lms.example/cb",
        "--grant-type",
        "client_credentials",
        "--auth-method",
        "none",
        "--scope",
        'openid "quoted"',
    )

    assert code == 1
    assert "client id" in err
    assert "invalid scope" in err
    assert "not an absolute" in err
    assert "confidential" in err


def test_an_invalid_policy_is_refused(app: Flask, tmp_path: Path) -> None:
    policy = tmp_path / "bad.json"
    policy.write_text(json.dumps({"read": {"attributes": ["noSuchAttribute"]}}))

    code, _out, err = invoke(
        app,
        "create",
        "eap",
        "--redirect-uri",
        "https://e.example/cb",
        "--policy",
        str(policy),
    )

    assert code == 1 and "invalid policy" in err and "noSuchAttribute" in err


def test_an_unknown_scim_client_and_a_duplicate_are_refused(app: Flask) -> None:
    args = ("create", "lms", "--redirect-uri", "https://lms.example/cb")

    unknown = invoke(app, *args, "--scim-client", "nobody")
    first = invoke(app, *args)
    again = invoke(app, *args)

    assert unknown[0] == 1 and "no SCIM client" in unknown[2]
    assert first[0] == 0
    assert again[0] == 1 and "exists already" in again[2]


def test_show_of_an_unknown_party_fails(app: Flask) -> None:
    code, _out, err = invoke(app, "show", "nobody")

    assert code == 1 and "no relying party" in err
