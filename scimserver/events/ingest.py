"""Recording learning events: idempotent, quarantining what cannot be read.

Each statement is read (:mod:`scimserver.events.statements`), its actor
resolved (:mod:`scimserver.events.actors`) and stored once per statement id; a
repeat is answered as a duplicate and changes nothing. A statement that cannot
be read or names no provisioned User is kept in the quarantine table with the
reason, so that an administrator can inspect it; it is never dropped silently.
A stored completion then runs the referral rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scimserver.audit.events import audit
from scimserver.events.actors import resolve_actor
from scimserver.events.models import LearningEvent, QuarantinedStatement
from scimserver.events.referrals import (
    Offer,
    consent_for,
    create_referral,
    open_referral,
    referral_connector,
)
from scimserver.events.rules import current_rules
from scimserver.events.statements import (
    LearningFact,
    StatementError,
    read_statement,
    statement_id_of,
)
from scimserver.policy.release import ReleasePolicy

logger = logging.getLogger(__name__)

Status = Literal["stored", "duplicate", "quarantined"]


@dataclass(frozen=True)
class Outcome:
    """What became of one statement."""

    statement_id: str | None
    status: Status
    error: str | None = None
    quarantine_id: int | None = None
    referrals: int = 0


def ingest(
    session: Session, client: str, policy: ReleasePolicy, body: Any, now: datetime
) -> Outcome:
    """Record one statement sent by ``client``, whose release policy is ``policy``."""
    try:
        fact = read_statement(body)
    except StatementError as error:
        return quarantine(session, client, body, str(error), now)
    user_id = resolve_actor(session, policy, fact.actor)
    if user_id is None:
        error_text = (
            f"Unknown actor: no provisioned User has this {fact.actor.kind} "
            "(send the pseudonym the hub shows this client, or the "
            "externalId or userName)."
        )
        return quarantine(session, client, body, error_text, now)

    if not _store(session, client, fact, user_id, now):
        return Outcome(fact.statement_id, "duplicate")
    _audit_stored(session, client, fact, user_id)
    created = apply_rules(session, fact, user_id, now)
    return Outcome(fact.statement_id, "stored", referrals=created)


def quarantine(
    session: Session, client: str, body: Any, error: str, now: datetime
) -> Outcome:
    """Keep ``body`` with ``error`` for inspection and audit that it was refused."""
    row = QuarantinedStatement(
        client=client,
        statement_id=statement_id_of(body),
        error=error,
        body=body,
        received=now,
    )
    session.add(row)
    session.flush()
    audit(
        "learning_event.quarantined",
        resource_type="LearningEvent",
        resource_id=str(row.id),
        detail={"client": client, "statement_id": row.statement_id, "error": error},
        session=session,
    )
    logger.info("learning event quarantined id=%s client=%s", row.id, client)
    return Outcome(row.statement_id, "quarantined", error, row.id)


def apply_rules(
    session: Session, fact: LearningFact, user_id: str, now: datetime
) -> int:
    """Offer the referrals the rules attach to ``fact``; return how many were made."""
    rules = current_rules()
    created = 0
    for rule in rules.matching(fact.verb, fact.module_id):
        config = referral_connector(rule.connector)
        consent = consent_for(session, config, user_id, now)
        if consent is None:
            logger.info("rule %s: no consent, no referral", rule.name)
            continue
        offer = Offer(
            user_id,
            config.name,
            fact.module_id,
            rule.reason,
            f"rule:{rule.name}",
            rules.version,
        )
        if open_referral(session, offer) is not None:
            continue
        create_referral(session, offer, consent, now)
        created += 1
    return created


def _store(
    session: Session, client: str, fact: LearningFact, user_id: str, now: datetime
) -> bool:
    """Insert the event; False when its statement id is already recorded."""
    known = select(LearningEvent.id).where(
        LearningEvent.statement_id == fact.statement_id
    )
    if session.scalar(known) is not None:
        return False
    row = LearningEvent(
        statement_id=fact.statement_id,
        client=client,
        user_id=user_id,
        module_id=fact.module_id,
        verb=fact.verb,
        occurred=fact.occurred,
        received=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # Recorded by a concurrent request meanwhile.
        return False
    return True


def _audit_stored(
    session: Session, client: str, fact: LearningFact, user_id: str
) -> None:
    audit(
        "learning_event.recorded",
        resource_type="User",
        resource_id=user_id,
        detail={
            "client": client,
            "statement_id": fact.statement_id,
            "module_id": fact.module_id,
            "verb": fact.verb,
        },
        session=session,
    )
