"""Creating referrals and handing them to their ``eap_referral`` connector.

A referral is created only for a User holding a consent in effect for the
connector's purpose and recipient, and queued in the outbox in the same
transaction. The outbox row is a ``User`` event whose detail names the
referral, so the worker's per-User order and its retries apply unchanged; the
connector builds the referral's own minimal payload when it sends it
(:mod:`scimserver.events.eap_connector`), after checking the consent again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scimserver.audit.events import audit
from scimserver.connectors.config import ConnectorConfig, current_catalog
from scimserver.connectors.outbox import queue
from scimserver.consent.models import Consent
from scimserver.consent.records import ConsentRecord, granted_consents, in_effect
from scimserver.events.lifecycle import CLOSED, CREATED
from scimserver.events.models import Referral

logger = logging.getLogger(__name__)

CONNECTOR_TYPE = "eap_referral"
#: The reason of a referral the employee asked for.
SELF_REFERRAL_REASON = "self_referral"
USER = "User"


class NoSuchConnector(LookupError):
    """No ``eap_referral`` connector of that name is configured."""


@dataclass(frozen=True)
class Offer:
    """What a rule or an employee asks for."""

    user_id: str
    connector: str
    module_id: str | None
    reason: str
    #: ``rule:<name>`` or ``self``.
    origin: str
    rules_version: str | None = None


def referral_connector(name: str) -> ConnectorConfig:
    """The ``eap_referral`` connector named ``name``."""
    config = current_catalog().get(name)
    if config is None or config.type != CONNECTOR_TYPE:
        raise NoSuchConnector(f"No eap_referral connector named '{name}'.")
    return config


def referral_connectors() -> list[str]:
    """The names of every configured ``eap_referral`` connector."""
    configs = current_catalog().configs.values()
    return sorted(c.name for c in configs if c.type == CONNECTOR_TYPE)


def consent_for(
    session: Session, config: ConnectorConfig, user_id: str, now: datetime
) -> ConsentRecord | None:
    """The newest consent in effect that lets ``config`` receive a referral."""
    purpose, recipient = referral_consent(config)
    found = granted_consents(
        session, [user_id], purpose=purpose, recipient=recipient, now=now
    )
    consents = found[user_id]
    return consents[0] if consents else None


def referral_consent(config: ConnectorConfig) -> tuple[str, str]:
    """The purpose and recipient a referral through ``config`` needs consent for."""
    purpose = str(config.options.get("purpose", "eap_referral"))
    recipient = str(config.options.get("recipient", config.policy.recipient))
    return purpose, recipient


def consent_still_in_effect(session: Session, token: str, now: datetime) -> bool:
    """Whether the consent named by ``token`` is in effect at ``now``."""
    query = select(Consent.id).where(Consent.consent_token == token, in_effect(now))
    return session.scalar(query.limit(1)) is not None


def open_referral(session: Session, offer: Offer) -> Referral | None:
    """A referral of the same User, connector and module that is not closed."""
    query = select(Referral).where(
        Referral.user_id == offer.user_id,
        Referral.connector == offer.connector,
        Referral.state.not_in(CLOSED),
    )
    if offer.module_id is None:
        query = query.where(Referral.module_id.is_(None))
    else:
        query = query.where(Referral.module_id == offer.module_id)
    return session.scalars(query.limit(1)).first()


def create_referral(
    session: Session,
    offer: Offer,
    consent: ConsentRecord,
    now: datetime,
    *,
    actor: str | None = None,
) -> Referral:
    """Record the referral, audit it and queue it for its connector."""
    config = referral_connector(offer.connector)
    referral = Referral(
        id=str(uuid.uuid4()),
        user_id=offer.user_id,
        connector=offer.connector,
        consent_token=consent.consent_token,
        module_id=offer.module_id,
        reason=offer.reason,
        origin=offer.origin,
        rules_version=offer.rules_version,
        state=CREATED,
        created=now,
        updated=now,
    )
    session.add(referral)
    session.flush()

    _audit_created(session, referral, consent, actor)
    queue(
        session, config, "created", USER, offer.user_id, {"referral": referral.id}, now
    )
    logger.info(
        "referral created id=%s connector=%s origin=%s",
        referral.id,
        referral.connector,
        referral.origin,
    )
    return referral


def _audit_created(
    session: Session, referral: Referral, consent: ConsentRecord, actor: str | None
) -> None:
    audit(
        "referral.created",
        resource_type="Referral",
        resource_id=referral.id,
        detail={
            "user_id": referral.user_id,
            "connector": referral.connector,
            "consent_id": consent.id,
            "module_id": referral.module_id,
            "origin": referral.origin,
            "reason": referral.reason,
            "rules_version": referral.rules_version,
        },
        session=session,
        actor=actor,
    )
