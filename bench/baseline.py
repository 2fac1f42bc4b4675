"""The baseline: a bare Flask + SQLAlchemy app doing one primary-key SELECT.

Served by the same gunicorn configuration as scimserver, on the same database
and with scimserver's engine settings (pool size, SQLite pragmas), it measures
what the stack costs before any SCIM work: the benchmark reports each
workload's throughput as a ratio to this one.
"""

from __future__ import annotations

import os

from flask import Flask, Response, abort, jsonify
from sqlalchemy import Integer, String, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from scimserver.db import make_engine

ROWS_TABLE = "bench_baseline_items"


class Base(DeclarativeBase):
    """Declarative base of the baseline's one table."""


class Item(Base):
    """One row of the baseline table."""

    __tablename__ = ROWS_TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))


def seed(url: str, rows: int) -> None:
    """Create the baseline table with ``rows`` rows (ids 1..rows)."""
    engine = make_engine(url, 1)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
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

    return app


app = create_app() if "SCIMSERVER_DATABASE_URL" in os.environ else None
