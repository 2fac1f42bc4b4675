"""The SSO configuration file: what it accepts and how it names its mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from scimserver.sso.config import SsoConfigError, load

IDP = """
[saml.corp]
entity_id = "https://idp.corp.test/metadata"
sso_url = "https://idp.corp.test/sso"
certificate_file = "corp.pem"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "corp.pem").write_text("-----BEGIN CERTIFICATE-----\nAA==\n")
    path = tmp_path / "sso.toml"
    path.write_text(text)
    return path


def test_a_saml_idp_with_defaults(tmp_path: Path) -> None:
    config = load(write(tmp_path, IDP))

    idp = config.saml["corp"]
    assert idp.certificates[0].startswith("-----BEGIN CERTIFICATE-----")
    assert idp.link.source == "nameid"
    assert idp.link.target == "userName"
    assert idp.link.jit_create is False
    assert idp.allow_idp_initiated is False


def test_an_oidc_idp_reads_its_secret_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s3cret\n")
    text = (
        '[oidc.staff]\nissuer = "https://login.test/"\nclient_id = "hub"\n'
        'client_secret_file = "secret"\n'
    )

    idp = load(write(tmp_path, text)).oidc["staff"]

    assert idp.client_secret == "s3cret"
    assert idp.issuer == "https://login.test"
    assert idp.link.source == "preferred_username"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (IDP.replace("entity_id", "entity"), "unknown keys: entity"),
        (IDP.replace("https://idp.corp.test/sso", "ftp://x"), "must be an http"),
        (IDP + 'match_to = "displayName"', "match_to must be one of"),
        (IDP + 'match_to = "email"', "email_verified_by_idp = true"),
        (IDP + 'allow_idp_initiated = "yes"', "must be true or false"),
        (IDP.replace("corp.pem", "missing.pem"), "cannot read certificate_file"),
        (IDP.replace("[saml.corp]", "[saml.Corp]"), "an alias is lower-case"),
        ("[ldap.x]\n", "unknown sections: ldap"),
        ("[saml.corp\n", "is not valid TOML"),
        (
            '[oidc.x]\nissuer = "https://l.test"\nclient_id = "a"\n'
            'client_secret = "b"\nscopes = ["email"]',
            "scopes must include 'openid'",
        ),
        ("[[consent_offers]]\npurpose = 'x'\n", "data_categories must be"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SsoConfigError, match=message):
        load(write(tmp_path, text))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SsoConfigError, match="cannot read"):
        load(tmp_path / "nothing.toml")
