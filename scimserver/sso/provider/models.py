"""Tables of the OpenID Provider: relying parties, codes, tokens and signing keys.

Secrets never reach the database in clear: client secrets, authorization codes
and access tokens are stored as SHA-256 digests (each carries 256 random bits,
so no salt or slow hash is needed), and signing keys as PKCS#8 encrypted under a
key derived from the server's secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scimserver.models import Base, UtcDateTime


class RelyingParty(Base):
    """An application that signs employees in through the hub (the LMS, the EAP)."""

    __tablename__ = "oidc_relying_parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The OAuth ``client_id``; also the ``<app>`` of ``/sso/launch/<app>``.
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    #: SHA-256 digest of the client secret; None for a public client.
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    #: ``client_secret_basic``, ``client_secret_post`` or ``none``.
    auth_method: Mapped[str] = mapped_column(String(32))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    grant_types: Mapped[list[str]] = mapped_column(JSON)
    #: Space-separated scopes the client may ask for.
    scope: Mapped[str] = mapped_column(String(1000))
    #: Pairwise subject sector (OpenID Connect Core 1.0 §8.1).
    sector: Mapped[str] = mapped_column(String(100))
    #: The SCIM client whose release policy applies to the claims, if any.
    scim_client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="RESTRICT")
    )
    #: An inline release policy document, used when no SCIM client is named.
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Purpose and recipient of the consent required before a code is issued.
    consent_purpose: Mapped[str | None] = mapped_column(String(100))
    consent_recipient: Mapped[str | None] = mapped_column(String(200))
    #: Where ``/sso/launch/<app>`` sends the employee.
    launch_url: Mapped[str | None] = mapped_column(String(2048))
    initiate_login_uri: Mapped[str | None] = mapped_column(String(2048))
    created: Mapped[datetime] = mapped_column(UtcDateTime)


class AuthorizationCode(Base):
    """An authorization code, single-use and short-lived (RFC 6749 §4.1.2)."""

    __tablename__ = "oidc_authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    relying_party_id: Mapped[int] = mapped_column(
        ForeignKey("oidc_relying_parties.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("scim_resources.id", ondelete="CASCADE")
    )
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    scope: Mapped[str] = mapped_column(String(1000))
    nonce: Mapped[str | None] = mapped_column(String(512))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    #: When the employee signed in at the hub (Unix seconds), for ``auth_time``.
    auth_time: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Set by the one token request that redeems the code.
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_oidc_codes_nonce", "relying_party_id", "nonce"),
        Index("ix_oidc_codes_expires_at", "expires_at"),
    )


class AccessToken(Base):
    """An access token issued to a relying party; only its digest is stored."""

    __tablename__ = "oidc_access_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    relying_party_id: Mapped[int] = mapped_column(
        ForeignKey("oidc_relying_parties.id", ondelete="CASCADE")
    )
    #: The employee; None for a ``client_credentials`` token.
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("scim_resources.id", ondelete="CASCADE")
    )
    scope: Mapped[str] = mapped_column(String(1000))
    auth_time: Mapped[int | None] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: Digest of the code it was issued for, to revoke it if the code is replayed.
    code_hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_oidc_tokens_code_hash", "code_hash"),
        Index("ix_oidc_tokens_expires_at", "expires_at"),
    )


class SigningKey(Base):
    """A key that signs ID tokens; the two newest generations are current and next.

    The key of the highest generation is the next key, published so that relying
    parties cache it before it signs; the one below signs. Rotation adds a
    generation and retires the signing key, which stays published for a while so
    that tokens it signed still verify.
    """

    __tablename__ = "oidc_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, unique=True)
    #: PKCS#8 PEM, encrypted under a key derived from the server's secret.
    private_key: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
