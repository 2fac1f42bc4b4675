"""The server's register of issued pseudonyms: ``(sector, pseudonym) -> User id``.

A pseudonym cannot be inverted (:mod:`scimserver.policy.pseudonyms`), so a
pseudonymous client that addresses ``/Users/pid-...`` or filters on ``id`` is
answered through this register. A pseudonym is registered when a response first
shows it, and for every User at once when a policy names a new sector
(:func:`register_all`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from scimserver.models import Resource
from scimserver.policy.models import Pseudonym
from scimserver.policy.pseudonyms import pseudonym

logger = logging.getLogger(__name__)

BATCH = 1000


def user_for(session: Session, sector: str, shown: str) -> str | None:
    """The User id behind the pseudonym ``shown`` in ``sector``, or None."""
    return session.scalar(
        select(Pseudonym.user_id).where(
            Pseudonym.sector == sector, Pseudonym.pseudonym == shown
        )
    )


def register(session: Session, sector: str, issued: Mapping[str, str]) -> int:
    """Record the pseudonyms ``issued`` (pseudonym -> User id) not yet known.

    Those already registered cost one SELECT; the rest one INSERT that ignores a
    row another request registered meanwhile. Returns how many were unknown
    before the call (some of them may have been registered concurrently).
    """
    if not issued:
        return 0
    known = set(
        session.scalars(
            select(Pseudonym.pseudonym).where(
                Pseudonym.sector == sector, Pseudonym.pseudonym.in_(list(issued))
            )
        )
    )
    rows = [
        {"sector": sector, "pseudonym": shown, "user_id": user_id}
        for shown, user_id in issued.items()
        if shown not in known
    ]
    if rows:
        _insert_new(session, rows)
    return len(rows)


def register_all(session: Session, key: bytes, sector: str) -> int:
    """Register the pseudonym of every User in ``sector``; return how many were new.

    Runs in batches of :data:`BATCH` Users, so memory stays flat for any
    directory size.
    """
    added, after = 0, ""
    while True:
        ids = list(
            session.scalars(
                select(Resource.id)
                .where(Resource.resource_type == "User", Resource.id > after)
                .order_by(Resource.id)
                .limit(BATCH)
            )
        )
        if not ids:
            break
        added += register(session, sector, {pseudonym(key, sector, i): i for i in ids})
        after = ids[-1]
    logger.info("pseudonyms registered sector=%s added=%d", sector, added)
    return added


def _insert_new(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(Pseudonym).values(list(rows)).on_conflict_do_nothing())
