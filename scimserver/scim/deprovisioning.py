"""Deprovisioning and rehiring of Users, chosen per client.

DELETE (RFC 7644 §3.6) follows the client's ``deprovision`` setting:

- ``hard`` (the default): the resource, its value index and its memberships are
  removed; later requests for it get 404, as §3.6 asks.
- ``soft``: a User is made inactive (``active`` false) and marked deprovisioned;
  it stays readable, listable and writable, memberships included, so that an
  identity provider that deletes weeks after deactivating loses nothing. This
  departs from §3.6 on purpose; choose it only for clients that want it. Groups
  have no ``active`` and are always deleted hard.

Rehire: under a profile whose dialect ``rehires`` (``entra``, ``okta``), a POST
naming the ``userName`` (compared case-insensitively) or else the ``externalId``
of an inactive or soft-deleted User does not create a second User: the existing
one is updated as by a PUT, made active unless the POST says ``active`` false
(effective dates still apply), and returned with 201. A ``userName`` held by an
active User still fails with 409 uniqueness, as under the ``standard`` profile.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from scimserver.models import Resource
from scimserver.policy.auth import current_client
from scimserver.policy.client_settings import Deprovisioning, deprovisioning_of
from scimserver.scim.dialects import Dialect
from scimserver.scim.effective_dates import ACTIVE, hold_inactive
from scimserver.scim.passwords import protect_secrets
from scimserver.scim.schema import ResourceType
from scimserver.scim.store import ResourceStore
from scimserver.scim.validation import validate_resource

logger = logging.getLogger(__name__)


def current_deprovisioning() -> Deprovisioning:
    """The ``deprovision`` setting of the authenticated client; hard outside one."""
    client = current_client()
    return deprovisioning_of(client) if client else Deprovisioning.HARD


def remove(
    store: ResourceStore,
    resource: Resource,
    mode: Deprovisioning,
    now: datetime | None = None,
) -> None:
    """RFC 7644 §3.6 DELETE, hard or soft as the client chose."""
    if mode is Deprovisioning.SOFT and has_active(store.resource_type):
        soft_delete(store, resource, now or datetime.now(UTC))
    else:
        store.delete(resource)


def soft_delete(store: ResourceStore, resource: Resource, now: datetime) -> None:
    """Make a User inactive and mark it deprovisioned; a repeat changes nothing."""
    if resource.deprovisioned is not None and resource.attributes.get(ACTIVE) is False:
        return
    resource.deprovisioned = resource.deprovisioned or now
    store.replace(resource, {**resource.attributes, ACTIVE: False}, members=None)
    logger.info(
        "soft-deleted resource_type=%s id=%s", resource.resource_type, resource.id
    )


def note_reactivation(resource: Resource, document: dict[str, Any]) -> None:
    """A write that makes a soft-deleted User active again undoes the soft delete."""
    if resource.deprovisioned is not None and document.get(ACTIVE) is True:
        resource.deprovisioned = None


def rehire(
    store: ResourceStore,
    dialect: Dialect,
    payload: dict[str, Any],
    members: list[dict[str, Any]] | None,
) -> Resource | None:
    """Reactivate the inactive User a POST names, or return None to create one.

    ``payload`` is the POST body without members, as the dialect prepared it.
    """
    resource_type = store.resource_type
    if not dialect.rehires or not has_active(resource_type):
        return None
    resource = _rehire_candidate(store, validate_resource(resource_type, payload))
    if resource is None:
        return None

    document = validate_resource(resource_type, payload, existing=resource.attributes)
    document.setdefault(ACTIVE, True)
    document = protect_secrets(resource_type, document, resource.attributes)
    document = hold_inactive(resource_type, document)
    resource.deprovisioned = None
    store.replace(resource, document, members)
    logger.info("rehired resource_type=%s id=%s", resource.resource_type, resource.id)
    return resource


def has_active(resource_type: ResourceType) -> bool:
    """Whether the resources of ``resource_type`` have an ``active`` attribute."""
    return resource_type.schema.attribute(ACTIVE) is not None


def is_inactive(resource: Resource) -> bool:
    """Inactive means soft-deleted or ``active`` false; unassigned is not inactive."""
    return (
        resource.deprovisioned is not None or resource.attributes.get(ACTIVE) is False
    )


def _rehire_candidate(
    store: ResourceStore, document: dict[str, Any]
) -> Resource | None:
    """The User with the same userName, else an inactive one with the externalId."""
    of_type = Resource.resource_type == store.resource_type.name
    user_name = document.get("userName")
    if isinstance(user_name, str):
        query = select(Resource).where(
            of_type, func.lower(Resource.user_name) == user_name.lower()
        )
        same_name = store.session.scalar(query)
        if same_name is not None:
            return same_name if is_inactive(same_name) else None

    external_id = document.get("externalId")
    if not isinstance(external_id, str):
        return None
    query = (
        select(Resource)
        .where(of_type, Resource.external_id == external_id)
        .order_by(Resource.last_modified.desc(), Resource.id)
    )
    return next((r for r in store.session.scalars(query) if is_inactive(r)), None)
