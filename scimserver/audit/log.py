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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO, cast

from sqlalchemy import Table, bindparam, event, insert, inspect, select, update
from sqlalchemy.orm import Session, SessionTransaction

from scimserver.audit import pending
from scimserver.audit.models import AuditEntry, AuditHead

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
HEAD_ID = 1
HEAD_ROW = cast(Table, AuditHead.__table__)
#: Built once: move the head ``count`` entries on; return its new number and the
#: hash it had. Being a write, it locks the row (PostgreSQL) or the database
#: (SQLite) until the transaction ends: a read, even ``FOR UPDATE``, would let two
#: SQLite transactions take the same number.
ADVANCE_HEAD = (
    update(HEAD_ROW)
    .where(HEAD_ROW.c.id == HEAD_ID)
    .values(seq=HEAD_ROW.c.seq + bindparam("count"))
    .returning(HEAD_ROW.c.seq, HEAD_ROW.c.chain_hash)
)
SET_HEAD_HASH = (
    update(HEAD_ROW)
    .where(HEAD_ROW.c.id == HEAD_ID)
    .values(chain_hash=bindparam("chain_hash"))
)
ENTRY_FIELDS = tuple(column.key for column in inspect(AuditEntry).column_attrs)


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
) -> None:
    """Add an entry to the caller's transaction; it joins the chain at commit.

    Entries wait in the session until its transaction commits, and are then
    appended in one go under the chain's head lock (see :mod:`.pending`), so
    the lock is held for the commit only. An entry written in a savepoint that
    rolls back goes with it.
    """
    entry = AuditEntry(
        recorded=datetime.now(UTC),
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        attributes=sorted(set(attributes)),
        detail=detail or {},
    )
    pending.hold(session, entry, secret)
    logger.debug("audit entry held action=%s", action)


def append(session: Session, held: Sequence[pending.Held]) -> None:
    """Chain the ``held`` entries after the newest one, under the head's row lock."""
    seq, chain_hash = _advance_head(session, len(held))
    seq -= len(held)
    rows = []
    for item in held:
        entry = item.entry
        seq += 1
        entry.seq, entry.previous_hash = seq, chain_hash
        entry.chain_hash = chain_hash = entry_hash(item.secret, entry)
        rows.append({field: getattr(entry, field) for field in ENTRY_FIELDS})

    # Core-style statements: one multi-row INSERT and one UPDATE, no unit of work.
    session.execute(insert(AuditEntry), rows)
    session.execute(SET_HEAD_HASH, {"chain_hash": chain_hash})
    logger.debug("audit entries appended count=%d seq=%d", len(held), seq)


@event.listens_for(Session, "before_commit")
def _append_held(session: Session) -> None:
    """Append the transaction's entries as the last writes before it commits."""
    if session.in_nested_transaction():
        return
    held = pending.take(session)
    if held:
        append(session, held)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending.drop_rolled_back(session, previous)


@event.listens_for(Session, "after_transaction_end")
def _forget_held(session: Session, transaction: SessionTransaction) -> None:
    """An ended outermost transaction leaves nothing held (commit or rollback)."""
    if transaction.parent is None:
        pending.take(session)


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


def _advance_head(session: Session, count: int) -> tuple[int, str]:
    """Reserve ``count`` numbers; return the last one and the head's old hash.

    The head stays locked until the caller's transaction ends. Appending happens
    just before the commit, after every other write of the transaction, so the
    lock is held briefly and no transaction waits for a resource row holding it.
    """
    head = session.execute(ADVANCE_HEAD, {"count": count}).one_or_none()
    if head is None:
        session.execute(insert(AuditHead).values(id=HEAD_ID, seq=0, chain_hash=GENESIS))
        head = session.execute(ADVANCE_HEAD, {"count": count}).one()
    return int(head.seq), str(head.chain_hash)
