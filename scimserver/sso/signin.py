"""The end of every upstream login: link, check, audit, start the session.

SAML and OpenID Connect hand over an :class:`UpstreamIdentity` they have
validated; this module finds the User, refuses one who may not sign in, audits
the outcome and either starts the hub session or shows the refusal page. Audit
entries name the IdP, the method and the reason, never assertion contents,
tokens or the asserted values.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import redirect, render_template
from werkzeug.wrappers import Response

from scimserver.audit.events import audit
from scimserver.consent.mirror import consent_resource_type
from scimserver.db import get_database, get_session, rollback_session
from scimserver.sso.config import LinkRule
from scimserver.sso.linking import LinkRefused, UpstreamIdentity, resolve_user
from scimserver.sso.session import sign_in

logger = logging.getLogger(__name__)

ACTOR = "sso"


def utc_now() -> datetime:
    """The moment a login is checked at (tests replace it to move the clock)."""
    return datetime.now(UTC)


def complete_login(
    identity: UpstreamIdentity,
    rule: LinkRule,
    *,
    idp_alias: str,
    method: str,
    next_path: str,
    upstream: dict[str, str | None] | None = None,
) -> Response:
    """Sign in the User of ``identity`` and send them to ``next_path``.

    ``upstream`` goes into the session for a later single logout.
    """
    session = get_session()
    try:
        linked = resolve_user(
            session, consent_resource_type(), identity, rule, utc_now()
        )
    except LinkRefused as refusal:
        return refuse(
            refusal.reason, refusal.message, idp_alias=idp_alias, method=method
        )

    audit(
        "sso.sign_in",
        resource_type="User",
        resource_id=linked.user_id,
        detail={
            "idp": idp_alias,
            "method": method,
            "issuer": identity.issuer,
            "matched_by": linked.matched_by,
            "first_login": linked.first_login,
        },
        session=session,
        actor=ACTOR,
    )
    session.commit()
    sign_in(linked.user_id, issuer=identity.issuer, method=method, upstream=upstream)
    return redirect(next_path, code=303)


def refuse(
    reason: str, message: str, *, idp_alias: str, method: str, status: int = 403
) -> Response:
    """Audit a refused login in its own transaction and show why, in plain words."""
    rollback_session()
    with get_database().sessions() as session:
        audit(
            "sso.refused",
            detail={"idp": idp_alias, "method": method, "reason": reason},
            session=session,
            actor=ACTOR,
        )
        session.commit()

    logger.warning(
        "login refused idp=%s method=%s reason=%s", idp_alias, method, reason
    )
    page = render_template("sso/refused.html", message=message, reason=reason)
    return Response(page, status=status, mimetype="text/html")
