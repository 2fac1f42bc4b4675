"""The employee's sign-in session at the hub, shared by every SSO flow.

Upstream logins (SAML, OpenID Connect) end in :func:`sign_in`; the OpenID
Provider, the launch links and the consent page ask :func:`signed_in_user_id`.
The session lives in Flask's signed cookie; it holds the User id and how the
person signed in, never a token or an attribute value.
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


def sign_in(user_id: str, *, issuer: str, method: str) -> None:
    """Start a session for ``user_id``, authenticated by ``issuer`` over ``method``.

    ``method`` is ``saml`` or ``oidc``. The old session's content is dropped first,
    so that nothing of a previous person survives a sign-in.
    """
    session.clear()
    session[USER_KEY] = user_id
    session[ISSUER_KEY] = issuer
    session[METHOD_KEY] = method
    session[SIGNED_IN_AT_KEY] = int(time.time())
    logger.info("signed in method=%s issuer=%s", method, issuer)


def signed_in_user_id() -> str | None:
    """The User id of the signed-in employee, or None."""
    user_id = session.get(USER_KEY)
    return user_id if isinstance(user_id, str) else None


def signed_in_at() -> int | None:
    """When the current session signed in (Unix seconds), or None."""
    moment = session.get(SIGNED_IN_AT_KEY)
    return moment if isinstance(moment, int) else None


def sign_out() -> None:
    """End the session."""
    session.clear()
