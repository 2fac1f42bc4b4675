"""Effective dates of an employment: a User is inactive outside of them.

The HR system sets ``startDate`` and ``endDate`` in the scimserver extension
``urn:scimserver:params:scim:schemas:extension:lifecycle:1.0:User``; the schema
machinery validates, stores, filters and serves them like any attribute. This
module holds the one rule about them that every write applies: a User written
before its start date, or from its end date on, is stored with ``active`` false,
whatever the request said. :mod:`.lifecycle` changes ``active`` when a date
arrives.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scimserver.scim.schema import ResourceType
from scimserver.scim.value_index import parse_datetime

logger = logging.getLogger(__name__)

LIFECYCLE = "urn:scimserver:params:scim:schemas:extension:lifecycle:1.0:User"
START_DATE = "startDate"
END_DATE = "endDate"
ACTIVE = "active"


@dataclass(frozen=True)
class EffectiveDates:
    """The start and end of an employment; either may be open."""

    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def of(cls, document: dict[str, Any]) -> EffectiveDates:
        """Read the dates of a stored User document."""
        section = document.get(LIFECYCLE)
        if not isinstance(section, dict):
            return cls()
        return cls(_moment(section.get(START_DATE)), _moment(section.get(END_DATE)))

    def pending(self, now: datetime) -> bool:
        """Whether the employment has not started at ``now``."""
        return self.start is not None and now < self.start

    def ended(self, now: datetime) -> bool:
        """Whether the employment has ended at ``now``."""
        return self.end is not None and self.end <= now

    def holds_inactive(self, now: datetime) -> bool:
        """Whether a User with these dates must be inactive at ``now``."""
        return self.pending(now) or self.ended(now)


def has_effective_dates(resource_type: ResourceType) -> bool:
    """Whether ``resource_type`` carries the lifecycle extension and ``active``."""
    extension = resource_type.extension(LIFECYCLE)
    return (
        extension is not None
        and extension is not resource_type.schema
        and resource_type.schema.attribute(ACTIVE) is not None
    )


def hold_inactive(
    resource_type: ResourceType,
    document: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return ``document`` with ``active`` false when its dates say so."""
    if not has_effective_dates(resource_type):
        return document
    moment = now or datetime.now(UTC)
    if document.get(ACTIVE) is False:
        return document
    if not EffectiveDates.of(document).holds_inactive(moment):
        return document

    logger.debug("held inactive outside its effective dates")
    return {**document, ACTIVE: False}


def _moment(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None
