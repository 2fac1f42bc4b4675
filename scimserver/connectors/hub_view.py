"""Hub resources as one connector may see them, for previews and syncs.

The delivery worker builds each event's payload when it delivers it
(:mod:`scimserver.connectors.payloads`); a mapping preview and a sync need the
same payload for a resource chosen by an operator, and need to know which
Users the connector should hold at all. Both follow the same rules: the
connector's scope and consent requirement (:mod:`scimserver.connectors.scope`)
and its release policy, with the User's consents in effect now.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scimserver.connectors import scope
from scimserver.connectors.config import ConnectorConfig
from scimserver.consent.records import granted_consents
from scimserver.models import Resource
from scimserver.scim.representation import related_attribute, represent
from scimserver.scim.schema import SchemaRegistry
from scimserver.scim.store import ResourceStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubView:
    """What connector ``config`` may see of the hub's resources."""

    config: ConnectorConfig
    registry: SchemaRegistry
    base_url: str

    def payload(
        self, session: Session, resource_type: str, resource_id: str, now: datetime
    ) -> dict[str, Any]:
        """The released resource; empty when the connector should not hold it.

        A User is not held when it is unknown, deprovisioned (soft DELETE), or
        outside the connector's scope or consent requirement. Groups follow the
        outbox (:mod:`scimserver.connectors.outbox`): a connector that needs
        consent holds none, one with a scope Group holds only that Group.
        """
        resource = session.get(Resource, resource_id)
        if resource is None or resource.resource_type != resource_type:
            return {}
        if resource.deprovisioned is not None:
            return {}
        restricted = resource_type == scope.USER and scope.is_restricted(self.config)
        if restricted and not scope.eligible(session, self.config, resource_id, now):
            return {}
        if resource_type == scope.GROUP and not self._holds_group(resource):
            return {}

        return self._released(session, resource, now)

    def id_pages(
        self, session: Session, resource_type: str, size: int
    ) -> Iterator[list[str]]:
        """The ids of every resource of a type, a page at a time, by keyset."""
        after = ""
        while True:
            query = (
                select(Resource.id)
                .where(Resource.resource_type == resource_type, Resource.id > after)
                .order_by(Resource.id)
                .limit(size)
            )
            page = list(session.scalars(query))
            if not page:
                return
            yield page
            after = page[-1]

    def _holds_group(self, group: Resource) -> bool:
        if self.config.consent is not None:
            return False
        if self.config.scope_group is None:
            return True
        return scope.is_scope_group(self.config, group)

    def _released(
        self, session: Session, resource: Resource, now: datetime
    ) -> dict[str, Any]:
        resource_type = self.registry.resource_type(resource.resource_type)
        if resource_type is None:
            return {}
        store = ResourceStore(session, resource_type)
        name = related_attribute(resource_type)
        related = None
        if name == "members":
            related = store.members_of([resource.id])[resource.id]
        elif name == "groups":
            related = store.groups_of([resource.id])[resource.id]
        types = {rt.name: rt for rt in self.registry.resource_types}
        body = represent(resource_type, resource, self.base_url, related, types)

        consents: list[Any] = []
        if resource.resource_type == scope.USER:
            consents = granted_consents(session, [resource.id], now=now)[resource.id]
        return self.config.policy.project(resource_type, body, consents)
