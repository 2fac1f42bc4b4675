"""Validation of an upstream ID token (OpenID Connect Core §3.1.3.7).

The signature must verify with a key of the provider's JWK Set and an
asymmetric algorithm the provider announces (never ``none`` or an HMAC keyed
with the client secret); ``iss`` must be the issuer, ``aud`` must name this
client (and ``azp`` too when there are several audiences), ``exp`` must lie in
the future and ``nonce`` must be the one sent in the request.
"""

from __future__ import annotations

import logging
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from scimserver.sso.oidc_discovery import signing_keys

logger = logging.getLogger(__name__)

#: Algorithms accepted for ID tokens: asymmetric ones only.
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"})
#: Clock skew tolerated between the provider and the hub, in seconds.
LEEWAY_SECONDS = 60


class IdTokenError(Exception):
    """The ID token is not valid; ``reason`` names the check that failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def validate_id_token(
    id_token: str, metadata: dict[str, Any], client_id: str, nonce: str
) -> dict[str, Any]:
    """Return the claims of ``id_token`` once every check of Core §3.1.3.7 passed."""
    announced = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = sorted(ALGORITHMS.intersection(announced))
    if not algorithms:
        raise IdTokenError("no_acceptable_algorithm")

    token = _decode(id_token, str(metadata["jwks_uri"]), algorithms)
    registry = JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": metadata["issuer"]},
        sub={"essential": True},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(token.claims)
    except JoseError as error:
        raise IdTokenError(f"claim:{error.error}") from None
    _check_authorized_party(token.claims, client_id)
    return dict(token.claims)


def _decode(id_token: str, jwks_uri: str, algorithms: list[str]) -> jwt.Token:
    """Verify the signature; fetch the keys again once if none verifies."""
    for refresh in (False, True):
        keys: KeySet = signing_keys(jwks_uri, refresh=refresh)
        try:
            return jwt.decode(id_token, keys, algorithms=algorithms)
        except (JoseError, ValueError) as error:
            logger.info("id token signature not verified refresh=%s", refresh)
            failure = error
    raise IdTokenError(f"signature:{type(failure).__name__}")


def _check_authorized_party(claims: dict[str, Any], client_id: str) -> None:
    """Core §3.1.3.7 (4, 5): with several audiences, ``azp`` must be this client."""
    audience = claims.get("aud")
    several = isinstance(audience, list) and len(audience) > 1
    if (several or "azp" in claims) and claims.get("azp") != client_id:
        raise IdTokenError("azp")
