"""Outstanding login requests, kept server-side until their response arrives.

SAML 2.0 Core §3.2.2 and Web SSO profile §4.1.4.3: a response answers the
request named by ``InResponseTo``; python3-saml checks the match only when
given the id, so the hub keeps every AuthnRequest id it sent and consumes it
when the answer arrives. OpenID Connect keeps its ``state``, ``nonce`` and PKCE
verifier the same way (OpenID Connect Core §3.1.2.1, RFC 7636 §4), and SAML
single logout its LogoutRequest ids (Core §3.7.1, protocol ``saml-slo``).
A request is consumed once; an expired one counts as unknown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from scimserver.sso.models import LoginRequest

logger = logging.getLogger(__name__)

#: How long an employee may take at the IdP's login page.
LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class PendingLogin:
    """What the hub remembers of a login it started."""

    id: str
    idp_alias: str
    protocol: str
    next_path: str
    nonce: str | None = None
    code_verifier: str | None = None


def remember(session: Session, pending: PendingLogin, now: datetime) -> None:
    """Store ``pending`` until it is answered or expires; drop expired ones."""
    session.execute(delete(LoginRequest).where(LoginRequest.expires_at <= now))
    session.add(
        LoginRequest(
            id=pending.id,
            idp_alias=pending.idp_alias,
            protocol=pending.protocol,
            next_path=pending.next_path,
            nonce=pending.nonce,
            code_verifier=pending.code_verifier,
            expires_at=now + LIFETIME,
        )
    )


def consume(
    session: Session,
    request_id: str,
    idp_alias: str,
    now: datetime,
    protocol: str | None = None,
) -> PendingLogin | None:
    """Take the outstanding request ``request_id`` of ``idp_alias``, or None.

    The row is deleted in the caller's transaction, and only the caller whose
    DELETE removed it gets it, so two answers to one request cannot both pass.
    With ``protocol``, only a request of that protocol is taken, so that the
    answer to a logout cannot use up a login and the other way round.
    """
    query = select(LoginRequest).where(
        LoginRequest.id == request_id,
        LoginRequest.idp_alias == idp_alias,
        LoginRequest.expires_at > now,
    )
    if protocol is not None:
        query = query.where(LoginRequest.protocol == protocol)
    row = session.scalar(query)
    if row is None:
        return None
    removed = session.execute(delete(LoginRequest).where(LoginRequest.id == request_id))
    if getattr(removed, "rowcount", 0) != 1:
        return None
    return PendingLogin(
        row.id,
        row.idp_alias,
        row.protocol,
        row.next_path,
        row.nonce,
        row.code_verifier,
    )
