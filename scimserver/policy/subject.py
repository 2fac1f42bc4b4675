"""The person behind a request, for the ``/Me`` alias (RFC 7644 §3.11)."""

from __future__ import annotations

import logging

from scimserver.scim.errors import NotImplementedFeature

logger = logging.getLogger(__name__)


def current_subject() -> str | None:
    """Return the id of the User that the request's authentication represents.

    Returns None when the authentication represents no person. Every bearer
    token belongs to a system client today (an HR system, a learning platform),
    so this is always None.

    TODO: let a client token be bound to a User (a user id stored beside the
    token digest) and return that id here when the request's token has one.
    """
    return None


def require_subject() -> str:
    """Return the User id behind the request, or raise 501 when there is none.

    RFC 7644 §3.11: a service provider that cannot resolve ``/Me`` answers 501.
    """
    user_id = current_subject()
    if user_id is None:
        logger.info("/Me requested by a client with no person behind it")
        raise NotImplementedFeature(
            "/Me needs a token that belongs to a person; this token belongs to a "
            "system client. Address the User at /Users/{id} instead."
        )
    return user_id
