"""The copy of the consent register in each User's SCIM document.

After every grant or withdrawal the User's section under :data:`CONSENT_SCHEMA`
is rewritten from the ``consents`` table through the SCIM store, in the same
transaction, so that the value index and ``meta.version`` follow. SCIM reads,
``attributes`` projections and filters such as
``urn:...:consents[purpose eq "eap_referral" and status eq "granted"]`` then work
with no code of their own. The attribute is readOnly (RFC 7643 §2.2), so SCIM
writes cannot change it: POST and PUT drop it, PUT keeps the stored copy, and a
PATCH naming it fails with ``mutability``.

A copied ``status`` is true when written: an expiry passes without a write.
:func:`refresh_expired` rewrites the copies that still say ``granted`` after
their ``expiresAt``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from scimserver.consent.records import GRANTED, ConsentRecord, consent_history
from scimserver.models import Resource, ResourceValue
from scimserver.scim import api as scim_api
from scimserver.scim.errors import InternalError, NotFound
from scimserver.scim.representation import format_datetime
from scimserver.scim.schema import ResourceType, SchemaRegistry
from scimserver.scim.store import ResourceStore

logger = logging.getLogger(__name__)

CONSENT_SCHEMA = "urn:scimserver:params:scim:schemas:extension:consent:1.0:User"
CONSENTS = "consents"


def consent_resource_type(registry: SchemaRegistry | None = None) -> ResourceType:
    """The resource type extended by :data:`CONSENT_SCHEMA` (the User).

    Without ``registry``, the current application's schemas are used.
    """
    schemas = registry or scim_api.registry()
    for resource_type in schemas.resource_types:
        if CONSENT_SCHEMA in resource_type.extension_ids:
            return resource_type
    raise InternalError(f"No resource type lists the extension {CONSENT_SCHEMA}.")


def mirror_value(record: ConsentRecord, now: datetime) -> dict[str, Any]:
    """One value of ``consents``, with ``status`` as it is at ``now``."""
    value: dict[str, Any] = {
        "purpose": record.purpose,
        "recipient": record.recipient,
        "dataCategories": list(record.data_categories),
        "status": record.status(now),
        "consentToken": record.consent_token,
        "noticeVersion": record.notice_version,
        "grantedAt": format_datetime(record.granted_at),
        "captureMethod": record.capture_method,
    }
    if record.withdrawn_at is not None:
        value["withdrawnAt"] = format_datetime(record.withdrawn_at)
    if record.expires_at is not None:
        value["expiresAt"] = format_datetime(record.expires_at)
    return value


def mirror_consents(
    session: Session, users: ResourceType, user: Resource, now: datetime
) -> bool:
    """Rewrite the consent section of ``user`` from the table; True if it changed.

    The caller holds the User's row lock, so that concurrent grants and
    withdrawals rewrite the copy one after the other.
    """
    records = consent_history(session, user.id)
    document = {k: v for k, v in user.attributes.items() if k != CONSENT_SCHEMA}
    if records:
        document[CONSENT_SCHEMA] = {CONSENTS: [mirror_value(r, now) for r in records]}
    if document == user.attributes:
        return False

    ResourceStore(session, users).replace(user, document, members=None)
    return True


def lock_user(session: Session, users: ResourceType, user_id: str) -> Resource:
    """Load the User for update, or raise 404 (RFC 7644 §3.12)."""
    user = session.get(Resource, user_id, with_for_update=True)
    if user is None or user.resource_type != users.name:
        raise NotFound(f"{users.name} {user_id} not found.")
    return user


def refresh_expired(
    session: Session, now: datetime, users: ResourceType | None = None
) -> int:
    """Rewrite the copies that say ``granted`` for a consent expired by ``now``.

    Returns how many Users changed; the caller commits. Needs an application
    context when ``users`` is not given.

    ``scimserver consents refresh`` calls it; run it periodically (cron, like
    ``lifecycle apply``). The consent API and the release policy read the table
    and are never stale.
    """
    users = users or consent_resource_type()
    changed = 0
    for user_id in _users_with_lapsed_copies(session, now):
        user = lock_user(session, users, user_id)
        if mirror_consents(session, users, user, now):
            changed += 1
    logger.info("refreshed expired consents users=%d", changed)
    return changed


def _users_with_lapsed_copies(session: Session, now: datetime) -> list[str]:
    """Users whose indexed copy has a ``granted`` value with ``expiresAt <= now``."""
    key = f"{CONSENT_SCHEMA.lower()}:{CONSENTS}"
    status = aliased(ResourceValue)
    expiry = aliased(ResourceValue)
    query = (
        select(status.resource_id)
        .join(
            expiry,
            and_(
                expiry.resource_id == status.resource_id,
                expiry.attribute == key,
                expiry.sub_attribute == "expiresat",
                expiry.item == status.item,
            ),
        )
        .where(
            status.attribute == key,
            status.sub_attribute == "status",
            status.text_value == GRANTED,
            expiry.time_value <= now,
        )
        .distinct()
    )
    return list(session.scalars(query))
