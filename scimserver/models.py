"""Database tables of the SCIM store (SQLAlchemy 2.0 typed mappings).

A resource's attributes live in one JSON document per row. Every value a filter or
sort can reach is also written to :class:`ResourceValue` rows in the same
transaction, so that filters run as SQL over indexed columns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and read back as an aware UTC datetime.

    SQLite keeps timestamps as ISO text; storing them all in UTC without offset keeps
    their text order equal to their time order.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""


class Resource(Base):
    """A SCIM resource (a User or a Group) with its attribute document."""

    __tablename__ = "scim_resources"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(2048))
    user_name: Mapped[str | None] = mapped_column(String(2048))
    display_name: Mapped[str | None] = mapped_column(String(2048))
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    last_modified: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: When a soft DELETE deprovisioned the resource; None while it is provisioned.
    deprovisioned: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index(
            "uq_scim_resources_user_name",
            "resource_type",
            func.lower(user_name),
            unique=True,
        ),
        Index(
            "ix_scim_resources_display_name", "resource_type", func.lower(display_name)
        ),
        Index("ix_scim_resources_external_id", "resource_type", "external_id"),
        Index("ix_scim_resources_created_id", "resource_type", "created", "id"),
        Index("ix_scim_resources_last_modified", "resource_type", "last_modified"),
    )

    #: Every UPDATE checks and raises ``version``: two requests that change the same
    #: resource at once cannot both win (optimistic locking).
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ResourceCount(Base):
    """How many resources of a type there are, summed over shards.

    Triggers of migrations 0080 and 0081 keep the rows in step with
    ``scim_resources`` in the writing transaction, in a shard per PostgreSQL
    connection (0 on SQLite); new connections fold the shards of ended ones
    into shard 0 (:mod:`scimserver.scim.count_shards`). A list without a filter
    reads its ``totalResults`` here instead of counting every row.
    """

    __tablename__ = "scim_resource_counts"

    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger)


class ResourceValue(Base):
    """One filterable value of a resource: a row per simple value or sub-attribute.

    ``attribute`` is the lower-cased attribute name, prefixed with its schema URN for
    extension attributes; ``sub_attribute`` is the lower-cased sub-attribute or ``""``;
    ``item`` numbers the values of a multi-valued attribute, so that conditions in one
    value-path filter can be required to hold for the same value. String values are
    stored lower-cased when the attribute is not ``caseExact``.
    """

    __tablename__ = "scim_resource_values"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_id: Mapped[str] = mapped_column(
        ForeignKey("scim_resources.id", ondelete="CASCADE")
    )
    attribute: Mapped[str] = mapped_column(String(512))
    sub_attribute: Mapped[str] = mapped_column(String(128), default="")
    item: Mapped[int] = mapped_column(Integer, default=0)
    text_value: Mapped[str | None] = mapped_column(Text)
    number_value: Mapped[float | None] = mapped_column(Float)
    bool_value: Mapped[bool | None] = mapped_column(Boolean)
    time_value: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_scim_values_owner", "resource_id", "attribute", "sub_attribute"),
        Index("ix_scim_values_text", "attribute", "sub_attribute", "text_value"),
        Index("ix_scim_values_number", "attribute", "sub_attribute", "number_value"),
        Index("ix_scim_values_time", "attribute", "sub_attribute", "time_value"),
    )


class Membership(Base):
    """One direct member of a group; a member is a User or another Group."""

    __tablename__ = "scim_memberships"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("scim_resources.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[str] = mapped_column(
        ForeignKey("scim_resources.id", ondelete="CASCADE"), primary_key=True
    )
    member_type: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_scim_memberships_member", "member_id"),)


class Client(Base):
    """A system that calls the API (HRIS, LMS, EAP, admin tools)."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Compatibility profile (:class:`scimserver.policy.client_settings.Profile`).
    profile: Mapped[str] = mapped_column(
        String(16), default="standard", server_default="standard"
    )
    #: What DELETE does (:class:`scimserver.policy.client_settings.Deprovisioning`).
    deprovision: Mapped[str] = mapped_column(
        String(16), default="hard", server_default="hard"
    )
    #: Trusted issuer, audience and public JWKS of JWT bearer tokens, when set.
    jwt_issuer: Mapped[str | None] = mapped_column(String(2048))
    jwt_audience: Mapped[str | None] = mapped_column(String(2048))
    jwt_keys: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The release policy in force (canonical JSON) and its digest; None applies
    #: the default policy. Every version is kept in ``client_policies``.
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    policy_digest: Mapped[str | None] = mapped_column(String(71))


class ClientToken(Base):
    """A bearer token of a client; only its SHA-256 digest is stored."""

    __tablename__ = "client_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked: Mapped[datetime | None] = mapped_column(UtcDateTime)
