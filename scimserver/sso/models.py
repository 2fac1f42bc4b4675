"""Tables of upstream sign-in: outstanding login requests, used assertions, links.

All three live in the database, not in one process, so that any instance can
finish a login another one started and a replayed assertion is refused by all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from scimserver.models import Base, UtcDateTime


class LoginRequest(Base):
    """A login the hub started and has not seen finish.

    For SAML the key is the AuthnRequest ``ID`` (the response's
    ``InResponseTo``); for OpenID Connect it is the ``state``, and the row keeps
    the ``nonce`` and the PKCE ``code_verifier`` out of the browser's reach.
    """

    __tablename__ = "sso_login_requests"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    idp_alias: Mapped[str] = mapped_column(String(63))
    protocol: Mapped[str] = mapped_column(String(8))
    #: Relative path on the hub to land on after the login.
    next_path: Mapped[str] = mapped_column(String(2048))
    nonce: Mapped[str | None] = mapped_column(String(128))
    code_verifier: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_sso_login_requests_expires_at", "expires_at"),)


class UsedAssertion(Base):
    """A SAML assertion already accepted, kept until it would expire anyway."""

    __tablename__ = "sso_used_assertions"

    issuer: Mapped[str] = mapped_column(String(1024), primary_key=True)
    assertion_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_sso_used_assertions_expires_at", "expires_at"),)


class IdentityLink(Base):
    """Which User an upstream subject is, fixed at the first matching login."""

    __tablename__ = "sso_identity_links"

    issuer: Mapped[str] = mapped_column(String(1024), primary_key=True)
    subject: Mapped[str] = mapped_column(String(1024), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("scim_resources.id", ondelete="CASCADE")
    )
    #: How the first login matched: ``userName``, ``externalId``, ``email``, ``jit``.
    matched_by: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_sso_identity_links_user_id", "user_id"),)
