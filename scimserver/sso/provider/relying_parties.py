"""Registered relying parties: what an application may ask of the OpenID Provider.

A relying party is registered from the command line (``scimserver oidc clients
create``), never dynamically. Its registration says where codes may be sent
(exact ``redirect_uri`` match, RFC 6749 §3.1.2.3 and RFC 9700 §4.1.3), under
which pairwise sector it sees employees, which release policy governs its
claims, and which consent an employee must have given before it gets a code.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, list_to_scope, scope_to_list
from sqlalchemy import select
from sqlalchemy.orm import Session

from scimserver.models import Client
from scimserver.policy.pseudonyms import SECTOR_PATTERN
from scimserver.sso.provider.models import RelyingParty

logger = logging.getLogger(__name__)

SECRET_PREFIX = "ocs_"
CLIENT_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
PURPOSE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,99}")
#: A scope token (RFC 6749 §3.3): printable ASCII but space, ``"`` and ``\``.
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,100}")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
GRANT_TYPES = ("authorization_code", "client_credentials")
USER_SCOPES = ("openid", "profile", "email", "phone")


class RegistrationError(ValueError):
    """A registration that cannot be stored; the message says why."""


@dataclass(frozen=True)
class Registration:
    """What an operator asks for when registering a relying party."""

    client_id: str
    redirect_uris: Sequence[str] = ()
    post_logout_redirect_uris: Sequence[str] = ()
    grant_types: Sequence[str] = ("authorization_code",)
    scope: str = "openid profile email"
    sector: str | None = None
    auth_method: str = "client_secret_basic"
    scim_client: str | None = None
    policy: dict[str, Any] | None = None
    consent_purpose: str | None = None
    consent_recipient: str | None = None
    launch_url: str | None = None
    initiate_login_uri: str | None = None


def hash_secret(secret: str) -> str:
    """The SHA-256 digest under which a client secret is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def register(session: Session, registration: Registration) -> tuple[RelyingParty, str]:
    """Store a relying party; return it and its secret in clear ("" if public)."""
    _check(session, registration)
    scim_client = _scim_client(session, registration.scim_client)

    secret = "" if registration.auth_method == "none" else _new_secret()
    party = RelyingParty(
        client_id=registration.client_id,
        secret_hash=hash_secret(secret) if secret else None,
        auth_method=registration.auth_method,
        redirect_uris=list(registration.redirect_uris),
        post_logout_redirect_uris=list(registration.post_logout_redirect_uris),
        grant_types=sorted(set(registration.grant_types)),
        scope=list_to_scope(sorted(set(scope_to_list(registration.scope)))),
        sector=registration.sector or registration.client_id,
        scim_client_id=scim_client.id if scim_client else None,
        policy=registration.policy,
        consent_purpose=registration.consent_purpose,
        consent_recipient=_recipient(registration),
        launch_url=registration.launch_url,
        initiate_login_uri=registration.initiate_login_uri,
        created=datetime.now(UTC),
    )
    session.add(party)
    session.flush()
    logger.info("relying party registered client_id=%s", party.client_id)
    return party, secret


def find_relying_party(session: Session, client_id: str) -> RelyingParty | None:
    """The relying party registered as ``client_id``, or None."""
    return session.scalar(
        select(RelyingParty).where(RelyingParty.client_id == client_id)
    )


def list_relying_parties(session: Session) -> list[RelyingParty]:
    """Every relying party, by client_id."""
    return list(session.scalars(select(RelyingParty).order_by(RelyingParty.client_id)))


def requires_consent(party: RelyingParty) -> bool:
    """Whether an employee must have consented before the party gets a code."""
    return party.consent_purpose is not None and party.consent_recipient is not None


class OAuthClient(ClientMixin):
    """A relying party as authlib's authorization server sees it (RFC 6749 §2)."""

    def __init__(self, party: RelyingParty) -> None:
        self.party = party

    @property
    def client_id(self) -> str:
        """The OAuth ``client_id``."""
        return self.party.client_id

    @property
    def client_metadata(self) -> dict[str, Any]:
        """Registered metadata that authlib's endpoints read (RFC 7591 §2)."""
        return {"post_logout_redirect_uris": list(self.party.post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        client_id: str = self.party.client_id
        return client_id

    def get_default_redirect_uri(self) -> str | None:
        """The only registered URI, when there is exactly one (RFC 6749 §3.1.2.3)."""
        uris = self.party.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes that are registered; all of them when none asked.

        RFC 6749 §3.3 lets the server narrow a scope, or default an absent one.
        """
        allowed = scope_to_list(self.party.scope) or []
        wanted = scope_to_list(scope) if scope else allowed
        granted: str = list_to_scope([s for s in wanted if s in allowed])
        return granted

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string match only, no pattern or prefix (RFC 9700 §4.1.3)."""
        return redirect_uri in self.party.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.party.secret_hash is None:
            return False
        return hmac.compare_digest(self.party.secret_hash, hash_secret(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return method == self.party.auth_method
        return True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.check_grant_type("authorization_code")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.party.grant_types


def _check(session: Session, registration: Registration) -> None:
    problems = _field_problems(registration)
    if find_relying_party(session, registration.client_id) is not None:
        problems.append(f"a relying party {registration.client_id!r} exists already")
    if problems:
        raise RegistrationError("; ".join(problems))


def _field_problems(registration: Registration) -> list[str]:
    problems = []
    if not CLIENT_ID_PATTERN.fullmatch(registration.client_id):
        problems.append("the client id must be lower-case letters, digits, . _ -")
    if registration.sector and not SECTOR_PATTERN.fullmatch(registration.sector):
        problems.append(f"invalid sector {registration.sector!r}")
    if registration.auth_method not in AUTH_METHODS:
        problems.append(f"unknown authentication method {registration.auth_method!r}")
    problems += _grant_problems(registration)
    problems += [
        f"invalid scope {token!r}"
        for token in registration.scope.split()
        if not SCOPE_TOKEN.fullmatch(token)
    ]
    for uri in [*registration.redirect_uris, *registration.post_logout_redirect_uris]:
        problems += _uri_problems(uri)
    for page in (registration.launch_url, registration.initiate_login_uri):
        problems += _uri_problems(page) if page else []
    if registration.consent_recipient and not registration.consent_purpose:
        problems.append("a consent recipient needs a consent purpose")
    if registration.consent_purpose and not PURPOSE_PATTERN.fullmatch(
        registration.consent_purpose
    ):
        problems.append(f"invalid consent purpose {registration.consent_purpose!r}")
    if registration.scim_client and registration.policy is not None:
        problems.append("name a SCIM client or give a policy, not both")
    return problems


def _grant_problems(registration: Registration) -> list[str]:
    grants = set(registration.grant_types)
    problems = [f"unknown grant type {g!r}" for g in sorted(grants - set(GRANT_TYPES))]
    if "authorization_code" in grants and not registration.redirect_uris:
        problems.append("the authorization code grant needs a redirect URI")
    if "client_credentials" in grants and registration.auth_method == "none":
        problems.append("client_credentials needs a confidential client")
    return problems


def _uri_problems(uri: str) -> list[str]:
    """An absolute http(s) URI without fragment (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [f"{uri!r} is not an absolute http or https URI"]
    if parts.fragment:
        return [f"{uri!r} must not have a fragment"]
    return []


def _scim_client(session: Session, name: str | None) -> Client | None:
    if name is None:
        return None
    client = session.scalar(select(Client).where(Client.name == name))
    if client is None:
        raise RegistrationError(f"no SCIM client named {name!r}")
    return client


def _recipient(registration: Registration) -> str | None:
    if registration.consent_purpose is None:
        return None
    return registration.consent_recipient or registration.client_id


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)
