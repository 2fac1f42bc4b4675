"""Which SCIM User an upstream login is: the identity link.

A login is known by its issuer and subject (the SAML NameID, the OpenID
Connect ``sub``). The first login of a subject is matched once, by the IdP's
:class:`~scimserver.sso.config.LinkRule`, to exactly one User by ``userName``,
``externalId`` or a work email; the match is stored as an
:class:`~scimserver.sso.models.IdentityLink`, and later logins follow the link,
so that a changed email or userName cannot move a person to another account.

An email matches only when the IdP vouches for it (``email_verified`` in OpenID
Connect Core §5.1, or ``email_verified_by_idp`` for a SAML IdP). Creating a User
for an unmatched login (just in time) is off unless the IdP's rule allows it:
the HRIS is the source of truth.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from scimserver.models import Resource, ResourceValue
from scimserver.scim.effective_dates import EffectiveDates
from scimserver.scim.schema import ResourceType
from scimserver.scim.store import ResourceStore
from scimserver.sso.config import LinkRule
from scimserver.sso.models import IdentityLink

logger = logging.getLogger(__name__)

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
JIT = "jit"


class LinkRefused(Exception):
    """The login matches no User that may sign in; ``reason`` says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class UpstreamIdentity:
    """Who the IdP says signed in: the subject and the values it asserted."""

    issuer: str
    subject: str
    #: The value the link rule reads (NameID, an attribute or a claim), if sent.
    match_value: str | None
    email_verified: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LinkedUser:
    """The User a login resolved to, and how."""

    user_id: str
    matched_by: str
    first_login: bool


def resolve_user(
    session: Session,
    users: ResourceType,
    identity: UpstreamIdentity,
    rule: LinkRule,
    now: datetime,
) -> LinkedUser:
    """Return the User of ``identity``; raise :class:`LinkRefused` if none may."""
    link = session.get(IdentityLink, (identity.issuer, identity.subject))
    if link is not None:
        check_may_sign_in(session.get(Resource, link.user_id), now)
        link.last_login = now
        return LinkedUser(link.user_id, link.matched_by, first_login=False)

    user, matched_by = _first_match(session, users, identity, rule)
    check_may_sign_in(user, now)
    link = IdentityLink(
        issuer=identity.issuer,
        subject=identity.subject,
        user_id=user.id,
        matched_by=matched_by,
        created=now,
        last_login=now,
    )
    try:
        with session.begin_nested():
            session.add(link)
    except IntegrityError:
        # A login of the same subject on another instance linked it a moment
        # earlier; the rule is deterministic, so it chose the same User.
        logger.info("identity linked concurrently issuer=%s", identity.issuer)
        return LinkedUser(user.id, matched_by, first_login=False)
    logger.info("identity linked issuer=%s by=%s", identity.issuer, matched_by)
    return LinkedUser(user.id, matched_by, first_login=True)


def check_may_sign_in(user: Resource | None, now: datetime) -> None:
    """Refuse a deleted, deprovisioned, inactive or not (or no longer) employed User."""
    if user is None or user.deprovisioned is not None:
        raise LinkRefused("deprovisioned", "This account has been removed.")
    if user.attributes.get("active") is False:
        raise LinkRefused("inactive", "This account is not active.")
    if EffectiveDates.of(user.attributes).holds_inactive(now):
        raise LinkRefused("inactive", "This account is not active.")


def _first_match(
    session: Session,
    users: ResourceType,
    identity: UpstreamIdentity,
    rule: LinkRule,
) -> tuple[Resource, str]:
    value = identity.match_value
    if not value:
        raise LinkRefused(
            "no_match_value", f"The identity provider did not send {rule.source}."
        )
    if rule.target == "email" and not (rule.email_trusted or identity.email_verified):
        raise LinkRefused("email_unverified", "The email address is not verified.")

    found = session.scalars(_match_query(users.name, rule.target, value).limit(2))
    matches = list(found)
    if len(matches) > 1:
        raise LinkRefused("ambiguous", "More than one account matches this login.")
    if matches:
        return matches[0], rule.target
    if rule.jit_create and rule.target == "userName":
        return _create_user(session, users, value), JIT
    raise LinkRefused("no_account", "No account matches this login.")


def _match_query(resource_type: str, target: str, value: str) -> Select[Resource]:
    """The Users whose ``target`` attribute equals ``value`` (in SQL)."""
    query = select(Resource).where(
        Resource.resource_type == resource_type, Resource.deprovisioned.is_(None)
    )
    if target == "userName":
        # RFC 7643 §4.1.1: userName compares case-insensitively.
        return query.where(func.lower(Resource.user_name) == value.lower())
    if target == "externalId":
        return query.where(Resource.external_id == value)

    address, kind = aliased(ResourceValue), aliased(ResourceValue)
    work_email = (
        select(address.resource_id)
        .join(
            kind,
            (kind.resource_id == address.resource_id) & (kind.item == address.item),
        )
        .where(
            address.attribute == "emails",
            address.sub_attribute == "value",
            address.text_value == value.lower(),
            kind.attribute == "emails",
            kind.sub_attribute == "type",
            kind.text_value == "work",
        )
    )
    return query.where(Resource.id.in_(work_email))


def _create_user(session: Session, users: ResourceType, user_name: str) -> Resource:
    """Create a minimal active User for a login no account matched (JIT)."""
    document = {"schemas": [CORE_USER], "userName": user_name, "active": True}
    user = ResourceStore(session, users).create(document, None)
    logger.info("user created just in time id=%s", user.id)
    return user
