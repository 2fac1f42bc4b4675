"""Queueing outbound events in the transaction of the change (transactional outbox).

:func:`enqueue_change` is called by every SCIM write
(:mod:`scimserver.scim.writes`) and :func:`enqueue_consent_change` by every
consent grant and withdrawal (:mod:`scimserver.consent.grants`), with the
caller's session: the rows commit or roll back with the change. Only the facts
of the change are stored (resource, event type, attribute names); the payload is
built when the event is delivered (:mod:`scimserver.connectors.payloads`).

A connector that needs consent loses a User whose consent expired at the next
change, delivery or sweep (:mod:`scimserver.connectors.consent_sweep`).

TODO: a connector whose release policy releases some attributes under consent
is told of a withdrawal at once, but of an expiry only by the next event about
that User (whose payload leaves the attributes out); expiries need a record of
which ones were already announced before a sweep can send them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from scimserver.connectors import scope
from scimserver.connectors.config import ConnectorConfig, current_catalog
from scimserver.connectors.models import (
    CANCELLED,
    PENDING,
    OutboxEvent,
)
from scimserver.consent.records import has_granted_consent
from scimserver.models import Resource

logger = logging.getLogger(__name__)

#: The verbs of :func:`scimserver.scim.writes._audit_write`, as event types.
EVENT_TYPES = {
    "create": "created",
    "replace": "updated",
    "patch": "updated",
    "rehire": "updated",
    "delete": "deleted",
}


def enqueue_change(
    session: Session,
    resource_type: str,
    resource: Resource,
    verb: str,
    changed: Iterable[str],
) -> None:
    """Queue the events of one SCIM write for every connector it concerns."""
    catalog = current_catalog()
    if not catalog:
        return

    now = datetime.now(UTC)
    event_type, detail = _describe(resource_type, resource, verb, set(changed))
    for config in catalog.configs.values():
        if config.type in ("eap_referral", "referral_follow_up"):  # referrals only
            continue
        if resource_type == scope.USER:
            _queue_user_change(session, config, resource, event_type, detail, now)
        elif resource_type == scope.GROUP:
            _queue_group_change(session, config, resource, event_type, detail, now)


def enqueue_consent_change(
    session: Session,
    user_id: str,
    *,
    purpose: str,
    recipient: str,
    granted: bool,
    now: datetime,
) -> None:
    """Queue what a grant or withdrawal means for each connector it concerns.

    A connector whose consent requirement is this purpose and recipient gains
    the User on a grant; on a withdrawal its pending events for the User are
    cancelled and the configured removal is queued. A connector whose release
    policy releases data under such a consent gets the change of what it may
    read (attributes added, or removed).
    """
    catalog = current_catalog()
    for config in catalog.configs.values():
        if config.type in ("eap_referral", "referral_follow_up"):  # referrals only
            continue
        gated = config.consent is not None and (
            (config.consent.purpose, config.consent.recipient) == (purpose, recipient)
        )
        if gated:
            _queue_gate_change(session, config, user_id, granted, purpose, now)
        elif _releases_under(config, purpose, recipient) and _sees_user(
            session, config, user_id
        ):
            detail = {"purpose": purpose}
            if not granted:
                detail["removal"] = "remove_attributes"
            kind = "consent_granted" if granted else "consent_withdrawn"
            queue(session, config, kind, scope.USER, user_id, detail, now)


def queue(
    session: Session,
    config: ConnectorConfig,
    event_type: str,
    resource_type: str,
    resource_id: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    """Add one pending event for ``config``; it is due at once."""
    session.add(
        OutboxEvent(
            connector=config.name,
            event_type=event_type,
            resource_type=resource_type,
            resource_id=resource_id,
            detail=detail,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created=now,
        )
    )
    logger.debug(
        "queued connector=%s event=%s resource_type=%s id=%s",
        config.name,
        event_type,
        resource_type,
        resource_id,
    )


def cancel_pending(
    session: Session, connector: str, resource_id: str, reason: str, now: datetime
) -> int:
    """Cancel the events of a resource not yet handed to the connector.

    An event being delivered right now cannot be called back; it carries what
    the release policy allowed when its payload was built.
    """
    session.flush()
    result = session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.connector == connector,
            OutboxEvent.resource_id == resource_id,
            OutboxEvent.status == PENDING,
        )
        .values(status=CANCELLED, finished=now)
        .execution_options(synchronize_session=False)
    )
    cancelled = int(result.rowcount)  # type: ignore[attr-defined]
    if cancelled:
        logger.info(
            "cancelled connector=%s events=%d reason=%s", connector, cancelled, reason
        )
    return cancelled


def _describe(
    resource_type: str, resource: Resource, verb: str, changed: set[str]
) -> tuple[str, dict[str, Any]]:
    """The event type and detail of a write: attribute names, never values."""
    event_type = EVENT_TYPES[verb]
    detail: dict[str, Any] = {"attributes": sorted(changed, key=str.lower)}
    if event_type == "updated" and changed == {"members"}:
        event_type = "members"
    if verb == "rehire":
        detail["rehired"] = True
    if event_type == "deleted":
        soft = resource.deprovisioned is not None
        detail = {"deprovisioning": "soft" if soft else "hard"}
    return event_type, detail


def _queue_user_change(
    session: Session,
    config: ConnectorConfig,
    user: Resource,
    event_type: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    """Queue a User's change; a restricted connector also gains or loses the User."""
    if not scope.is_restricted(config):
        queue(session, config, event_type, scope.USER, user.id, detail, now)
        return

    held = scope.holds(session, config, user.id)
    if event_type == "deleted":
        if held:
            queue(session, config, event_type, scope.USER, user.id, detail, now)
            scope.release(session, config, user.id)
        return

    allowed = scope.eligible(session, config, user.id, now)
    if allowed and held:
        queue(session, config, event_type, scope.USER, user.id, detail, now)
    elif allowed:
        queue(session, config, "created", scope.USER, user.id, detail, now)
        scope.hold(session, config, user.id)
    elif held:
        queue_departure(session, config, user.id, now)


def queue_departure(
    session: Session, config: ConnectorConfig, user_id: str, now: datetime
) -> None:
    """A held User is no longer eligible: their consent ended, or they left scope.

    An ended consent (it expired; a withdrawal is queued when it happens) gets
    the connector's configured removal, leaving the scope a ``deleted`` event.
    """
    if not scope.holds(session, config, user_id):
        return
    consent = config.consent
    if consent is not None and not has_granted_consent(
        session, user_id, consent.purpose, consent.recipient, now
    ):
        detail = {
            "purpose": consent.purpose,
            "removal": config.on_consent_withdrawn,
            "reason": "consent_ended",
        }
        queue(session, config, "consent_withdrawn", scope.USER, user_id, detail, now)
    else:
        left = {"reason": "left_scope"}
        queue(session, config, "deleted", scope.USER, user_id, left, now)
    scope.release(session, config, user_id)


def _queue_group_change(
    session: Session,
    config: ConnectorConfig,
    group: Resource,
    event_type: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    """Queue a Group's change; the scope Group's members may enter or leave.

    A connector that needs consent gets no Groups: their members would name
    Users who gave none.
    """
    if config.consent is not None:
        return
    if config.scope_group is None:
        queue(session, config, event_type, scope.GROUP, group.id, detail, now)
        return
    if scope.is_scope_group(config, group):
        queue(session, config, event_type, scope.GROUP, group.id, detail, now)
        scope.sync_scope_members(session, config, now)


def _queue_gate_change(
    session: Session,
    config: ConnectorConfig,
    user_id: str,
    granted: bool,
    purpose: str,
    now: datetime,
) -> None:
    """A consent the connector requires was granted or withdrawn."""
    held = scope.holds(session, config, user_id)
    if granted:
        if scope.eligible(session, config, user_id, now):
            detail = {"purpose": purpose}
            queue(session, config, "consent_granted", scope.USER, user_id, detail, now)
            scope.hold(session, config, user_id)
        return

    cancel_pending(session, config.name, user_id, "consent withdrawn", now)
    if held:
        detail = {"purpose": purpose, "removal": config.on_consent_withdrawn}
        queue(session, config, "consent_withdrawn", scope.USER, user_id, detail, now)
        scope.release(session, config, user_id)


def _releases_under(config: ConnectorConfig, purpose: str, recipient: str) -> bool:
    """Whether the connector's policy releases data under such a consent."""
    policy = config.policy
    return purpose in policy.document.purposes and policy.recipient == recipient


def _sees_user(session: Session, config: ConnectorConfig, user_id: str) -> bool:
    """Whether the connector holds the User (every User, when unrestricted)."""
    if scope.is_restricted(config):
        return scope.holds(session, config, user_id)
    return True
