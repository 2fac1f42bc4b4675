"""The cache of used SAML assertions: each assertion signs someone in once.

SAML 2.0 Profiles §4.1.4.5: the service provider must keep the ids of the
assertions it accepted until they expire and refuse one seen before. The ids
live in a table with a primary key on (issuer, assertion id), so the insert of
a second use fails in the database, whichever instance receives it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scimserver.sso.models import UsedAssertion

logger = logging.getLogger(__name__)


def first_use(
    session: Session,
    issuer: str,
    assertion_id: str,
    expires_at: datetime,
    now: datetime,
) -> bool:
    """Record the use of an assertion; False if it was used before."""
    session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at <= now))
    try:
        with session.begin_nested():
            session.add(
                UsedAssertion(
                    issuer=issuer, assertion_id=assertion_id, expires_at=expires_at
                )
            )
    except IntegrityError:
        logger.warning("assertion replayed issuer=%s", issuer)
        return False
    return True
