"""The employee's sign-in session at the hub, shared by every SSO flow.

Upstream logins (SAML, OpenID Connect) end in :func:`sign_in`; the OpenID
Provider, the launch links and the consent page ask :func:`signed_in_user_id`.
The session lives in Flask's signed cookie; it holds the User id and how the
person signed in, never a token or an attribute value. After a SAML login it
also holds what single logout needs (:mod:`.saml_subject`): the NameID and the
IdP's SessionIndex. The cookie is signed, not encrypted, so the browser that
holds it can read them.
"""

from __future__ import annotations

import logging
import time

from flask import session

logger = logging.getLogger(__name__)

USER_KEY = "sso_user_id"
ISSUER_KEY = "sso_issuer"
METHOD_KEY = "sso_method"
SIGNED_IN_AT_KEY = "sso_signed_in_at"
UPSTREAM_KEY = "sso_upstream"


def sign_in(
    user_id: str,
    *,
    issuer: str,
    method: str,
    upstream: dict[str, str | None] | None = None,
) -> None:
    """Start a session for ``user_id``, authenticated by ``issuer`` over ``method``.

    ``method`` is ``saml`` or ``oidc``; ``upstream`` is what the protocol needs
    to end the upstream session later. The old session's content is dropped
    first, so that nothing of a previous person survives a sign-in.
    """
    session.clear()
    session[USER_KEY] = user_id
    session[ISSUER_KEY] = issuer
    session[METHOD_KEY] = method
    session[SIGNED_IN_AT_KEY] = int(time.time())
    if upstream is not None:
        session[UPSTREAM_KEY] = upstream
    logger.info("signed in method=%s issuer=%s", method, issuer)


def signed_in_user_id() -> str | None:
    """The User id of the signed-in employee, or None."""
    user_id = session.get(USER_KEY)
    return user_id if isinstance(user_id, str) else None


def signed_in_method() -> str | None:
    """How the current session signed in (``saml`` or ``oidc``), or None."""
    method = session.get(METHOD_KEY)
    return method if isinstance(method, str) else None


def signed_in_at() -> int | None:
    """When the current session signed in (Unix seconds), or None."""
    moment = session.get(SIGNED_IN_AT_KEY)
    return moment if isinstance(moment, int) else None


def upstream_record() -> object:
    """What :func:`sign_in` kept for the upstream session, or None."""
    return session.get(UPSTREAM_KEY)


def sign_out() -> None:
    """End the session."""
    session.clear()
