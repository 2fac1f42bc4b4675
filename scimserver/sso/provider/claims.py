"""Claims about an employee: a pairwise ``sub``, the rest through the release policy.

The relying party's claims come from the same place as a SCIM read: the User's
SCIM representation, projected by the release policy of the SCIM client the
party is registered with (or its inline policy) under the employee's granted
consents (:meth:`~scimserver.policy.release.ReleasePolicy.project`). Only what
survives the projection is mapped to the standard claims of OpenID Connect
Core 1.0 §5.1, and only for the scopes granted (§5.4). A claim whose source
attribute is withheld is left out, never sent empty.

``sub`` is the pairwise pseudonym of the employee in the party's sector (§8.1),
the same function that names Users to pseudonymous SCIM clients, so a SCIM
client and a relying party of one sector agree on who is who, and two sectors
cannot correlate employees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749 import scope_to_list
from sqlalchemy.orm import Session

from scimserver.consent.records import granted_consents
from scimserver.models import Client, Resource
from scimserver.policy.client_view import release_policy_for
from scimserver.policy.dictionary import DataDictionary
from scimserver.policy.policy_document import PolicyDocument, parse_policy
from scimserver.policy.pseudonyms import derive_key, pseudonym
from scimserver.policy.release import ReleasePolicy
from scimserver.scim.effective_dates import ACTIVE
from scimserver.scim.representation import represent
from scimserver.scim.schema import ResourceType, SchemaRegistry
from scimserver.sso.provider.models import RelyingParty

logger = logging.getLogger(__name__)

USER = "User"

Mapper = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class ClaimSource:
    """What claims are computed from: the schemas, the dictionary, the secret."""

    registry: SchemaRegistry
    dictionary: DataDictionary
    secret_key: str
    base_url: str

    @property
    def users(self) -> ResourceType:
        """The User resource type."""
        found = self.registry.resource_type(USER)
        if found is None:
            raise RuntimeError("the schemas define no User resource type")
        return found


def pairwise_subject(secret_key: str, sector: str, user_id: str) -> str:
    """The ``sub`` of ``user_id`` for relying parties of ``sector`` (§8.1)."""
    return pseudonym(derive_key(secret_key), sector, user_id)


def is_active(resource: Resource | None) -> bool:
    """Whether ``resource`` is a provisioned User that is not deactivated."""
    return (
        resource is not None
        and resource.resource_type == USER
        and resource.deprovisioned is None
        and resource.attributes.get(ACTIVE) is not False
    )


def release_policy(
    session: Session, party: RelyingParty, source: ClaimSource
) -> ReleasePolicy:
    """The policy of the party's SCIM client, its inline policy, or the default.

    A party registered with a SCIM client is released exactly what that client
    reads through SCIM: the same policy in force, built once per policy digest.
    """
    if party.scim_client_id is not None:
        client = session.get(Client, party.scim_client_id)
        if client is not None:
            return release_policy_for(client)

    document = _stored_policy(party.policy, source)
    key = derive_key(source.secret_key)
    return ReleasePolicy.for_client(
        document, party.client_id, source.dictionary, pseudonym_key=key
    )


def user_claims(
    session: Session,
    party: RelyingParty,
    user: Resource,
    scope: str,
    source: ClaimSource,
    now: datetime,
) -> dict[str, Any]:
    """The claims ``party`` may receive about ``user`` for ``scope``."""
    users = source.users
    body = represent(users, user, source.base_url)
    consents = granted_consents(session, [user.id], now=now)[user.id]
    released = release_policy(session, party, source).project(users, body, consents)

    claims: dict[str, Any] = {
        "sub": pairwise_subject(source.secret_key, party.sector, user.id)
    }
    for granted in scope_to_list(scope) or []:
        for claim, mapper in SCOPE_CLAIMS.get(granted, {}).items():
            value = mapper(released)
            if value is not None:
                claims[claim] = value
    return claims


def _stored_policy(
    document: dict[str, Any] | None, source: ClaimSource
) -> PolicyDocument | None:
    if document is None:
        return None
    return parse_policy(document, source.registry, source.dictionary)


def _sub(name: str, sub: str) -> Mapper:
    def read(body: dict[str, Any]) -> Any:
        value = body.get(name)
        return value.get(sub) if isinstance(value, dict) else None

    return read


def _top(name: str) -> Mapper:
    return lambda body: body.get(name)


def _chosen(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The primary value of a multi-valued attribute, else its first."""
    values = [v for v in body.get(name) or [] if isinstance(v, dict) and "value" in v]
    primary = [v for v in values if v.get("primary") is True]
    chosen = primary or values
    return chosen[0] if chosen else None


def _full_name(body: dict[str, Any]) -> Any:
    return body.get("displayName") or _sub("name", "formatted")(body)


def _email(body: dict[str, Any]) -> Any:
    chosen = _chosen(body, "emails")
    return chosen["value"] if chosen else None


def _email_verified(body: dict[str, Any]) -> bool | None:
    """True for a work address: the employer's HR system issued it."""
    chosen = _chosen(body, "emails")
    return None if chosen is None else chosen.get("type") == "work"


def _phone(body: dict[str, Any]) -> Any:
    chosen = _chosen(body, "phoneNumbers")
    return chosen["value"] if chosen else None


def _phone_verified(body: dict[str, Any]) -> bool | None:
    return None if _phone(body) is None else False


def _picture(body: dict[str, Any]) -> Any:
    chosen = _chosen(body, "photos")
    return chosen["value"] if chosen else None


def _updated_at(body: dict[str, Any]) -> int | None:
    """``meta.lastModified`` as Unix seconds (§5.1), when released."""
    text = _sub("meta", "lastModified")(body)
    if not isinstance(text, str):
        return None
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


#: Standard claims per scope (OpenID Connect Core 1.0 §5.4) and their source.
SCOPE_CLAIMS: dict[str, dict[str, Mapper]] = {
    "profile": {
        "name": _full_name,
        "given_name": _sub("name", "givenName"),
        "family_name": _sub("name", "familyName"),
        "middle_name": _sub("name", "middleName"),
        "nickname": _top("nickName"),
        "preferred_username": _top("userName"),
        "profile": _top("profileUrl"),
        "picture": _picture,
        "locale": _top("locale"),
        "zoneinfo": _top("timezone"),
        "updated_at": _updated_at,
    },
    "email": {"email": _email, "email_verified": _email_verified},
    "phone": {"phone_number": _phone, "phone_number_verified": _phone_verified},
}
