"""Which Users a connector may hold: its scope Group and its consent requirement.

A connector without either gets every User and Group. A *restricted* connector
(a scope Group, a consent requirement, or both) gets a User only while the User
is a direct member of a Group whose id or displayName is the scope, and has a
granted, unexpired consent for the connector's purpose and recipient. Its
audience (:class:`~scimserver.connectors.models.ScopeMember`) records whom it has
been told about, so that a membership change is compared with it in SQL: those
who entered get a ``created`` event, those who left a ``deleted`` one, and a
Group of any size is never loaded into Python.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from scimserver.connectors.config import ConnectorConfig
from scimserver.connectors.models import PENDING, OutboxEvent, ScopeMember
from scimserver.consent.models import Consent
from scimserver.consent.records import in_effect
from scimserver.models import Membership, Resource, UtcDateTime

logger = logging.getLogger(__name__)

USER = "User"
GROUP = "Group"


def is_restricted(config: ConnectorConfig) -> bool:
    """Whether the connector gets only some Users (and so keeps an audience)."""
    return config.scope_group is not None or config.consent is not None


def is_scope_group(config: ConnectorConfig, group: Resource) -> bool:
    """Whether ``group`` is the connector's scope Group (by id or displayName)."""
    scope = config.scope_group
    if scope is None:
        return False
    return group.id == scope or (group.display_name or "").lower() == scope.lower()


def eligible(
    session: Session, config: ConnectorConfig, user_id: str, now: datetime
) -> bool:
    """Whether the User may be held by the connector now (scope and consent)."""
    query = select(literal(1)).where(_eligible(config, literal(user_id), now))
    return session.scalar(query) is not None


def holds(session: Session, config: ConnectorConfig, user_id: str) -> bool:
    """Whether the connector has been told about the User and not told to drop it."""
    row = session.get(ScopeMember, (config.name, user_id))
    return row is not None


def hold(session: Session, config: ConnectorConfig, user_id: str) -> None:
    """Record that the connector now holds the User."""
    if not holds(session, config, user_id):
        session.add(ScopeMember(connector=config.name, user_id=user_id))


def release(session: Session, config: ConnectorConfig, user_id: str) -> None:
    """Record that the connector no longer holds the User."""
    session.execute(
        delete(ScopeMember).where(
            ScopeMember.connector == config.name, ScopeMember.user_id == user_id
        )
    )


def no_longer_eligible(
    session: Session, config: ConnectorConfig, now: datetime
) -> list[str]:
    """The held Users that the connector may no longer hold, their rows locked.

    Rows another transaction has locked are skipped (PostgreSQL), so that two
    callers at once never both act on one User.
    """
    held = ScopeMember.user_id
    query = (
        select(held)
        .where(ScopeMember.connector == config.name, ~_eligible(config, held, now))
        .with_for_update(of=ScopeMember, skip_locked=True)
    )
    return list(session.scalars(query))


def sync_scope_members(
    session: Session, config: ConnectorConfig, now: datetime
) -> None:
    """Queue ``created`` for Users who entered the scope, ``deleted`` for leavers.

    Runs after any write of the scope Group, as four set-based statements.
    """
    session.flush()
    member = Membership.member_id
    entered = (
        select(member)
        .where(Membership.group_id.in_(_scope_groups(config)))
        .where(Membership.member_type == USER)
        .where(_eligible(config, member, now), ~_held(config, member))
        .distinct()
    )
    held = ScopeMember.user_id
    left = select(held).where(
        ScopeMember.connector == config.name, ~_eligible(config, held, now)
    )

    _queue_from(session, config, "created", entered, {"reason": "entered_scope"}, now)
    _queue_from(session, config, "deleted", left, {"reason": "left_scope"}, now)
    session.execute(
        delete(ScopeMember).where(
            ScopeMember.connector == config.name, ~_eligible(config, held, now)
        )
    )
    session.execute(
        insert(ScopeMember).from_select(
            ["connector", "user_id"],
            select(literal(config.name), entered.subquery().c.member_id),
        )
    )


def _eligible(
    config: ConnectorConfig, user_id: SQLColumnExpression[Any], now: datetime
) -> ColumnElement[bool]:
    """SQL: the User ``user_id`` is in the connector's scope and has its consent."""
    conditions: list[ColumnElement[bool]] = []
    if config.scope_group is not None:
        membership = aliased(Membership)
        conditions.append(
            exists().where(
                membership.member_id == user_id,
                membership.member_type == USER,
                membership.group_id.in_(_scope_groups(config)),
            )
        )
    if config.consent is not None:
        conditions.append(
            exists().where(
                Consent.user_id == user_id,
                Consent.purpose == config.consent.purpose,
                Consent.recipient == config.consent.recipient,
                in_effect(now),
            )
        )
    return and_(*conditions) if conditions else literal(True)


def _scope_groups(config: ConnectorConfig) -> Select[Any]:
    """SQL: the ids of the Groups named by the scope (by id or displayName)."""
    scope = config.scope_group or ""
    return select(Resource.id).where(
        Resource.resource_type == GROUP,
        or_(Resource.id == scope, func.lower(Resource.display_name) == scope.lower()),
    )


def _held(
    config: ConnectorConfig, user_id: SQLColumnExpression[Any]
) -> ColumnElement[bool]:
    return exists().where(
        ScopeMember.connector == config.name, ScopeMember.user_id == user_id
    )


def _queue_from(
    session: Session,
    config: ConnectorConfig,
    event_type: str,
    user_ids: Any,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    """INSERT ... SELECT one outbox event per User id that ``user_ids`` yields."""
    ids = user_ids.subquery()
    rows = select(
        literal(config.name),
        literal(event_type),
        literal(USER),
        ids.c[0],
        literal(detail, JSON),
        literal(PENDING),
        literal(0),
        literal(now, UtcDateTime),
        literal(now, UtcDateTime),
    ).order_by(ids.c[0])
    columns = [
        "connector",
        "event_type",
        "resource_type",
        "resource_id",
        "detail",
        "status",
        "attempts",
        "next_attempt_at",
        "created",
    ]
    result = session.execute(insert(OutboxEvent).from_select(columns, rows))
    logger.debug(
        "scope change connector=%s event=%s rows=%s",
        config.name,
        event_type,
        result.rowcount,  # type: ignore[attr-defined]
    )
