"""The transactional outbox: events waiting for connectors, and every attempt.

A change to a User, Group, membership or consent inserts its
:class:`OutboxEvent` rows in the same transaction as the change itself, so a
committed change always has its events and a rolled-back one never does. The
delivery worker (:mod:`scimserver.connectors.worker`) moves each row through

``pending`` -> ``delivering`` -> ``delivered``
                     |-> ``pending`` again (retry, later ``next_attempt_at``)
                     |-> ``dead`` (attempts exhausted, or refused for good)

and a consent withdrawal moves pending rows to ``cancelled``. The row id is the
idempotency key receivers see; ids grow with commit order for one resource,
since every write to a resource holds its row lock when the id is drawn.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scimserver.models import Base, UtcDateTime

PENDING = "pending"
DELIVERING = "delivering"
DELIVERED = "delivered"
DEAD = "dead"
CANCELLED = "cancelled"
STATUSES = (PENDING, DELIVERING, DELIVERED, DEAD, CANCELLED)
#: Rows a worker may claim once ``next_attempt_at`` has come; a ``delivering``
#: row whose lease ran out belongs to a worker that died.
CLAIMABLE = (PENDING, DELIVERING)


class OutboxEvent(Base):
    """One change on its way to one connector."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connector: Mapped[str] = mapped_column(String(100))
    #: :data:`scimserver.connectors.base.EventType`.
    event_type: Mapped[str] = mapped_column(String(32))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(36))
    #: Facts about the change (attribute names, a consent's purpose), no values.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When the row may be claimed: the next try, or the end of a claim's lease.
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    #: When the row reached ``delivered``, ``dead`` or ``cancelled``.
    finished: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_outbox_events_due", "status", "next_attempt_at"),
        Index("ix_outbox_events_resource", "connector", "resource_id", "id"),
        Index("ix_outbox_events_finished", "status", "finished"),
    )


class DeliveryAttempt(Base):
    """One try to deliver an event, whatever its result."""

    __tablename__ = "outbox_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE")
    )
    #: 1 for the first try of the event.
    attempt: Mapped[int] = mapped_column(Integer)
    #: ``delivered``, ``retry``, ``rejected``, ``cancelled`` or ``failed`` (the
    #: connector is no longer configured).
    status: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    #: What went wrong, in the worker's words; never a secret or a payload.
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_outbox_attempts_event", "event_id", "attempt"),)


class ScopeMember(Base):
    """A User that a restricted connector (scope Group, consent) has been given.

    It is what the connector holds: a change of the scope Group's members is
    compared with it in SQL to find who entered and who left, and a deletion or
    withdrawal reaches the connector only for Users it holds. No foreign key: a
    deleted User's row must survive the DELETE until its event is queued.
    """

    __tablename__ = "outbox_scope_members"

    connector: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
