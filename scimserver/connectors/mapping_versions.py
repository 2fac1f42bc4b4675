"""Versions of a connector's attribute mapping: store, activate, roll back.

Every change stores a new version; none is edited or removed. Exactly one
version (or none: the connector then sends what its release policy releases)
is active, and rolling back means activating an older version again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from scimserver.connectors.mapping import (
    DEFAULT_MAPPING,
    AttributeMapping,
    parse_mapping,
)
from scimserver.connectors.push_models import MappingVersion

logger = logging.getLogger(__name__)


class UnknownVersion(LookupError):
    """No such mapping version for the connector."""


def active_version(session: Session, connector: str) -> MappingVersion | None:
    """The active mapping version of ``connector``, or None."""
    query = select(MappingVersion).where(
        MappingVersion.connector == connector, MappingVersion.active.is_(True)
    )
    return session.scalar(query)


def active_mapping(session: Session, connector: str) -> AttributeMapping:
    """The mapping in force: the active version, else :data:`DEFAULT_MAPPING`."""
    version = active_version(session, connector)
    return DEFAULT_MAPPING if version is None else parse_mapping(version.document)


def get_version(session: Session, connector: str, version: int) -> MappingVersion:
    """One version of the mapping of ``connector``."""
    query = select(MappingVersion).where(
        MappingVersion.connector == connector, MappingVersion.version == version
    )
    found = session.scalar(query)
    if found is None:
        raise UnknownVersion(
            f"connector {connector!r} has no mapping version {version}"
        )
    return found


def history(session: Session, connector: str) -> list[MappingVersion]:
    """Every version of the mapping of ``connector``, newest first."""
    query = (
        select(MappingVersion)
        .where(MappingVersion.connector == connector)
        .order_by(MappingVersion.version.desc())
    )
    return list(session.scalars(query))


def store_version(
    session: Session, connector: str, document: Mapping[str, Any], created_by: str
) -> MappingVersion:
    """Validate ``document`` and store it as the next version (not yet active).

    Raises :class:`~scimserver.connectors.mapping.MappingError` when invalid.
    """
    parse_mapping(document)
    newest = session.scalar(
        select(func.max(MappingVersion.version)).where(
            MappingVersion.connector == connector
        )
    )
    version = MappingVersion(
        connector=connector,
        version=(newest or 0) + 1,
        document=dict(document),
        created=datetime.now(UTC),
        created_by=created_by,
        active=False,
    )
    session.add(version)
    session.flush()
    logger.info("mapping stored connector=%s version=%s", connector, version.version)
    return version


def activate(session: Session, connector: str, version: int) -> MappingVersion:
    """Make ``version`` the active mapping of ``connector`` (also a roll back)."""
    chosen = get_version(session, connector, version)
    session.execute(
        update(MappingVersion)
        .where(MappingVersion.connector == connector, MappingVersion.active.is_(True))
        .values(active=False)
    )
    chosen.active = True
    chosen.activated = datetime.now(UTC)
    session.flush()
    logger.info("mapping activated connector=%s version=%s", connector, version)
    return chosen
