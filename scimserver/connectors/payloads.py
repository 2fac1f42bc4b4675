"""Payloads built at delivery time, from the resource as it is then.

An outbox row holds only what changed; the data it carries is read when it is
delivered and passed through the connector's release policy with the User's
consents in effect at that moment. An event queued before a consent was
withdrawn or before a newer change therefore carries neither the withdrawn data
nor stale values.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from scimserver.connectors.base import EventType, OutboundEvent
from scimserver.connectors.config import ConnectorConfig
from scimserver.connectors.models import OutboxEvent
from scimserver.connectors.scope import USER
from scimserver.consent.records import granted_consents, has_granted_consent
from scimserver.models import Resource
from scimserver.policy.pseudonym_register import register
from scimserver.scim.representation import related_attribute, represent
from scimserver.scim.schema import ResourceType, SchemaRegistry
from scimserver.scim.store import ResourceStore

logger = logging.getLogger(__name__)

#: Events whose purpose is removal: they go out even without a consent.
REMOVALS = frozenset({"deleted", "consent_withdrawn"})


class ConsentGone(Exception):
    """The User no longer has the consent the connector requires."""


def build_event(
    session: Session,
    row: OutboxEvent,
    config: ConnectorConfig,
    registry: SchemaRegistry,
    base_url: str,
    now: datetime,
) -> OutboundEvent:
    """The event of ``row`` with its payload as the connector may see it now.

    Raises :class:`ConsentGone` for a consent-gated connector whose User's
    consent has ended (expired) since the row was queued.
    """
    resource_type = registry.resource_type(row.resource_type)
    if resource_type is None:
        raise LookupError(f"unknown resource type {row.resource_type}")
    if row.event_type not in REMOVALS and config.consent is not None:
        consent = config.consent
        if not has_granted_consent(
            session, row.resource_id, consent.purpose, consent.recipient, now
        ):
            raise ConsentGone(row.resource_id)

    payload = _payload(session, row, config, resource_type, registry, base_url, now)
    subject = row.resource_id
    if row.resource_type == USER:
        subject = config.policy.subject_id(row.resource_id)
    return OutboundEvent(
        id=str(row.id),
        connector=row.connector,
        event_type=_event_type(row.event_type),
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        payload=payload,
        detail=dict(row.detail),
        attempt=row.attempts,
        subject=subject,
        occurred=row.created,
    )


def _payload(
    session: Session,
    row: OutboxEvent,
    config: ConnectorConfig,
    resource_type: ResourceType,
    registry: SchemaRegistry,
    base_url: str,
    now: datetime,
) -> dict[str, Any]:
    """The released representation; empty for a removal or a vanished resource."""
    removal = row.detail.get("removal")
    if row.event_type == "deleted" or removal == "deprovision":
        return {}
    resource = session.get(Resource, row.resource_id)
    if resource is None or resource.resource_type != row.resource_type:
        return {}

    body = _represent(session, resource_type, resource, registry, base_url)
    consents: list[Any] = []
    if row.resource_type == USER and row.event_type != "consent_withdrawn":
        consents = granted_consents(session, [resource.id], now=now)[resource.id]
    policy = config.policy
    if policy.sector is not None:
        issued = policy.issued_pseudonyms(resource_type, body, consents)
        register(session, policy.sector, issued)
    return policy.project(resource_type, body, consents)


def _represent(
    session: Session,
    resource_type: ResourceType,
    resource: Resource,
    registry: SchemaRegistry,
    base_url: str,
) -> dict[str, Any]:
    """The full SCIM representation, with a Group's members or a User's groups.

    TODO: a Group's members are all listed, so a change to a Group of 100,000
    members sends all of them; the event detail should carry the members added
    and removed instead, which needs the write path to hand them over.
    """
    store = ResourceStore(session, resource_type)
    name = related_attribute(resource_type)
    related = None
    if name == "members":
        related = store.members_of([resource.id])[resource.id]
    elif name == "groups":
        related = store.groups_of([resource.id])[resource.id]
    types = {rt.name: rt for rt in registry.resource_types}
    return represent(resource_type, resource, base_url, related, types)


def _event_type(name: str) -> EventType:
    known: tuple[EventType, ...] = (
        "created",
        "updated",
        "deleted",
        "members",
        "consent_granted",
        "consent_withdrawn",
    )
    for event_type in known:
        if event_type == name:
            return event_type
    raise LookupError(f"unknown event type {name}")
