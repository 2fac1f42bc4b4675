"""Database engine and per-request sessions."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from scimserver.scim.count_shards import fold_at_connect

logger = logging.getLogger(__name__)

EXTENSION_KEY = "scimserver.db"


class Database:
    """Owns the engine and the session factory of one application."""

    def __init__(self, url: str, pool_size: int = 5) -> None:
        self.engine = make_engine(url, pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def make_engine(url: str, pool_size: int = 5) -> Engine:
    """Create an engine tuned for the backend named by ``url``."""
    # Statement parameters are attribute values: keep them out of error logs.
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _configure_sqlite)
        return engine

    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
    )
    event.listen(engine, "connect", fold_at_connect)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def init_app(app: Flask) -> None:
    """Attach a :class:`Database` to ``app`` and close sessions after each request."""
    settings = app.config["SETTINGS"]
    app.extensions[EXTENSION_KEY] = Database(
        settings.database_url, settings.db_pool_size
    )
    app.teardown_appcontext(_close_session)


def get_database(app: Flask | None = None) -> Database:
    """Return the database of ``app`` (default: the current application)."""
    database: Database = (app or current_app).extensions[EXTENSION_KEY]
    return database


def get_session() -> Session:
    """Return the session of the current request, opening it on first use."""
    if "db_session" not in g:
        g.db_session = get_database().sessions()
    session: Session = g.db_session
    return session


def rollback_session() -> None:
    """Undo the current request's pending changes, if it opened a session."""
    session: Session | None = g.get("db_session")
    if session is not None:
        session.rollback()


def _close_session(_error: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()
