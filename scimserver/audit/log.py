"""Appending to and verifying the hash-chained audit log.

Each entry carries an HMAC-SHA256 over its own fields and the hash of the entry
before it, keyed with the server's secret key: editing, removing or reordering
rows breaks the chain, and without the key the chain cannot be rebuilt. Entries
name attributes and resources, never attribute values or tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from scimserver.audit.models import AuditEntry, AuditHead

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
HEAD_ID = 1


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain."""

    checked: int
    problem: str | None = None
    seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def record(
    session: Session,
    secret: str,
    *,
    actor: str,
    action: str,
    resource_type: str | None = None,
    resource_id: str | None = None,
    attributes: Iterable[str] = (),
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry in the caller's transaction and return it."""
    head = _locked_head(session)
    entry = AuditEntry(
        seq=head.seq + 1,
        recorded=datetime.now(UTC),
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        attributes=sorted(set(attributes)),
        detail=detail or {},
        previous_hash=head.chain_hash,
    )
    entry.chain_hash = entry_hash(secret, entry)

    session.add(entry)
    head.seq, head.chain_hash = entry.seq, entry.chain_hash
    session.flush()
    logger.debug("audit entry seq=%d action=%s", entry.seq, action)
    return entry


def entry_hash(secret: str, entry: AuditEntry) -> str:
    """The keyed hash of an entry's fields and its predecessor's hash."""
    fields = as_dict(entry)
    del fields["chain_hash"]
    message = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify(session: Session, secret: str) -> Verification:
    """Walk the chain in order and name the first entry that does not fit."""
    expected_seq, previous_hash, checked = 1, GENESIS, 0

    for entry in _entries(session):
        if entry.seq != expected_seq:
            return Verification(
                checked, f"entry {expected_seq} is missing", expected_seq
            )
        if entry.previous_hash != previous_hash:
            return Verification(
                checked,
                f"entry {entry.seq} is out of order or its predecessor changed",
                entry.seq,
            )
        if entry_hash(secret, entry) != entry.chain_hash:
            return Verification(checked, f"entry {entry.seq} was altered", entry.seq)
        expected_seq, previous_hash, checked = (
            entry.seq + 1,
            entry.chain_hash,
            checked + 1,
        )

    head = session.get(AuditHead, HEAD_ID)
    if head is not None and (head.seq, head.chain_hash) != (checked, previous_hash):
        return Verification(
            checked, f"entries after {checked} were removed", checked + 1
        )
    return Verification(checked)


def export_lines(session: Session, out: TextIO) -> int:
    """Write every entry as one JSON line (for a SIEM); return the count."""
    count = 0
    for entry in _entries(session):
        out.write(json.dumps(as_dict(entry), sort_keys=True) + "\n")
        count += 1
    return count


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry as plain JSON-ready data."""
    return {
        "seq": entry.seq,
        "recorded": entry.recorded.astimezone(UTC).isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "attributes": entry.attributes,
        "detail": entry.detail,
        "previous_hash": entry.previous_hash,
        "chain_hash": entry.chain_hash,
    }


def _entries(session: Session, batch: int = 1000) -> Iterator[AuditEntry]:
    """Every entry in order, read in keyset batches to bound memory."""
    last = 0
    while True:
        query = (
            select(AuditEntry)
            .where(AuditEntry.seq > last)
            .order_by(AuditEntry.seq)
            .limit(batch)
        )
        entries = session.scalars(query).all()
        yield from entries
        if len(entries) < batch:
            return
        last = entries[-1].seq
        session.expunge_all()


def _locked_head(session: Session) -> AuditHead:
    """Lock the chain's head row until the caller's transaction ends.

    TODO: a Bulk request locks the head after its first write and may then wait for
    a resource row that a concurrent single write holds while it waits for the
    head; PostgreSQL breaks such a deadlock by failing one of them. Appending the
    entries of a transaction just before its commit would remove the cycle.
    """
    query = select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    head = session.scalar(query)
    if head is None:
        head = AuditHead(id=HEAD_ID, seq=0, chain_hash=GENESIS)
        session.add(head)
    return head
