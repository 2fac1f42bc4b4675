"""JWT bearer tokens issued by an identity provider (RFC 7519, RFC 6750).

Microsoft Entra ID can authenticate to a SCIM endpoint with tokens it signs
itself instead of a static secret. A client trusts one issuer and one audience
and holds the issuer's public keys as a JWKS, set from a file by the command
line; keys are never fetched over the network, so a rotated key needs a new
``scimserver clients update --jwt-keys``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import cast

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from scimserver.models import Client

logger = logging.getLogger(__name__)

#: Signature algorithms with a public verification key; never ``none`` or HMAC.
ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
#: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
LEEWAY_SECONDS = 60


def looks_like_jwt(token: str) -> bool:
    """A JWS in compact form has three dot-separated parts (RFC 7515 §7.1)."""
    return token.count(".") == 2 and all(token.split("."))


def authenticate_jwt(
    session: Session, token: str, now: datetime | None = None
) -> Client | None:
    """Return the client that trusts the issuer, audience and key of ``token``.

    The signature, ``iss``, ``aud`` and an ``exp`` in the future are required;
    ``nbf`` and ``iat`` are checked when present.
    """
    if not looks_like_jwt(token):
        return None

    moment = int((now or datetime.now(UTC)).timestamp())
    for client in _trusting_clients(session):
        if _verifies(client, token, moment):
            logger.debug("JWT bearer accepted client=%s", client.name)
            return client
    return None


def _trusting_clients(session: Session) -> Iterable[Client]:
    query = select(Client).where(
        Client.jwt_issuer.is_not(None), Client.jwt_keys.is_not(None)
    )
    return session.scalars(query.order_by(Client.id))


def _verifies(client: Client, token: str, now: int) -> bool:
    claims = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": client.jwt_issuer or ""},
        aud={"essential": True, "value": client.jwt_audience or ""},
        exp={"essential": True},
    )
    try:
        stored = cast(KeySetSerialization, client.jwt_keys or {"keys": []})
        key_set = KeySet.import_key_set(stored)
        decoded = jwt.decode(token, key_set, algorithms=list(ALGORITHMS))
        claims.validate(decoded.claims)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        logger.debug(
            "JWT bearer refused client=%s reason=%s", client.name, type(error).__name__
        )
        return False
    return True
