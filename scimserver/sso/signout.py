"""The end of a hub session: audit it, or audit why a logout message was refused.

Logouts the employee starts, and those an upstream IdP asks for, are audited
as ``sso.logout``; a logout message the hub does not act on is audited as
``sso.logout_refused`` with a reason. Entries name the IdP, the method, who
started the logout and whether the session ended, never the NameID or the
IdP's session index.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import render_template
from werkzeug.wrappers import Response

from scimserver.audit.events import audit
from scimserver.db import get_database, get_session, rollback_session
from scimserver.sso.signin import ACTOR

logger = logging.getLogger(__name__)


def record_logout(detail: dict[str, Any], user_id: str | None) -> None:
    """Audit a logout of ``user_id`` (None when no session ended) and commit."""
    session = get_session()
    audit(
        "sso.logout",
        resource_type="User" if user_id is not None else None,
        resource_id=user_id,
        detail=detail,
        session=session,
        actor=ACTOR,
    )
    session.commit()
    logger.info(
        "logout idp=%s initiated_by=%s message=%s",
        detail.get("idp"),
        detail.get("initiated_by"),
        detail.get("message"),
    )


def refuse_logout(
    reason: str, message: str, detail: dict[str, Any], status: int = 403
) -> Response:
    """Audit a refused logout message in its own transaction and show why."""
    rollback_session()
    with get_database().sessions() as session:
        audit(
            "sso.logout_refused",
            detail={**detail, "reason": reason},
            session=session,
            actor=ACTOR,
        )
        session.commit()

    logger.warning("logout refused idp=%s reason=%s", detail.get("idp"), reason)
    page = render_template("sso/logout_refused.html", message=message, reason=reason)
    return Response(page, status=status, mimetype="text/html")


def signed_out_page() -> Response:
    """The page that says the hub session has ended."""
    return Response(render_template("sso/signed_out.html"), mimetype="text/html")
