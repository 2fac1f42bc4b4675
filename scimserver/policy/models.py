"""Tables of the release policy: policy versions per client, issued pseudonyms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scimserver.models import Base, UtcDateTime


class ClientPolicy(Base):
    """One version of a client's release policy; the newest one is in force.

    Versions are never changed or deleted: going back to an older policy stores
    it again as a new version, so the history shows what was in force when.
    """

    __tablename__ = "client_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    #: ``sha256:`` and the digest of the canonical document.
    digest: Mapped[str] = mapped_column(String(71))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Who stored the version: an operator's CLI or a client's name.
    created_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("client_id", "version", name="uq_client_policies_version"),
    )


class Pseudonym(Base):
    """A pseudonym issued in a sector, so that a client can address its User."""

    __tablename__ = "pseudonyms"

    sector: Mapped[str] = mapped_column(String(100), primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("scim_resources.id", ondelete="CASCADE")
    )

    __table_args__ = (
        Index("uq_pseudonyms_user", "sector", "user_id", unique=True),
        Index("ix_pseudonyms_user_id", "user_id"),
    )
