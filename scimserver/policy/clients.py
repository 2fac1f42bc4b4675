"""API clients and their bearer tokens; only token digests are stored."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scimserver.models import Client, ClientToken

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "scs_"
KNOWN_SCOPES = (
    "scim:read",
    "scim:write",
    "consent:read",
    "consent:write",
    "events:write",
    "metrics:read",
    "reports:read",
)


class ClientExists(ValueError):
    """A client with that name is already registered."""


class UnknownScope(ValueError):
    """A scope that the server does not define."""


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which ``token`` is stored.

    Tokens carry 256 random bits, so a fast digest is enough; no salt is needed.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_client(session: Session, name: str, scopes: list[str]) -> tuple[Client, str]:
    """Register a client and issue its first token; return both (token in clear)."""
    unknown = sorted(set(scopes) - set(KNOWN_SCOPES))
    if unknown:
        raise UnknownScope(f"unknown scopes: {', '.join(unknown)}")
    if session.scalar(select(Client.id).where(Client.name == name)) is not None:
        raise ClientExists(f"a client named {name!r} exists already")

    client = Client(name=name, scopes=sorted(set(scopes)), created=datetime.now(UTC))
    session.add(client)
    session.flush()
    token = issue_token(session, client)
    logger.info("client created name=%s scopes=%s", name, ",".join(client.scopes))
    return client, token


def find_client(session: Session, name: str) -> Client | None:
    """Return the client called ``name``, or None."""
    return session.scalar(select(Client).where(Client.name == name))


def issue_token(session: Session, client: Client) -> str:
    """Issue a new bearer token for ``client`` and return it in clear."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ClientToken(
            client_id=client.id, token_hash=hash_token(token), created=datetime.now(UTC)
        )
    )
    return token


def authenticate_token(session: Session, token: str) -> Client | None:
    """Return the client owning the unrevoked ``token``, or None."""
    query = (
        select(Client)
        .join(ClientToken, ClientToken.client_id == Client.id)
        .where(
            ClientToken.token_hash == hash_token(token), ClientToken.revoked.is_(None)
        )
    )
    return session.scalar(query)
