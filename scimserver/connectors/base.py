"""What the outbox hands a connector, and what a connector answers.

The delivery worker (:mod:`scimserver.connectors.worker`) claims an outbox row,
builds an :class:`OutboundEvent` from it and calls :meth:`Connector.deliver`.
The payload is built at delivery time from the resource as it is then, passed
through the connector's release policy, so a delivery never carries data that a
withdrawn consent or a newer change has taken back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

logger = logging.getLogger(__name__)

#: What happened to the resource; ``members`` changes carry ``detail``.
EventType = Literal[
    "created", "updated", "deleted", "members", "consent_granted", "consent_withdrawn"
]


@dataclass(frozen=True)
class OutboundEvent:
    """One change on its way to one connector."""

    #: The outbox row id; receivers use it as the idempotency key.
    id: str
    connector: str
    event_type: EventType
    #: ``User`` or ``Group``.
    resource_type: str
    resource_id: str
    #: The resource as the connector's release policy releases it now; empty for
    #: a deleted resource or a User the connector may no longer see.
    payload: dict[str, Any]
    #: Event-specific facts: member ids added and removed, a consent's purpose.
    detail: dict[str, Any] = field(default_factory=dict)
    #: 1 on the first try.
    attempt: int = 1
    #: The resource's id as the connector's release policy shows it: a pairwise
    #: pseudonym for a pseudonymous policy, else ``resource_id``.
    subject: str = ""
    #: When the change was committed (the outbox row's creation); None if unknown.
    occurred: datetime | None = None


@dataclass(frozen=True)
class DeliveryOutcome:
    """The result of one attempt.

    ``delivered``: done. ``retry``: try again, not before ``retry_after`` seconds
    when given (a ``Retry-After`` header). ``rejected``: the receiver refused the
    event for good (a 4xx other than 408, 409 handled, 429); it goes to the dead
    letters at once.
    """

    status: Literal["delivered", "retry", "rejected"]
    http_status: int | None = None
    error: str | None = None
    retry_after: float | None = None


class Connector(Protocol):
    """A destination: a downstream SCIM server, a webhook, the EAP referral API."""

    name: str

    def deliver(self, event: OutboundEvent) -> DeliveryOutcome:
        """Send ``event`` once; never raise for a receiver's failure."""
        ...
