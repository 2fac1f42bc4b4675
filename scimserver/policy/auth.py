"""Bearer-token authentication and scope checks for the SCIM API (RFC 6750)."""

from __future__ import annotations

import logging

from flask import Flask, g, has_request_context, request

from scimserver.audit.events import audit
from scimserver.db import get_database, get_session
from scimserver.logs import safe_path
from scimserver.models import Client
from scimserver.policy import token_cache
from scimserver.policy.jwt_bearer import authenticate_jwt
from scimserver.policy.token_cache import authenticate_cached_token
from scimserver.scim.errors import Forbidden, Unauthorized

logger = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Set up the token cache; authentication itself runs per blueprint."""
    token_cache.init_app(app)


def authenticate_request() -> Client:
    """Return the client named by the request's bearer token, or raise 401."""
    header = request.headers.get("Authorization", "")
    scheme, _space, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send a bearer token in the Authorization header.")

    session, token = get_session(), token.strip()
    client = authenticate_cached_token(session, token)
    client = client or authenticate_jwt(session, token)
    if client is None:
        logger.warning("authentication failed path=%s", safe_path(request.path))
        _audit_failure()
        raise Unauthorized("The bearer token is not valid.")

    g.client = client
    return client


def _audit_failure() -> None:
    """Record a refused token in its own transaction; the request's rolls back."""
    with get_database().sessions() as session:
        audit(
            "auth.failure",
            detail={"path": safe_path(request.path), "method": request.method},
            session=session,
            actor="unauthenticated",
        )
        session.commit()


def current_client() -> Client | None:
    """The client authenticated for the current request; None outside one."""
    if not has_request_context():
        return None
    client: Client | None = g.get("client")
    return client


def require_scope(scope: str) -> None:
    """Raise 403 unless the authenticated client holds ``scope``."""
    client: Client = g.client
    if scope not in client.scopes:
        raise Forbidden(f"This operation needs the '{scope}' scope.")
