"""The SSO configuration file: upstream identity providers and consent offers.

The file is TOML, named by the ``sso_config_file`` setting; without it single
sign-on is off. It has up to four parts::

    [saml.corp]                      # one table per SAML IdP, by alias
    entity_id = "https://idp.example.com/metadata"
    sso_url = "https://idp.example.com/sso"
    certificate_file = "/etc/scimserver/corp-idp.pem"   # or certificate = "..."
    match_to = "userName"            # userName, externalId or email

    [oidc.partner]                   # one table per OpenID Provider, by alias
    issuer = "https://login.example.org"
    client_id = "hub"
    client_secret_file = "/etc/scimserver/partner-secret"

    [saml_sp]                        # optional key pair signing AuthnRequests
    [[consent_offers]]               # what the consent page offers

Certificates and keys are read from the file or inline, never fetched. Every
mistake is reported at start-up as :class:`SsoConfigError` naming the key.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app

logger = logging.getLogger(__name__)

EXTENSION_KEY = "scimserver.sso_config"
ALIAS = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
#: The User attributes a login can be matched to on first sign-in.
MATCH_TARGETS = ("userName", "externalId", "email")
NAME_ID = "nameid"
LINK_KEYS = frozenset(
    {"match_from", "match_to", "email_verified_by_idp", "jit_create", "default"}
)
SAML_KEYS = LINK_KEYS | {
    "entity_id",
    "sso_url",
    "slo_url",
    "certificate",
    "certificate_file",
    "allow_idp_initiated",
    "display_name",
}
OIDC_KEYS = LINK_KEYS | {
    "issuer",
    "client_id",
    "client_secret",
    "client_secret_file",
    "scopes",
    "display_name",
}


class SsoConfigError(ValueError):
    """The SSO configuration file is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class LinkRule:
    """How a first login finds its User: which value, matched to which attribute.

    ``source`` is ``nameid`` (SAML), an attribute name (SAML) or a claim (OIDC);
    ``target`` is one of :data:`MATCH_TARGETS`. ``email_trusted`` says that the
    IdP verifies the email addresses it asserts (OIDC reads ``email_verified``).
    """

    source: str
    target: str
    email_trusted: bool = False
    jit_create: bool = False


@dataclass(frozen=True)
class SamlIdp:
    """A SAML 2.0 identity provider the hub trusts."""

    alias: str
    entity_id: str
    sso_url: str
    certificates: tuple[str, ...]
    link: LinkRule
    slo_url: str | None = None
    allow_idp_initiated: bool = False
    display_name: str = ""
    default: bool = False

    @property
    def issuer(self) -> str:
        """The issuer of its assertions, as identity links record it."""
        return self.entity_id


@dataclass(frozen=True)
class OidcIdp:
    """An OpenID Provider the hub signs people in with (the hub is its client)."""

    alias: str
    issuer: str
    client_id: str
    client_secret: str
    link: LinkRule
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    display_name: str = ""
    default: bool = False


@dataclass(frozen=True)
class SpKeyPair:
    """The hub's own SAML key pair (PEM), for signed AuthnRequests and metadata."""

    certificate: str
    private_key: str


@dataclass(frozen=True)
class ConsentOffer:
    """A consent the employee is offered: a purpose, a recipient and what it sees."""

    purpose: str
    recipient: str
    data_categories: tuple[str, ...]
    notice_version: str
    title: str
    description: str


@dataclass(frozen=True)
class SsoConfig:
    """Everything the SSO configuration file says."""

    saml: dict[str, SamlIdp] = field(default_factory=dict)
    oidc: dict[str, OidcIdp] = field(default_factory=dict)
    sp_keys: SpKeyPair | None = None
    consent_offers: tuple[ConsentOffer, ...] = ()

    @property
    def identity_providers(self) -> list[SamlIdp | OidcIdp]:
        """Every configured IdP, SAML ones first, each in file order."""
        return [*self.saml.values(), *self.oidc.values()]


def init_app(app: Flask) -> None:
    """Read the configuration file named by the settings, if any."""
    path = app.config["SETTINGS"].sso_config_file
    app.extensions[EXTENSION_KEY] = load(Path(path)) if path else SsoConfig()


def sso_config() -> SsoConfig:
    """The SSO configuration of the current application."""
    config: SsoConfig = current_app.extensions[EXTENSION_KEY]
    return config


def load(path: Path) -> SsoConfig:
    """Read and check the TOML file at ``path``."""
    try:
        document = tomllib.loads(path.read_text("utf-8"))
    except OSError as error:
        raise SsoConfigError(f"cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise SsoConfigError(f"{path} is not valid TOML: {error}") from None
    return parse(document, path.parent)


def parse(document: dict[str, Any], folder: Path) -> SsoConfig:
    """Build the configuration from a parsed document; files relative to ``folder``."""
    unknown = set(document) - {"saml", "oidc", "saml_sp", "consent_offers"}
    if unknown:
        raise SsoConfigError(f"unknown sections: {', '.join(sorted(unknown))}")
    reader = _Reader(folder)

    saml = {a: reader.saml(a, t) for a, t in _tables(document, "saml").items()}
    oidc = {a: reader.oidc(a, t) for a, t in _tables(document, "oidc").items()}
    clash = set(saml) & set(oidc)
    if clash:
        raise SsoConfigError(f"alias used twice: {', '.join(sorted(clash))}")
    offers = tuple(
        _offer(i, t) for i, t in enumerate(document.get("consent_offers", []))
    )

    sp = document.get("saml_sp")
    sp_keys = reader.sp_keys(sp) if isinstance(sp, dict) else None
    return SsoConfig(saml, oidc, sp_keys, offers)


def _tables(document: dict[str, Any], section: str) -> dict[str, dict[str, Any]]:
    tables = document.get(section, {})
    if not isinstance(tables, dict):
        raise SsoConfigError(f"[{section}] must hold one table per alias")
    for alias, table in tables.items():
        if not ALIAS.match(alias) or not isinstance(table, dict):
            raise SsoConfigError(
                f"[{section}.{alias}]: an alias is lower-case letters, digits, "
                "'-' or '_', and names a table"
            )
    return tables


class _Reader:
    """Reads IdP tables; ``*_file`` keys are resolved against the file's folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def saml(self, alias: str, table: dict[str, Any]) -> SamlIdp:
        where = f"[saml.{alias}]"
        _known_keys(where, table, SAML_KEYS)
        certificates = self._texts(where, table, "certificate")
        if not certificates:
            raise SsoConfigError(f"{where}: set certificate or certificate_file")
        return SamlIdp(
            alias=alias,
            entity_id=_text(where, table, "entity_id"),
            sso_url=_url(where, table, "sso_url"),
            certificates=certificates,
            link=_link(where, table, default_source=NAME_ID, saml=True),
            slo_url=_url(where, table, "slo_url") if "slo_url" in table else None,
            allow_idp_initiated=_flag(where, table, "allow_idp_initiated"),
            display_name=str(table.get("display_name", alias)),
            default=_flag(where, table, "default"),
        )

    def oidc(self, alias: str, table: dict[str, Any]) -> OidcIdp:
        where = f"[oidc.{alias}]"
        _known_keys(where, table, OIDC_KEYS)
        secrets = self._texts(where, table, "client_secret")
        if len(secrets) != 1:
            raise SsoConfigError(f"{where}: set client_secret or client_secret_file")
        scopes = table.get("scopes", ["openid", "profile", "email"])
        if "openid" not in scopes:
            raise SsoConfigError(f"{where}: scopes must include 'openid'")
        return OidcIdp(
            alias=alias,
            issuer=_url(where, table, "issuer").rstrip("/"),
            client_id=_text(where, table, "client_id"),
            client_secret=secrets[0].strip(),
            link=_link(where, table, default_source="preferred_username", saml=False),
            scopes=tuple(scopes),
            display_name=str(table.get("display_name", alias)),
            default=_flag(where, table, "default"),
        )

    def sp_keys(self, table: dict[str, Any]) -> SpKeyPair:
        certificate = self._texts("[saml_sp]", table, "certificate")
        private_key = self._texts("[saml_sp]", table, "private_key")
        if len(certificate) != 1 or len(private_key) != 1:
            raise SsoConfigError(
                "[saml_sp]: set one certificate(_file) and one private_key(_file)"
            )
        return SpKeyPair(certificate[0], private_key[0])

    def _texts(self, where: str, table: dict[str, Any], key: str) -> tuple[str, ...]:
        """The inline value of ``key`` and the content of ``key_file``, if set."""
        found = [str(table[key])] if key in table else []
        name = table.get(f"{key}_file")
        if name is not None:
            try:
                found.append((self.folder / str(name)).read_text("utf-8"))
            except OSError as error:
                raise SsoConfigError(
                    f"{where}: cannot read {key}_file: {error.strerror}"
                ) from None
        return tuple(found)


def _link(
    where: str, table: dict[str, Any], *, default_source: str, saml: bool
) -> LinkRule:
    target = str(table.get("match_to", "userName"))
    if target not in MATCH_TARGETS:
        raise SsoConfigError(f"{where}: match_to must be one of {MATCH_TARGETS}")
    trusted = _flag(where, table, "email_verified_by_idp")
    if target == "email" and saml and not trusted:
        # An address the IdP does not vouch for could be anybody's.
        raise SsoConfigError(
            f"{where}: match_to = 'email' needs email_verified_by_idp = true"
        )
    return LinkRule(
        source=str(table.get("match_from", default_source)),
        target=target,
        email_trusted=trusted,
        jit_create=_flag(where, table, "jit_create"),
    )


def _offer(index: int, table: Any) -> ConsentOffer:
    where = f"consent_offers[{index}]"
    if not isinstance(table, dict):
        raise SsoConfigError(f"{where} must be a table")
    categories = table.get("data_categories")
    if not isinstance(categories, list) or not categories:
        raise SsoConfigError(f"{where}: data_categories must be a non-empty list")
    return ConsentOffer(
        purpose=_text(where, table, "purpose"),
        recipient=_text(where, table, "recipient"),
        data_categories=tuple(str(c) for c in categories),
        notice_version=_text(where, table, "notice_version"),
        title=str(table.get("title", table["purpose"])),
        description=str(table.get("description", "")),
    )


def _known_keys(where: str, table: dict[str, Any], known: frozenset[str]) -> None:
    """Refuse a misspelt key rather than silently use its default."""
    unknown = sorted(set(table) - known)
    if unknown:
        raise SsoConfigError(f"{where}: unknown keys: {', '.join(unknown)}")


def _text(where: str, table: dict[str, Any], key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SsoConfigError(f"{where}: {key} is required")
    return value.strip()


def _url(where: str, table: dict[str, Any], key: str) -> str:
    value = _text(where, table, key)
    if not value.startswith(("https://", "http://")):
        raise SsoConfigError(f"{where}: {key} must be an http(s) URL")
    return value


def _flag(where: str, table: dict[str, Any], key: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise SsoConfigError(f"{where}: {key} must be true or false")
    return value
