"""Audit entries held in a session until its transaction commits.

Each entry remembers the (possibly nested) transaction it was written in: when
a savepoint rolls back, the entries written inside it are dropped with the rest
of its changes; when the outermost transaction ends, nothing stays held.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session, SessionTransaction

from scimserver.audit.models import AuditEntry

logger = logging.getLogger(__name__)

HELD_KEY = "scimserver.audit.held"


@dataclass(frozen=True)
class Held:
    """An entry waiting for the commit, with the key that will sign it."""

    entry: AuditEntry
    secret: str
    transaction: SessionTransaction


def hold(session: Session, entry: AuditEntry, secret: str) -> None:
    """Keep ``entry`` in ``session`` until its transaction commits or rolls back."""
    transaction = (
        session.get_nested_transaction()
        or session.get_transaction()
        or session.begin()  # so that a rollback before any SQL drops it too
    )
    session.info.setdefault(HELD_KEY, []).append(Held(entry, secret, transaction))


def take(session: Session) -> list[Held]:
    """Remove and return every entry held in ``session``, oldest first."""
    held: list[Held] = session.info.pop(HELD_KEY, [])
    return held


def drop_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    """Forget the entries written in ``transaction`` or in a savepoint inside it."""
    held: list[Held] = session.info.get(HELD_KEY, [])
    kept = [item for item in held if not _within(item.transaction, transaction)]
    if len(kept) < len(held):
        logger.debug("audit entries dropped count=%d", len(held) - len(kept))
    session.info[HELD_KEY] = kept


def _within(inner: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while inner is not None:
        if inner is outer:
            return True
        inner = inner.parent
    return False
