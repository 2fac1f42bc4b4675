"""Downstream links: which downstream resource stands for which hub resource.

A SCIM push connector creates a resource downstream once and then addresses it
by the ``id`` the downstream server assigned (RFC 7644 §3.3); that id is kept
here, per connector, until the resource is deleted downstream.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from scimserver.connectors.push_models import DownstreamLink
from scimserver.models import Membership

logger = logging.getLogger(__name__)

ACTIVE = "active"
DEACTIVATED = "deactivated"


def find_link(
    session: Session, connector: str, resource_type: str, resource_id: str
) -> DownstreamLink | None:
    """The link of one hub resource, or None before its first push."""
    return session.get(DownstreamLink, (connector, resource_type, resource_id))


def save_link(
    session: Session,
    connector: str,
    resource_type: str,
    resource_id: str,
    downstream_id: str,
    *,
    pushed_paths: Sequence[str] | None = None,
    state: str = ACTIVE,
) -> DownstreamLink:
    """Create or update the link of a hub resource."""
    now = datetime.now(UTC)
    link = find_link(session, connector, resource_type, resource_id)
    if link is None:
        link = DownstreamLink(
            connector=connector,
            resource_type=resource_type,
            resource_id=resource_id,
            pushed_paths=[],
            created=now,
        )
        session.add(link)
    link.downstream_id = downstream_id
    link.state = state
    link.updated = now
    if pushed_paths is not None:
        link.pushed_paths = sorted(pushed_paths)
    return link


def forget_link(
    session: Session, connector: str, resource_type: str, resource_id: str
) -> None:
    """Drop the link of a resource that no longer exists downstream."""
    session.execute(
        delete(DownstreamLink).where(
            DownstreamLink.connector == connector,
            DownstreamLink.resource_type == resource_type,
            DownstreamLink.resource_id == resource_id,
        )
    )


def downstream_ids(
    session: Session, connector: str, resource_ids: Iterable[str]
) -> dict[str, str]:
    """The downstream ids of those of ``resource_ids`` that are linked."""
    wanted = list(dict.fromkeys(resource_ids))
    if not wanted:
        return {}
    query = select(DownstreamLink.resource_id, DownstreamLink.downstream_id).where(
        DownstreamLink.connector == connector,
        DownstreamLink.resource_id.in_(wanted),
    )
    return {row.resource_id: row.downstream_id for row in session.execute(query)}


def linked_members(session: Session, connector: str, group_id: str) -> list[str]:
    """Downstream ids of the direct members of a Group that are linked and active.

    Users the connector deactivated downstream (they left its scope) are left
    out, as they are no longer the connector's to show.
    """
    query = (
        select(DownstreamLink.downstream_id)
        .join(Membership, Membership.member_id == DownstreamLink.resource_id)
        .where(
            Membership.group_id == group_id,
            DownstreamLink.connector == connector,
            DownstreamLink.state == ACTIVE,
        )
        .order_by(DownstreamLink.downstream_id)
    )
    return list(session.scalars(query))


def linked_groups_of(session: Session, connector: str, member_id: str) -> list[str]:
    """Downstream ids of the linked Groups that ``member_id`` belongs to."""
    query = (
        select(DownstreamLink.downstream_id)
        .join(Membership, Membership.group_id == DownstreamLink.resource_id)
        .where(
            Membership.member_id == member_id,
            DownstreamLink.connector == connector,
            DownstreamLink.resource_type == "Group",
        )
    )
    return list(session.scalars(query))


def links_by_downstream_id(
    session: Session, connector: str, resource_type: str, ids: Iterable[str]
) -> dict[str, DownstreamLink]:
    """The links of the given downstream ids, keyed by downstream id."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    query = select(DownstreamLink).where(
        DownstreamLink.connector == connector,
        DownstreamLink.resource_type == resource_type,
        DownstreamLink.downstream_id.in_(wanted),
    )
    return {link.downstream_id: link for link in session.scalars(query)}
