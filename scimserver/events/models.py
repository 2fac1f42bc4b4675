"""Tables of learning events, quarantined statements and EAP referrals.

A learning event keeps only flags and moments: which User, which module, which
verb, when. Scores, durations and free text of an xAPI statement are never
stored, since the data dictionary does not classify them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scimserver.models import Base, UtcDateTime


class LearningEvent(Base):
    """One completion or progress report of the LMS about one User."""

    __tablename__ = "learning_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The xAPI statement id (or one derived from a plain event); unique, so a
    #: repeated statement is recognised.
    statement_id: Mapped[str] = mapped_column(String(64))
    #: The client (LMS) that reported it.
    client: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(36))
    module_id: Mapped[str] = mapped_column(String(200))
    #: ``completed``, ``passed`` or ``progressed``.
    verb: Mapped[str] = mapped_column(String(16))
    occurred: Mapped[datetime] = mapped_column(UtcDateTime)
    received: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("uq_learning_events_statement", "statement_id", unique=True),
        Index("ix_learning_events_module", "module_id", "verb"),
        Index("ix_learning_events_user", "user_id", "module_id"),
    )


class QuarantinedStatement(Base):
    """A statement the hub could not accept, kept as sent for inspection.

    The statement is kept as sent (an ``mbox`` address, a score) until an
    operator deletes it (``scimserver quarantine delete``).

    TODO: a quarantined statement cannot be replayed once its actor exists; the
    LMS has to send it again.
    """

    __tablename__ = "learning_quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(100))
    statement_id: Mapped[str | None] = mapped_column(String(200))
    #: Why it was refused, in words an LMS administrator can act on.
    error: Mapped[str] = mapped_column(Text)
    body: Mapped[Any] = mapped_column(JSON, nullable=True)
    received: Mapped[datetime] = mapped_column(UtcDateTime)


class Referral(Base):
    """An offer of EAP support to one User, moving through explicit states."""

    __tablename__ = "referrals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    #: The ``eap_referral`` connector that carries it.
    connector: Mapped[str] = mapped_column(String(100))
    #: The consent that covers it; checked again when it is sent.
    consent_token: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(64))
    #: ``rule:<name>`` or ``self``.
    origin: Mapped[str] = mapped_column(String(120))
    #: The version of the rules file that created it; None for a self-referral.
    rules_version: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    updated: Mapped[datetime] = mapped_column(UtcDateTime)
    #: When the funnel's stages were reached; the programme report counts them.
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    contact_made_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: When a follow-up (no contact reported in time) was queued, if ever.
    follow_up_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_referrals_user", "user_id", "connector", "module_id"),
        Index("ix_referrals_state", "state"),
    )
