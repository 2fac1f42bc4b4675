"""Cancelling the referrals a withdrawn consent covered, before they are sent.

Called by :func:`scimserver.consent.grants.withdraw` in the withdrawal's
transaction. A referral already sent stays as it is: the EAP holds it, and the
withdrawal reaches the EAP as a consent receipt status, not as a referral.
The connector checks the consent again before every send, so an expiry (which
no request announces) cancels the referral at its next try instead.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scimserver.connectors.outbox import cancel_pending
from scimserver.events import lifecycle
from scimserver.events.models import Referral

logger = logging.getLogger(__name__)


def cancel_referrals(session: Session, consent_token: str, now: datetime) -> int:
    """Cancel the unsent referrals under ``consent_token``; return how many."""
    query = select(Referral).where(
        Referral.consent_token == consent_token,
        Referral.state.in_(lifecycle.UNSENT),
    )
    cancelled = list(session.scalars(query.with_for_update()))
    for referral in cancelled:
        detail = {"why": "consent_withdrawn"}
        lifecycle.move(session, referral, lifecycle.CANCELLED, now, detail=detail)

    for user_id, connector in {(r.user_id, r.connector) for r in cancelled}:
        if not _has_unsent(session, user_id, connector):
            cancel_pending(session, connector, user_id, "referral cancelled", now)
    return len(cancelled)


def _has_unsent(session: Session, user_id: str, connector: str) -> bool:
    """Whether another referral of the User still waits for this connector."""
    query = select(Referral.id).where(
        Referral.user_id == user_id,
        Referral.connector == connector,
        Referral.state.in_(lifecycle.UNSENT),
    )
    return session.scalar(query.limit(1)) is not None
