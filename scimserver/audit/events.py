"""Audit entries for what happens during a request, the CLI or a background job.

Writers call :func:`audit` in the same transaction as the change it records, so
an entry exists exactly when the change was committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flask import current_app, g, has_request_context
from sqlalchemy.orm import Session

from scimserver.audit.log import record
from scimserver.db import get_session

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"


def audit(
    action: str,
    *,
    resource_type: str | None = None,
    resource_id: str | None = None,
    attributes: Iterable[str] = (),
    detail: dict[str, Any] | None = None,
    session: Session | None = None,
    actor: str | None = None,
) -> None:
    """Append an audit entry naming attributes, never their values."""
    record(
        session or get_session(),
        current_app.config["SETTINGS"].secret_key,
        actor=actor or current_actor(),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        attributes=attributes,
        detail=detail,
    )


def audit_client_change(session: Session, action: str, client: Any) -> None:
    """Record a change to a client made from the command line (never its token)."""
    session.flush()
    audit(
        action,
        resource_type="Client",
        resource_id=str(client.id),
        detail={"name": client.name, "scopes": list(client.scopes)},
        session=session,
        actor="cli",
    )


def current_actor() -> str:
    """The authenticated client's name, or ``system`` outside a client request.

    A page used by a person (not a client) names them in ``g.audit_actor``.
    """
    if has_request_context():
        person = g.get("audit_actor")
        if person is not None:
            return str(person)
        client = g.get("client")
        if client is not None:
            return str(client.name)
    return SYSTEM_ACTOR
