"""The baseline: a bare Flask + SQLAlchemy app doing one primary-key SELECT.

Served by the same gunicorn configuration as scimserver, on the same database
and with scimserver's engine settings (pool size, SQLite pragmas), it measures
what the stack costs before any SCIM work: the benchmark reports each
workload's throughput as a ratio to this one.

``PATCH /items/<id>`` is a reference point for writes, not a target: the least
that an audited, indexed write does by design (read the row, update it under
its version, replace its value row, chain an audit entry under the head's lock,
commit), in bare Core statements with none of SCIM's work around them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from sqlalchemy import Integer, String, bindparam, delete, insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from scimserver.db import make_engine

ROWS_TABLE = "bench_baseline_items"
AUDIT_KEY = b"bench-baseline"


class Base(DeclarativeBase):
    """Declarative base of the baseline's one table."""


class Item(Base):
    """One row of the baseline table."""

    __tablename__ = ROWS_TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)


class ItemValue(Base):
    """An indexed value of an item, as scimserver keeps one per attribute value."""

    __tablename__ = "bench_baseline_values"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(Integer, index=True)
    text_value: Mapped[str] = mapped_column(String(64), index=True)


class AuditRow(Base):
    """One entry of the reference write's hash chain."""

    __tablename__ = "bench_baseline_audit"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer)
    previous_hash: Mapped[str] = mapped_column(String(64))
    chain_hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The chain's head, locked by each write until it commits."""

    __tablename__ = "bench_baseline_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    chain_hash: Mapped[str] = mapped_column(String(64))


ADVANCE_HEAD = (
    update(AuditHeadRow)
    .where(AuditHeadRow.id == 1)
    .values(seq=AuditHeadRow.seq + 1)
    .returning(AuditHeadRow.seq, AuditHeadRow.chain_hash)
)
SET_HEAD_HASH = (
    update(AuditHeadRow)
    .where(AuditHeadRow.id == 1)
    .values(chain_hash=bindparam("chain_hash"))
)


def seed(url: str, rows: int) -> None:
    """Create the baseline table with ``rows`` rows (ids 1..rows)."""
    engine = make_engine(url, 1)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(AuditHeadRow), [{"id": 1, "seq": 0, "chain_hash": ""}]
        )
        for start in range(1, rows + 1, 5_000):
            stop = min(start + 5_000, rows + 1)
            connection.execute(
                insert(Item),
                [{"id": n, "name": f"item{n}"} for n in range(start, stop)],
            )
    engine.dispose()


def create_app() -> Flask:
    """The baseline application, configured from the scimserver variables."""
    app = Flask(__name__)
    engine = make_engine(
        os.environ["SCIMSERVER_DATABASE_URL"],
        int(os.environ.get("SCIMSERVER_DB_POOL_SIZE", "4")),
    )

    @app.get("/items/<int:item_id>")
    def get_item(item_id: int) -> Response:
        with Session(engine) as session:
            item = session.scalar(select(Item).where(Item.id == item_id))
        if item is None:
            abort(404)
        return jsonify({"id": item.id, "name": item.name})

    @app.patch("/items/<int:item_id>")
    def write_item(item_id: int) -> Response:
        name = str((request.get_json(silent=True) or {}).get("name", ""))[:64]
        with Session(engine) as session, session.begin():
            item = session.scalar(select(Item).where(Item.id == item_id))
            if item is None:
                abort(404)
            version = item.version + 1
            _write(session, item_id, item.version, name)
        return jsonify({"id": item_id, "name": name, "version": version})

    return app


def _write(session: Session, item_id: int, version: int, name: str) -> None:
    """The statements of the reference write, in one transaction."""
    changed = (
        update(Item)
        .where(Item.id == item_id, Item.version == version)
        .values(name=name, version=version + 1)
    )
    session.execute(changed)
    session.execute(delete(ItemValue).where(ItemValue.item_id == item_id))
    session.execute(insert(ItemValue), [{"item_id": item_id, "text_value": name}])

    seq, previous = session.execute(ADVANCE_HEAD).one()
    entry: dict[str, Any] = {"seq": seq, "item_id": item_id, "previous_hash": previous}
    message = f"{seq}:{item_id}:{previous}".encode()
    entry["chain_hash"] = hmac.new(AUDIT_KEY, message, hashlib.sha256).hexdigest()
    session.execute(insert(AuditRow), [entry])
    session.execute(SET_HEAD_HASH, {"chain_hash": entry["chain_hash"]})


app = create_app() if "SCIMSERVER_DATABASE_URL" in os.environ else None
