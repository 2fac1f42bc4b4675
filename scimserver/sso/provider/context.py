"""The OpenID Provider of one application: settings, keys, claims, the clock."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from scimserver.audit.events import audit
from scimserver.config import Settings
from scimserver.db import get_session
from scimserver.models import Resource
from scimserver.sso.provider.claims import ClaimSource, pairwise_subject, user_claims
from scimserver.sso.provider.signing_keys import SigningKeys
from scimserver.sso.provider.token_store import EndUser

logger = logging.getLogger(__name__)

EXTENSION_KEY = "scimserver.oidc_provider"


@dataclass(frozen=True)
class Provider:
    """What the provider's endpoints share within one application."""

    settings: Settings
    keys: SigningKeys
    claim_source: ClaimSource
    #: authlib's authorization server (``flask_oauth2.AuthorizationServer``).
    server: Any

    @property
    def issuer(self) -> str:
        """The Issuer Identifier: the hub's base URL (OpenID Connect Discovery §3)."""
        return self.settings.base_url.rstrip("/")

    def claims_for(self, user: EndUser, scope: str, action: str) -> dict[str, Any]:
        """The claims released about ``user`` to their party; audited by name.

        A User removed since sign-in yields ``sub`` alone.
        """
        session, party = get_session(), user.party
        resource = session.get(Resource, user.user_id)
        if resource is None:
            sub = pairwise_subject(self.settings.secret_key, party.sector, user.user_id)
            return {"sub": sub}

        claims = user_claims(
            session, party, resource, scope, self.claim_source, utc_now()
        )
        audit(
            action,
            resource_type="User",
            resource_id=user.user_id,
            attributes=sorted(set(claims) - {"sub"}),
            detail={"client_id": party.client_id},
            session=session,
            actor=f"oidc:{party.client_id}",
        )
        return claims


def current_provider() -> Provider:
    """The provider of the current application."""
    provider: Provider = current_app.extensions[EXTENSION_KEY]
    return provider


def utc_now() -> datetime:
    """The moment a request acts at (tests replace it to move the clock)."""
    return datetime.now(UTC)
