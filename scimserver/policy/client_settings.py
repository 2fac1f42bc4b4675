"""Per-client settings: compatibility profile, deprovisioning and JWT bearer trust.

Each client is one provisioning system, so what the server tolerates and what a
DELETE means is chosen per client, never globally.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from scimserver.models import Client

logger = logging.getLogger(__name__)


class Profile(StrEnum):
    """How requests of a client are read (:mod:`scimserver.scim.dialects`)."""

    STANDARD = "standard"
    ENTRA = "entra"
    OKTA = "okta"


class Deprovisioning(StrEnum):
    """What DELETE does to a User (RFC 7644 §3.6 describes ``hard``)."""

    HARD = "hard"
    SOFT = "soft"


#: Key types whose public half can verify a signature; ``oct`` keys are secrets.
PUBLIC_KEY_TYPES = ("RSA", "EC", "OKP")


class InvalidKeySet(ValueError):
    """A JWKS document that cannot serve to verify JWT bearer tokens."""


def configure_client(
    client: Client,
    *,
    profile: Profile | None = None,
    deprovision: Deprovisioning | None = None,
) -> None:
    """Change the profile and/or the deprovisioning mode of ``client``."""
    if profile is None and deprovision is None:
        return
    if profile is not None:
        client.profile = Profile(profile).value
    if deprovision is not None:
        client.deprovision = Deprovisioning(deprovision).value
    logger.info(
        "client configured name=%s profile=%s deprovision=%s",
        client.name,
        client.profile,
        client.deprovision,
    )


def trust_jwt_issuer(
    client: Client, issuer: str, audience: str, jwks_text: str
) -> None:
    """Accept JWT bearer tokens from ``issuer`` for ``audience`` signed by the JWKS.

    Only the public half of each key is stored; nothing is ever fetched.
    """
    if not issuer.strip() or not audience.strip():
        raise InvalidKeySet("Give both an issuer and an audience.")
    client.jwt_keys = public_key_set(jwks_text)
    client.jwt_issuer = issuer.strip()
    client.jwt_audience = audience.strip()
    logger.info("client trusts JWT issuer name=%s", client.name)


def public_key_set(jwks_text: str) -> dict[str, Any]:
    """Parse a JWKS document (RFC 7517 §5) and return its public keys as JSON."""
    try:
        document = json.loads(jwks_text)
        key_set = KeySet.import_key_set(document)
    except (ValueError, TypeError, KeyError, JoseError) as error:
        raise InvalidKeySet(f"not a JSON Web Key Set: {error}") from None

    if not key_set.keys:
        raise InvalidKeySet("the key set holds no keys")
    kinds = sorted({key.key_type for key in key_set.keys} - set(PUBLIC_KEY_TYPES))
    if kinds:
        raise InvalidKeySet(f"only public-key types can verify: not {', '.join(kinds)}")
    return dict(key_set.as_dict(private=False))


def profile_of(client: Client) -> Profile:
    """The profile of ``client``; an unknown stored value counts as standard."""
    try:
        return Profile(client.profile)
    except ValueError:
        return Profile.STANDARD


def deprovisioning_of(client: Client) -> Deprovisioning:
    """The deprovisioning mode of ``client``; an unknown value counts as hard."""
    try:
        return Deprovisioning(client.deprovision)
    except ValueError:
        return Deprovisioning.HARD


def distrust_jwt(client: Client) -> None:
    """Stop accepting JWT bearer tokens for ``client``; static tokens still work."""
    client.jwt_issuer = client.jwt_audience = client.jwt_keys = None
    logger.info("client no longer trusts a JWT issuer name=%s", client.name)
