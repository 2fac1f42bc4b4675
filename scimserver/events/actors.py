"""Finding the User a learning event is about.

The LMS names an employee the way the hub shows them to it:

1. by the pseudonym of its own sector, when its release policy is pseudonymous
   (looked up in the register of issued pseudonyms, never computed for every
   User);
2. by the User's ``id``, when its policy shows real ids;
3. by ``externalId`` or ``userName`` (an ``mbox`` address is compared with
   ``userName``, case-insensitively, as most deployments use the work e-mail).

A pseudonym of another sector matches nothing: one client cannot name a User
with another client's identifier.
"""

from __future__ import annotations

import logging

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from scimserver.events.statements import Actor
from scimserver.models import Resource
from scimserver.policy.pseudonym_register import user_for
from scimserver.policy.pseudonyms import is_pseudonym
from scimserver.policy.release import ReleasePolicy

logger = logging.getLogger(__name__)

USER = "User"


def resolve_actor(session: Session, policy: ReleasePolicy, actor: Actor) -> str | None:
    """The id of the provisioned User ``actor`` names, or None."""
    if actor.kind == "mbox":
        return _by_user_name(session, actor.name)
    if is_pseudonym(actor.name):
        sector = policy.sector
        return user_for(session, sector, actor.name) if sector else None

    if policy.sector is None:
        found = session.scalar(_users().where(Resource.id == actor.name))
        if found is not None:
            return found
    query = _users().where(
        or_(
            Resource.external_id == actor.name,
            func.lower(Resource.user_name) == actor.name.lower(),
        )
    )
    return session.scalar(query.limit(1))


def _by_user_name(session: Session, name: str) -> str | None:
    query = _users().where(func.lower(Resource.user_name) == name.lower())
    return session.scalar(query)


def _users() -> Select[str]:
    return select(Resource.id).where(
        Resource.resource_type == USER, Resource.deprovisioned.is_(None)
    )
