"""Tables of the SCIM push connector: downstream links and mapping versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scimserver.models import Base, UtcDateTime


class DownstreamLink(Base):
    """The id a downstream SCIM server gave a hub resource, per connector.

    No foreign key to ``scim_resources``: a link must outlive a hard DELETE in
    the hub, since that deletion still has to reach the downstream server.
    """

    __tablename__ = "downstream_links"

    connector: Mapped[str] = mapped_column(String(100), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    downstream_id: Mapped[str] = mapped_column(String(2048))
    #: ``active`` or ``deactivated`` (by the connector, on leave).
    state: Mapped[str] = mapped_column(String(16), default="active")
    #: Attribute paths of the last document pushed (names, never values), so
    #: that a PATCH can remove what the hub no longer releases.
    pushed_paths: Mapped[list[str]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    updated: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index(
            "ix_downstream_links_downstream",
            "connector",
            "resource_type",
            "downstream_id",
        ),
    )


class MappingVersion(Base):
    """One version of a connector's attribute mapping; at most one is active.

    Versions are never changed: a new mapping is a new version, and rolling
    back activates an older one again.
    """

    __tablename__ = "connector_mappings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connector: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    #: The mapping document (:mod:`scimserver.connectors.mapping`).
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    #: When this version was last made the active one; None if never.
    activated: Mapped[datetime | None] = mapped_column(UtcDateTime)
    active: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        UniqueConstraint("connector", "version", name="uq_connector_mappings_version"),
    )
