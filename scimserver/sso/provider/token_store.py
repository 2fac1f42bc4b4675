"""Authorization codes and access tokens, stored as digests only.

A code is redeemed by one conditional ``UPDATE`` that marks it used, so two
token requests racing with the same code cannot both succeed. A code presented
again is refused, and the tokens issued for it are revoked (RFC 6749 §4.1.2,
RFC 9700 §4.2.1): whoever replays it may have stolen it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from scimserver.audit.events import audit
from scimserver.sso.provider.models import AccessToken, AuthorizationCode, RelyingParty
from scimserver.sso.provider.relying_parties import OAuthClient

logger = logging.getLogger(__name__)

#: How long used and expired codes are kept, to recognise a replay.
CODE_MEMORY = timedelta(hours=1)


@dataclass(frozen=True)
class EndUser:
    """An employee signed in for one relying party: User id and sign-in time."""

    user_id: str
    auth_time: int
    party: RelyingParty


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which a code or token is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class IssuedCode(AuthorizationCodeMixin):
    """A redeemed authorization code, as authlib's grants read it."""

    def __init__(self, row: AuthorizationCode) -> None:
        self.row = row

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return self.row.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None

    @property
    def code_challenge(self) -> str:
        """The PKCE challenge stored with the code (RFC 7636 §4.4)."""
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str:
        """The PKCE method stored with the code."""
        return self.row.code_challenge_method


class IssuedToken(TokenMixin):
    """A stored access token, as authlib's resource protector reads it."""

    def __init__(self, row: AccessToken, party: RelyingParty, now: datetime) -> None:
        self.row = row
        self.party = party
        self.now = now

    @property
    def scope(self) -> str:
        """The granted scope, space-separated."""
        return self.row.scope

    def check_client(self, client: OAuthClient) -> bool:
        return client.party.id == self.party.id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((self.row.expires_at - self.row.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.row.expires_at <= self.now

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None

    def get_user(self) -> EndUser | None:
        if self.row.user_id is None:
            return None
        return EndUser(self.row.user_id, self.row.auth_time or 0, self.party)

    def get_client(self) -> OAuthClient:
        return OAuthClient(self.party)


def save_code(session: Session, row: AuthorizationCode, now: datetime) -> None:
    """Store a new code and forget codes that expired long ago."""
    session.execute(
        delete(AuthorizationCode).where(
            AuthorizationCode.expires_at < now - CODE_MEMORY
        )
    )
    session.add(row)
    session.flush()


def nonce_used(session: Session, party: RelyingParty, nonce: str) -> bool:
    """Whether a remembered code of ``party`` carried ``nonce`` already."""
    query = select(
        exists().where(
            AuthorizationCode.relying_party_id == party.id,
            AuthorizationCode.nonce == nonce,
        )
    )
    return bool(session.scalar(query))


def redeem_code(
    session: Session, code: str, party: RelyingParty, now: datetime
) -> AuthorizationCode | None:
    """Mark the code used and return it, or None when it cannot be redeemed.

    A code that was used before has its tokens revoked.
    """
    code_hash = digest(code)
    result = session.execute(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.code_hash == code_hash,
            AuthorizationCode.relying_party_id == party.id,
            AuthorizationCode.used_at.is_(None),
            AuthorizationCode.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return session.get(AuthorizationCode, code_hash)

    if _was_used(session, code_hash, party):
        revoked = revoke_for_code(session, code_hash, now)
        logger.warning(
            "authorization code replayed client_id=%s revoked_tokens=%d",
            party.client_id,
            revoked,
        )
        audit(
            "oidc.code_replay",
            detail={"client_id": party.client_id, "revoked_tokens": revoked},
            session=session,
            actor=f"oidc:{party.client_id}",
        )
    return None


def revoke_for_code(session: Session, code_hash: str, now: datetime) -> int:
    """Revoke every token issued for a code; return how many were live."""
    result = session.execute(
        update(AccessToken)
        .where(AccessToken.code_hash == code_hash, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def revoke_for_user(
    session: Session, party: RelyingParty, user_id: str, now: datetime
) -> int:
    """Revoke the live tokens ``party`` holds for one employee."""
    result = session.execute(
        update(AccessToken)
        .where(
            AccessToken.relying_party_id == party.id,
            AccessToken.user_id == user_id,
            AccessToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def find_token(session: Session, token: str, now: datetime) -> IssuedToken | None:
    """The stored access token ``token``, with its relying party, or None."""
    row = session.execute(
        select(AccessToken, RelyingParty)
        .join(RelyingParty, RelyingParty.id == AccessToken.relying_party_id)
        .where(AccessToken.token_hash == digest(token))
    ).first()
    if row is None:
        return None
    return IssuedToken(row[0], row[1], now)


def _was_used(session: Session, code_hash: str, party: RelyingParty) -> bool:
    query = select(
        exists().where(
            AuthorizationCode.code_hash == code_hash,
            AuthorizationCode.relying_party_id == party.id,
            AuthorizationCode.used_at.is_not(None),
        )
    )
    return bool(session.scalar(query))
