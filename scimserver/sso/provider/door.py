"""Consent at the door: who may be signed in to a relying party at all.

Before a code is issued, again when it is redeemed, and on every userinfo call,
the employee must be an active User and, for a party whose purpose needs
consent (the EAP), hold a granted, unexpired consent for that purpose and
recipient. A withdrawal therefore stops new sign-ins at once and ends the
tokens the party holds.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from scimserver.consent.records import has_granted_consent
from scimserver.models import Resource
from scimserver.sso.provider.claims import is_active
from scimserver.sso.provider.models import RelyingParty
from scimserver.sso.provider.relying_parties import requires_consent

logger = logging.getLogger(__name__)

CONSENT_PAGE = "/account/consent"
LOGIN_PAGE = "/sso/login"

Refusal = Literal["inactive", "consent"]


def door_refusal(
    session: Session, party: RelyingParty, user_id: str, now: datetime
) -> Refusal | None:
    """Why ``user_id`` may not be signed in to ``party`` now, or None."""
    if not is_active(session.get(Resource, user_id)):
        return "inactive"
    if requires_consent(party) and not has_granted_consent(
        session,
        user_id,
        str(party.consent_purpose),
        str(party.consent_recipient),
        now,
    ):
        return "consent"
    return None


def consent_page_url(party: RelyingParty, next_path: str) -> str:
    """The consent page for the party's purpose, returning to ``next_path``."""
    query = urlencode(
        {
            "purpose": party.consent_purpose or "",
            "recipient": party.consent_recipient or "",
            "next": next_path,
        }
    )
    return f"{CONSENT_PAGE}?{query}"


def login_page_url(next_path: str) -> str:
    """The upstream sign-in, returning to ``next_path`` (a path on the hub)."""
    return f"{LOGIN_PAGE}?{urlencode({'next': next_path})}"
