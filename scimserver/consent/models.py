"""The ``consents`` table: every consent an employee gave, withdrawn ones included.

A row is never overwritten or deleted while its User exists: withdrawal and
superseding only set ``withdrawn_at``. The one exception is a hard DELETE of the
User (RFC 7644 §3.6), which erases the person and, by ``ON DELETE CASCADE``, their
consents with them; a soft DELETE keeps both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from scimserver.models import Base, UtcDateTime


class Consent(Base):
    """One consent of one employee for one purpose and one recipient."""

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("scim_resources.id", ondelete="CASCADE")
    )
    #: What the data may be used for, such as ``eap_referral``.
    purpose: Mapped[str] = mapped_column(String(200))
    #: The client or vendor the consent allows to receive the data.
    recipient: Mapped[str] = mapped_column(String(200))
    data_categories: Mapped[list[str]] = mapped_column(JSON)
    #: ``ctk-`` and 192 random bits; names the consent in the consent API.
    consent_token: Mapped[str] = mapped_column(String(64), unique=True)
    #: Version of the privacy notice shown to the employee when they agreed.
    notice_version: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: How the agreement was captured, such as ``api`` or ``consent_page``.
    capture_method: Mapped[str] = mapped_column(String(32))
    #: Name of the client that recorded the grant.
    captured_by: Mapped[str] = mapped_column(String(200))
    #: Name of the client that recorded the withdrawal, when withdrawn.
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))
    #: ``withdrawn`` (asked for) or ``superseded`` (replaced by a newer grant).
    withdrawal_reason: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_consents_user", "user_id", "purpose", "recipient"),)
