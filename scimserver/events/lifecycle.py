"""The states of a referral and the only moves between them.

::

    created -> consent_checked -> sent -> acknowledged -> contact_made
       |              |             |           |-> declined | expired
       |              |             |-> declined | expired
       |-> cancelled <-|  (the consent was withdrawn or has ended)

Every move is audited (``referral.<state>``) with the referral's origin and
reason, never the consent token.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from scimserver.audit.events import audit
from scimserver.events.models import Referral

logger = logging.getLogger(__name__)

CREATED = "created"
CONSENT_CHECKED = "consent_checked"
SENT = "sent"
ACKNOWLEDGED = "acknowledged"
CONTACT_MADE = "contact_made"
DECLINED = "declined"
EXPIRED = "expired"
CANCELLED = "cancelled"
STATES = (
    CREATED,
    CONSENT_CHECKED,
    SENT,
    ACKNOWLEDGED,
    CONTACT_MADE,
    DECLINED,
    EXPIRED,
    CANCELLED,
)
MOVES: dict[str, frozenset[str]] = {
    CREATED: frozenset({CONSENT_CHECKED, CANCELLED}),
    CONSENT_CHECKED: frozenset({SENT, CANCELLED}),
    SENT: frozenset({ACKNOWLEDGED, DECLINED, EXPIRED}),
    ACKNOWLEDGED: frozenset({CONTACT_MADE, DECLINED, EXPIRED}),
}
#: The funnel stages whose moment a referral keeps.
STAGE_COLUMNS = {
    SENT: "sent_at",
    ACKNOWLEDGED: "acknowledged_at",
    CONTACT_MADE: "contact_made_at",
}
#: States the EAP may report on its callback.
REPORTED = (ACKNOWLEDGED, CONTACT_MADE, DECLINED, EXPIRED)
#: States in which a referral is still on its way to the EAP.
UNSENT = (CREATED, CONSENT_CHECKED)
#: States after which a new referral for the same module may be offered.
CLOSED = (DECLINED, EXPIRED, CANCELLED)


class IllegalMove(ValueError):
    """The referral cannot move from its state to the one asked for."""


def can_move(current: str, target: str) -> bool:
    """Whether a referral in ``current`` may move to ``target``."""
    return target in MOVES.get(current, frozenset())


def move(
    session: Session,
    referral: Referral,
    target: str,
    now: datetime,
    *,
    actor: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Move ``referral`` to ``target`` and audit it; raise :class:`IllegalMove`."""
    if not can_move(referral.state, target):
        raise IllegalMove(
            f"A referral in state {referral.state} cannot become {target}."
        )

    previous, referral.state, referral.updated = referral.state, target, now
    if target in STAGE_COLUMNS:
        setattr(referral, STAGE_COLUMNS[target], now)
    audit(
        f"referral.{target}",
        resource_type="Referral",
        resource_id=referral.id,
        detail={
            "user_id": referral.user_id,
            "connector": referral.connector,
            "from": previous,
            "origin": referral.origin,
            "reason": referral.reason,
            **(detail or {}),
        },
        session=session,
        actor=actor,
    )
    logger.info("referral id=%s moved %s -> %s", referral.id, previous, target)
