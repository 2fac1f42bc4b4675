"""What operators do with the outbox: look at it, replay dead letters, purge.

Every query runs in the database; a replay or purge is audited (counts and ids,
never payloads). A replayed event keeps its id, so receivers that did get it
once drop the repeat by its idempotency key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from scimserver.audit.events import audit
from scimserver.connectors.models import (
    CANCELLED,
    DEAD,
    DELIVERED,
    PENDING,
    DeliveryAttempt,
    OutboxEvent,
)

logger = logging.getLogger(__name__)

CLI_ACTOR = "cli"
#: Statuses an operator may replay: failed for good, or done and wanted again.
REPLAYABLE = (DEAD, DELIVERED, CANCELLED)
#: Statuses a purge removes: nothing is left to do for them.
PURGEABLE = (DELIVERED, CANCELLED)


class OutboxError(LookupError):
    """An operator asked for an event that does not exist or cannot be replayed."""


def list_events(
    session: Session,
    *,
    status: str | None = None,
    connector: str | None = None,
    limit: int = 50,
) -> Sequence[OutboxEvent]:
    """The oldest events matching the filters."""
    query = select(OutboxEvent).order_by(OutboxEvent.id).limit(limit)
    if status is not None:
        query = query.where(OutboxEvent.status == status)
    if connector is not None:
        query = query.where(OutboxEvent.connector == connector)
    return session.scalars(query).all()


def counts(session: Session) -> dict[tuple[str, str], int]:
    """How many events each connector has in each status."""
    query = select(
        OutboxEvent.connector, OutboxEvent.status, func.count(OutboxEvent.id)
    ).group_by(OutboxEvent.connector, OutboxEvent.status)
    return {(name, status): n for name, status, n in session.execute(query)}


def describe(session: Session, event_id: int) -> dict[str, Any]:
    """One event and every attempt to deliver it, as JSON-ready data."""
    row = session.get(OutboxEvent, event_id)
    if row is None:
        raise OutboxError(f"no outbox event {event_id}")
    attempts = session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.event_id == event_id)
        .order_by(DeliveryAttempt.id)
    )
    return {
        "id": row.id,
        "connector": row.connector,
        "eventType": row.event_type,
        "resourceType": row.resource_type,
        "resourceId": row.resource_id,
        "detail": row.detail,
        "status": row.status,
        "attempts": row.attempts,
        "nextAttemptAt": row.next_attempt_at.isoformat(),
        "created": row.created.isoformat(),
        "finished": row.finished.isoformat() if row.finished else None,
        "deliveries": [
            {
                "attempt": a.attempt,
                "outcome": a.status,
                "httpStatus": a.http_status,
                "latencyMs": a.latency_ms,
                "error": a.error,
                "at": a.at.isoformat(),
            }
            for a in attempts
        ],
    }


def replay_event(session: Session, event_id: int, now: datetime) -> None:
    """Queue one dead, delivered or cancelled event again, due at once."""
    row = session.get(OutboxEvent, event_id)
    if row is None:
        raise OutboxError(f"no outbox event {event_id}")
    if row.status not in REPLAYABLE:
        raise OutboxError(
            f"event {event_id} is {row.status}; only {', '.join(REPLAYABLE)} "
            "events can be replayed"
        )
    _requeue(session, OutboxEvent.id == event_id, now)
    _audit(session, "outbox.replay", {"event_ids": [event_id]})


def replay_dead(session: Session, connector: str, now: datetime) -> int:
    """Queue every dead letter of ``connector`` again; return how many."""
    ids = list(
        session.scalars(
            select(OutboxEvent.id).where(
                OutboxEvent.connector == connector, OutboxEvent.status == DEAD
            )
        )
    )
    if not ids:
        return 0
    _requeue(
        session,
        (OutboxEvent.connector == connector) & (OutboxEvent.status == DEAD),
        now,
    )
    _audit(session, "outbox.replay", {"connector": connector, "count": len(ids)})
    return len(ids)


def purge(session: Session, finished_before: datetime) -> int:
    """Delete delivered and cancelled events finished before the moment given."""
    result = session.execute(
        delete(OutboxEvent).where(
            OutboxEvent.status.in_(PURGEABLE),
            OutboxEvent.finished < finished_before,
        )
    )
    purged = int(result.rowcount)  # type: ignore[attr-defined]
    _audit(
        session,
        "outbox.purge",
        {"count": purged, "finished_before": finished_before.isoformat()},
    )
    return purged


def _requeue(session: Session, where: Any, now: datetime) -> None:
    session.execute(
        update(OutboxEvent)
        .where(where)
        .values(status=PENDING, attempts=0, next_attempt_at=now, finished=None)
        .execution_options(synchronize_session=False)
    )


def _audit(session: Session, action: str, detail: dict[str, Any]) -> None:
    audit(action, detail=detail, session=session, actor=CLI_ACTOR)
    logger.info("%s %s", action, detail)
