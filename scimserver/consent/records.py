"""Reading the consent register: records, their status, and the consents in effect.

The release policy asks :func:`granted_consents` (many Users in one query) or
:func:`has_granted_consent` before it hands sensitive data to a recipient. Both
read the ``consents`` table, the system of record, never the copy in the User's
document, so a withdrawal or an expiry counts at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from scimserver.consent.models import Consent

logger = logging.getLogger(__name__)

GRANTED = "granted"
WITHDRAWN = "withdrawn"
EXPIRED = "expired"
STATUSES = (GRANTED, WITHDRAWN, EXPIRED)


@dataclass(frozen=True)
class ConsentRecord:
    """One consent as stored; its status depends on the moment it is read at."""

    id: str
    user_id: str
    purpose: str
    recipient: str
    data_categories: tuple[str, ...]
    consent_token: str
    notice_version: str
    granted_at: datetime
    withdrawn_at: datetime | None
    expires_at: datetime | None
    capture_method: str
    captured_by: str
    withdrawn_by: str | None
    withdrawal_reason: str | None

    @classmethod
    def from_row(cls, row: Consent) -> ConsentRecord:
        """Copy a ``consents`` row."""
        return cls(
            id=row.id,
            user_id=row.user_id,
            purpose=row.purpose,
            recipient=row.recipient,
            data_categories=tuple(row.data_categories),
            consent_token=row.consent_token,
            notice_version=row.notice_version,
            granted_at=row.granted_at,
            withdrawn_at=row.withdrawn_at,
            expires_at=row.expires_at,
            capture_method=row.capture_method,
            captured_by=row.captured_by,
            withdrawn_by=row.withdrawn_by,
            withdrawal_reason=row.withdrawal_reason,
        )

    def status(self, now: datetime) -> str:
        """``granted`` until withdrawn or expired, whichever happened first."""
        ended = [
            (moment, status)
            for moment, status in (
                (self.withdrawn_at, WITHDRAWN),
                (self.expires_at, EXPIRED),
            )
            if moment is not None and moment <= now
        ]
        return min(ended)[1] if ended else GRANTED


def in_effect(now: datetime) -> ColumnElement[bool]:
    """SQL condition: the consent was granted and had not ended at ``now``."""
    return and_(
        Consent.granted_at <= now,
        or_(Consent.withdrawn_at.is_(None), Consent.withdrawn_at > now),
        or_(Consent.expires_at.is_(None), Consent.expires_at > now),
    )


def granted_consents(
    session: Session,
    user_ids: Iterable[str],
    *,
    purpose: str | None = None,
    recipient: str | None = None,
    now: datetime,
) -> dict[str, list[ConsentRecord]]:
    """Return the consents in effect at ``now`` of each User, in one query.

    Every id given is a key, with an empty list when the User has none.
    ``purpose`` and ``recipient`` narrow the consents when given.
    """
    wanted = list(dict.fromkeys(user_ids))
    found: dict[str, list[ConsentRecord]] = {user_id: [] for user_id in wanted}
    if not wanted:
        return found

    query = select(Consent).where(Consent.user_id.in_(wanted), in_effect(now))
    if purpose is not None:
        query = query.where(Consent.purpose == purpose)
    if recipient is not None:
        query = query.where(Consent.recipient == recipient)

    for row in session.scalars(query.order_by(*_newest_first())):
        found[row.user_id].append(ConsentRecord.from_row(row))
    return found


def has_granted_consent(
    session: Session, user_id: str, purpose: str, recipient: str, now: datetime
) -> bool:
    """Whether ``user_id`` has a consent in effect for ``purpose`` and ``recipient``."""
    query = select(Consent.id).where(
        Consent.user_id == user_id,
        Consent.purpose == purpose,
        Consent.recipient == recipient,
        in_effect(now),
    )
    return session.scalar(query.limit(1)) is not None


def consent_history(session: Session, user_id: str) -> list[ConsentRecord]:
    """Every consent of ``user_id``, withdrawn and expired ones too, newest first."""
    query = select(Consent).where(Consent.user_id == user_id).order_by(*_newest_first())
    return [ConsentRecord.from_row(row) for row in session.scalars(query)]


def _newest_first() -> tuple[ColumnElement[Any], ...]:
    return (Consent.granted_at.desc(), Consent.id.desc())
