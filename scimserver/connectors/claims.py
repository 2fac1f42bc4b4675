"""Claiming due outbox rows and recording what their delivery did.

A claim is one UPDATE of the rows chosen by a sub-select, committed at once:

- due: ``pending`` (or ``delivering`` with a lapsed lease: its worker died)
  and ``next_attempt_at`` has come;
- first in line: no older row of the same connector and resource is pending or
  being delivered, so a newer change never overtakes an older one;
- on PostgreSQL the sub-select takes ``FOR UPDATE SKIP LOCKED``, so workers on
  any number of machines claim disjoint rows without waiting for each other.
  SQLite ignores the clause; the single UPDATE statement is atomic there, so
  several workers are still safe, but they take turns on SQLite's one writer.

A claimed row is ``delivering`` with one more attempt, leased until
``next_attempt_at``. The result is written only while the row is still ours
(same status and attempt count): a worker that outlived its lease changes
nothing, and the row's new owner decides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, aliased

from scimserver.connectors.models import (
    CLAIMABLE,
    DELIVERING,
    DeliveryAttempt,
    OutboxEvent,
)

logger = logging.getLogger(__name__)

#: Longest error text kept per attempt.
ERROR_CHARS = 500


@dataclass(frozen=True, order=True)
class Claim:
    """A row this worker holds: its id and the attempt number it holds it for."""

    event_id: int
    attempt: int


@dataclass(frozen=True)
class Result:
    """What became of one attempt, ready to be stored."""

    #: ``delivered``, ``retry``, ``rejected``, ``cancelled`` or ``failed``.
    outcome: str
    #: The row's new status, and when it is due again (for ``pending``).
    status: str
    next_attempt_at: datetime | None
    http_status: int | None
    latency_ms: int
    error: str | None


def claim_due(
    session: Session, now: datetime, limit: int, lease: timedelta
) -> list[Claim]:
    """Claim up to ``limit`` due rows, oldest first, and commit the claim."""
    older = aliased(OutboxEvent)
    blocked = exists().where(
        older.connector == OutboxEvent.connector,
        older.resource_type == OutboxEvent.resource_type,
        older.resource_id == OutboxEvent.resource_id,
        older.id < OutboxEvent.id,
        older.status.in_(CLAIMABLE),
    )
    due = (
        select(OutboxEvent.id)
        .where(OutboxEvent.status.in_(CLAIMABLE), OutboxEvent.next_attempt_at <= now)
        .where(~blocked)
        .order_by(OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(due.scalar_subquery()))
        .where(OutboxEvent.status.in_(CLAIMABLE), OutboxEvent.next_attempt_at <= now)
        .values(
            status=DELIVERING,
            attempts=OutboxEvent.attempts + 1,
            next_attempt_at=now + lease,
        )
        .returning(OutboxEvent.id, OutboxEvent.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return sorted(Claim(event_id, attempt) for event_id, attempt in claimed)


def renew(session: Session, claim: Claim, now: datetime, lease: timedelta) -> bool:
    """Extend the lease of a row about to be sent; False when it is no longer ours.

    Each row's lease then starts when its own delivery starts, however long the
    rows before it in the batch took.
    """
    renewed = session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.id == claim.event_id,
            OutboxEvent.status == DELIVERING,
            OutboxEvent.attempts == claim.attempt,
        )
        .values(next_attempt_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(renewed.rowcount)  # type: ignore[attr-defined]


def record_result(
    session: Session, claim: Claim, result: Result, now: datetime
) -> bool:
    """Store the attempt and the row's new state; False when the claim was lost."""
    finished = None if result.status in CLAIMABLE else now
    changed = session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.id == claim.event_id,
            OutboxEvent.status == DELIVERING,
            OutboxEvent.attempts == claim.attempt,
        )
        .values(
            status=result.status,
            next_attempt_at=result.next_attempt_at or now,
            finished=finished,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount == 0:  # type: ignore[attr-defined]
        logger.warning(
            "claim lost event=%s attempt=%s: another worker took it over",
            claim.event_id,
            claim.attempt,
        )
    session.add(
        DeliveryAttempt(
            event_id=claim.event_id,
            attempt=claim.attempt,
            status=result.outcome,
            http_status=result.http_status,
            latency_ms=result.latency_ms,
            error=(result.error or None) and result.error[:ERROR_CHARS],
            at=now,
        )
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]
