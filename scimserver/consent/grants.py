"""Granting and withdrawing consents: the only writes to the consent register.

Rules:

- A grant for a purpose and recipient that already has a consent in effect does
  not fail: the older consent is kept and marked withdrawn with the reason
  ``superseded`` at the moment of the new grant, so there is always one
  consent in effect and the history shows which notice version was agreed
  when. Refusing instead would force a withdraw-then-grant pair and a gap.
- Withdrawal takes effect at once and is idempotent: withdrawing again keeps
  the first ``withdrawn_at``. An expired consent allows nothing any more, so
  withdrawing it changes nothing.
- No row is updated except to record its end, and none is deleted.

Each function locks the User's row first, then reads and writes its consents and
rewrites the User's SCIM copy (:mod:`scimserver.consent.mirror`); the caller
commits. Tokens and consent contents are never logged.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scimserver.audit.events import audit
from scimserver.connectors.outbox import enqueue_consent_change
from scimserver.consent.mirror import lock_user, mirror_consents
from scimserver.consent.models import Consent
from scimserver.consent.records import GRANTED, ConsentRecord, in_effect
from scimserver.events.withdrawal import cancel_referrals
from scimserver.scim.errors import InvalidValue, NotFound
from scimserver.scim.schema import ResourceType

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "ctk-"
WITHDRAWN_REASON = "withdrawn"
SUPERSEDED_REASON = "superseded"


@dataclass(frozen=True)
class GrantRequest:
    """What the employee agreed to, as the consent API received it."""

    purpose: str
    recipient: str
    data_categories: tuple[str, ...]
    notice_version: str
    capture_method: str
    expires_at: datetime | None = None


def new_consent_token() -> str:
    """Return an unguessable consent token: ``ctk-`` and 192 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


def grant(
    session: Session,
    users: ResourceType,
    user_id: str,
    request: GrantRequest,
    *,
    captured_by: str,
    now: datetime,
) -> ConsentRecord:
    """Record a consent of ``user_id``; a consent it replaces is superseded."""
    if request.expires_at is not None and request.expires_at <= now:
        raise InvalidValue("'expiresAt' must lie in the future.")
    user = lock_user(session, users, user_id)

    _supersede(session, user_id, request, captured_by, now)
    row = Consent(
        id=str(uuid.uuid4()),
        user_id=user_id,
        purpose=request.purpose,
        recipient=request.recipient,
        data_categories=list(request.data_categories),
        consent_token=new_consent_token(),
        notice_version=request.notice_version,
        granted_at=now,
        expires_at=request.expires_at,
        capture_method=request.capture_method,
        captured_by=captured_by,
    )
    session.add(row)
    session.flush()

    mirror_consents(session, users, user, now)
    _audit_consent("consent.grant", session, row)
    _enqueue(session, row, granted=True, now=now)
    logger.info("consent granted id=%s by=%s", row.id, captured_by)
    return ConsentRecord.from_row(row)


def withdraw(
    session: Session,
    users: ResourceType,
    consent_token: str,
    *,
    withdrawn_by: str,
    now: datetime,
) -> ConsentRecord:
    """Withdraw the consent named by ``consent_token``, at once (idempotent)."""
    user_id = session.scalar(
        select(Consent.user_id).where(Consent.consent_token == consent_token)
    )
    if user_id is None:
        raise NotFound("No consent with that token.")
    user = lock_user(session, users, user_id)

    row = find_consent(session, consent_token)
    if ConsentRecord.from_row(row).status(now) != GRANTED:
        return ConsentRecord.from_row(row)
    _end(row, WITHDRAWN_REASON, withdrawn_by, now)
    session.flush()

    mirror_consents(session, users, user, now)
    _audit_consent("consent.withdraw", session, row)
    _enqueue(session, row, granted=False, now=now)
    cancel_referrals(session, row.consent_token, now)
    logger.info("consent withdrawn id=%s by=%s", row.id, withdrawn_by)
    return ConsentRecord.from_row(row)


def _audit_consent(action: str, session: Session, row: Consent) -> None:
    """Record a consent change: whose, for what and whom; never the token."""
    audit(
        action,
        resource_type="User",
        resource_id=row.user_id,
        attributes=row.data_categories,
        detail={
            "consent_id": row.id,
            "purpose": row.purpose,
            "recipient": row.recipient,
            "notice_version": row.notice_version,
        },
        session=session,
    )


def _enqueue(session: Session, row: Consent, *, granted: bool, now: datetime) -> None:
    """Queue what the change means for the outbound connectors, in this transaction."""
    enqueue_consent_change(
        session,
        row.user_id,
        purpose=row.purpose,
        recipient=row.recipient,
        granted=granted,
        now=now,
    )


def find_consent(session: Session, consent_token: str) -> Consent:
    """Return the consent named by ``consent_token`` (read afresh), or raise 404."""
    row = session.scalar(
        select(Consent)
        .where(Consent.consent_token == consent_token)
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound("No consent with that token.")
    return row


def _supersede(
    session: Session,
    user_id: str,
    request: GrantRequest,
    captured_by: str,
    now: datetime,
) -> None:
    """End the consents in effect for the same purpose and recipient."""
    current = session.scalars(
        select(Consent).where(
            Consent.user_id == user_id,
            Consent.purpose == request.purpose,
            Consent.recipient == request.recipient,
            in_effect(now),
        )
    )
    for row in current:
        _end(row, SUPERSEDED_REASON, captured_by, now)
        logger.info("consent superseded id=%s", row.id)


def _end(row: Consent, reason: str, by: str, now: datetime) -> None:
    row.withdrawn_at = now
    row.withdrawn_by = by
    row.withdrawal_reason = reason
