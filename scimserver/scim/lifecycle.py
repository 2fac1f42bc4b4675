"""HR lifecycle: make Users active or inactive when their effective dates arrive.

``scimserver lifecycle apply`` (or a worker calling :func:`apply_lifecycle_in`)
runs this regularly, at least daily:

- A User whose ``endDate`` has arrived is made inactive, however it got active.
- A User whose ``startDate`` has arrived is made active when it is inactive, was
  last written before that date (so it was inactive because the date was still
  ahead), has not been soft-deleted and has not ended. A User deactivated after
  its start date stays inactive.

Each change is an ordinary replace: ``meta.version`` and ``meta.lastModified``
move, and readers see it like any other change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from scimserver.connectors.outbox import enqueue_change
from scimserver.db import get_database
from scimserver.models import Resource
from scimserver.scim.effective_dates import (
    ACTIVE,
    END_DATE,
    LIFECYCLE,
    START_DATE,
    EffectiveDates,
    has_effective_dates,
)
from scimserver.scim.filter import filter_clause
from scimserver.scim.representation import format_datetime
from scimserver.scim.schema import ResourceType, SchemaRegistry
from scimserver.scim.store import ResourceStore

logger = logging.getLogger(__name__)


@dataclass
class LifecycleChanges:
    """The ids of the Users one run made active and inactive."""

    activated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)


def apply_lifecycle(
    session: Session, resource_types: Iterable[ResourceType], now: datetime
) -> LifecycleChanges:
    """Apply the effective dates that have arrived at ``now``; the caller commits."""
    changes = LifecycleChanges()
    for resource_type in resource_types:
        if not has_effective_dates(resource_type):
            continue
        store = ResourceStore(session, resource_type)
        changes.deactivated += _end_employments(store, now)
        changes.activated += _start_employments(store, now)

    logger.info(
        "lifecycle applied activated=%d deactivated=%d",
        len(changes.activated),
        len(changes.deactivated),
    )
    return changes


def apply_lifecycle_in(
    app: Flask, registry: SchemaRegistry, now: datetime | None = None
) -> LifecycleChanges:
    """Apply the lifecycle in a session of its own, and commit."""
    with app.app_context(), get_database(app).sessions() as session:
        changes = apply_lifecycle(
            session, registry.resource_types, now or datetime.now(UTC)
        )
        session.commit()
    return changes


def _end_employments(store: ResourceStore, now: datetime) -> list[str]:
    ended = _arrived(store, END_DATE, now, f"not ({ACTIVE} eq false)")
    for resource in ended:
        store.replace(resource, {**resource.attributes, ACTIVE: False}, members=None)
        enqueue_change(store.session, "User", resource, "patch", {ACTIVE})
    return [resource.id for resource in ended]


def _start_employments(store: ResourceStore, now: datetime) -> list[str]:
    started = [
        resource
        for resource in _arrived(store, START_DATE, now, f"{ACTIVE} eq false")
        if _held_until_start(resource, now)
    ]
    for resource in started:
        store.replace(resource, {**resource.attributes, ACTIVE: True}, members=None)
        enqueue_change(store.session, "User", resource, "patch", {ACTIVE})
    return [resource.id for resource in started]


def _held_until_start(resource: Resource, now: datetime) -> bool:
    dates = EffectiveDates.of(resource.attributes)
    return (
        dates.start is not None
        and resource.last_modified < dates.start
        and resource.deprovisioned is None
        and not dates.ended(now)
    )


def _arrived(
    store: ResourceStore, date: str, now: datetime, condition: str
) -> list[Resource]:
    """Users whose ``date`` is at or before ``now`` and that match ``condition``."""
    text = f'{LIFECYCLE}:{date} le "{format_datetime(now)}" and {condition}'
    resource_type = store.resource_type
    query = (
        select(Resource)
        .where(
            Resource.resource_type == resource_type.name,
            filter_clause(resource_type, text),
        )
        .order_by(Resource.id)
    )
    return list(store.session.scalars(query))
