"""Departures of Users whose consent ended while nothing else happened.

A connector that needs consent holds only Users who gave it. A withdrawal is
queued when it happens, and a change or delivery for a User notices an expired
consent; a User with neither keeps being held by the connector after the
consent ends. The sweep finds such Users in SQL and queues the connector's
configured removal for each (:func:`scimserver.connectors.outbox.queue_departure`).
Delivery workers run it every :data:`SWEEP_SECONDS`; ``scimserver outbox sweep``
runs it once, for cron.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from scimserver.connectors import scope
from scimserver.connectors.config import ConnectorConfig, current_catalog
from scimserver.connectors.outbox import queue_departure

logger = logging.getLogger(__name__)

#: How often a delivery worker sweeps, in seconds.
SWEEP_SECONDS = 60.0


def sweep_ended_consents(session: Session, now: datetime) -> int:
    """Queue the removal of every held User who is no longer eligible; how many.

    The held rows are locked and skipped when another worker holds them
    (PostgreSQL), so two sweeps at once queue each departure once. The caller
    commits.
    """
    catalog = current_catalog()
    departed = 0
    for config in catalog.configs.values():
        if config.consent is not None:
            departed += _sweep(session, config, now)
    return departed


def _sweep(session: Session, config: ConnectorConfig, now: datetime) -> int:
    ended = scope.no_longer_eligible(session, config, now)
    for user_id in ended:
        queue_departure(session, config, user_id, now)
    if ended:
        logger.info("consent sweep connector=%s departures=%d", config.name, len(ended))
    return len(ended)
