"""Storing a client's release policy: every version kept, the newest in force.

A policy is data. :func:`set_policy` validates a document, stores it as the next
version of the client's policy, copies it onto the client row (so a request
reads it with the client, without a join) and audits the change under its
digest. Going back to an earlier policy is setting it again; the history keeps
both. :func:`policy_document` turns the stored copy back into a
:class:`~scimserver.policy.policy_document.PolicyDocument`, parsing each digest
once per process.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scimserver.audit.events import audit
from scimserver.models import Client
from scimserver.policy.dictionary import DataDictionary
from scimserver.policy.models import ClientPolicy
from scimserver.policy.policy_document import (
    PolicyDocument,
    dump_policy,
    parse_policy,
    policy_digest,
)
from scimserver.scim.schema import SchemaRegistry

logger = logging.getLogger(__name__)

_parsed: weakref.WeakKeyDictionary[SchemaRegistry, dict[str, PolicyDocument]] = (
    weakref.WeakKeyDictionary()
)


def set_policy(
    session: Session,
    client: Client,
    source: str | bytes | Mapping[str, Any],
    registry: SchemaRegistry,
    dictionary: DataDictionary,
    *,
    actor: str,
) -> ClientPolicy:
    """Validate ``source`` and make it the client's policy; return the new version.

    Raises :class:`~scimserver.policy.policy_document.PolicyError` naming every
    problem, and then stores nothing.
    """
    document = parse_policy(source, registry, dictionary)
    canonical, digest = dump_policy(document), policy_digest(document)

    latest = session.scalar(
        select(func.max(ClientPolicy.version)).where(
            ClientPolicy.client_id == client.id
        )
    )
    version = ClientPolicy(
        client_id=client.id,
        version=(latest or 0) + 1,
        digest=digest,
        document=canonical,
        created=datetime.now(UTC),
        created_by=actor,
    )
    session.add(version)
    client.policy, client.policy_digest = canonical, digest
    session.flush()

    audit(
        "client.policy",
        resource_type="Client",
        resource_id=str(client.id),
        detail={"name": client.name, "version": version.version, "digest": digest},
        session=session,
        actor=actor,
    )
    logger.info(
        "policy set client=%s version=%d digest=%s",
        client.name,
        version.version,
        digest,
    )
    return version


def policy_history(session: Session, client: Client) -> list[ClientPolicy]:
    """Every stored version of the client's policy, oldest first."""
    query = (
        select(ClientPolicy)
        .where(ClientPolicy.client_id == client.id)
        .order_by(ClientPolicy.version)
    )
    return list(session.scalars(query))


def policy_document(
    client: Client, registry: SchemaRegistry, dictionary: DataDictionary
) -> PolicyDocument | None:
    """The client's policy in force, or None when it has none (the default applies).

    Parsed documents are kept per registry and digest: the stored copy was valid
    when it was set, and a digest names exactly one document.
    """
    if client.policy is None or client.policy_digest is None:
        return None
    known = _parsed.setdefault(registry, {})
    document = known.get(client.policy_digest)
    if document is None:
        document = parse_policy(client.policy, registry, dictionary)
        known[client.policy_digest] = document
    return document
