"""A short-lived cache, per server process, of bearer tokens already checked.

Looking a token up is a joined SELECT on every request. The cache keeps, under
the token's digest (never the token), the owning client's column values for
``token_cache_seconds`` (``SCIMSERVER_TOKEN_CACHE_SECONDS``; 0 switches it off).

How stale it may be: a token revoked, a client removed or a client's settings
(scopes, profile, release policy) changed by *another* process take effect here
within ``token_cache_seconds``. A change committed through this application's
sessions (the admin CLI, an API on this process) empties the cache at once.
Refused tokens are never cached, so a newly issued token works at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, make_transient_to_detached

from scimserver.db import get_database
from scimserver.models import Client, ClientToken
from scimserver.policy.clients import authenticate_token, hash_token

logger = logging.getLogger(__name__)

EXTENSION_KEY = "scimserver.token_cache"
#: Tokens remembered at most; past it, expired ones go, then all of them.
MAX_ENTRIES = 4096
WATCHED = (Client, ClientToken)
CHANGED_KEY = "scimserver.clients_changed"


@dataclass(frozen=True)
class _Entry:
    values: dict[str, Any]
    expires: float


class TokenCache:
    """Client column values by token digest, each kept for ``ttl`` seconds."""

    def __init__(
        self,
        ttl: float,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def __contains__(self, digest: str) -> bool:
        """Whether ``digest`` has an entry that has not expired."""
        entry = self._entries.get(digest)
        return entry is not None and entry.expires > self.clock()

    def lookup(self, session: Session, digest: str) -> Client | None:
        """The cached client of ``digest``, attached to ``session``; None if absent.

        The client joins the session as a persistent object without a query,
        so that later reads of it in the request behave as if it was loaded.
        """
        entry = self._entries.get(digest)
        if entry is None or entry.expires <= self.clock():
            return None

        # JSON values (scopes, policy) are shared between requests; like every
        # JSON column they are replaced when changed, never edited in place.
        client = Client(**entry.values)
        make_transient_to_detached(client)
        return session.merge(client, load=False)

    def remember(self, digest: str, client: Client) -> None:
        """Keep the values of ``client``, found for ``digest``, for ``ttl``."""
        if self.ttl <= 0:
            return
        values = {
            column.key: getattr(client, column.key)
            for column in inspect(Client).column_attrs
        }
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._prune()
            self._entries[digest] = _Entry(values, self.clock() + self.ttl)

    def clear(self) -> None:
        """Forget every token (a client or token changed)."""
        with self._lock:
            self._entries.clear()

    def _prune(self) -> None:
        now = self.clock()
        fresh = {k: e for k, e in self._entries.items() if e.expires > now}
        self._entries = fresh if len(fresh) < self.max_entries else {}


def init_app(app: Flask) -> None:
    """Create the application's cache and empty it when clients change."""
    cache = TokenCache(app.config["SETTINGS"].token_cache_seconds)
    app.extensions[EXTENSION_KEY] = cache
    sessions = get_database(app).sessions

    @event.listens_for(sessions, "after_flush")
    def _flushed(session: Session, _context: Any) -> None:
        touched = [*session.new, *session.dirty, *session.deleted]
        if any(isinstance(item, WATCHED) for item in touched):
            session.info[CHANGED_KEY] = True
            cache.clear()

    @event.listens_for(sessions, "do_orm_execute")
    def _executed(state: ORMExecuteState) -> None:
        mapper = state.bind_mapper
        writes = state.is_update or state.is_delete
        if writes and mapper is not None and mapper.class_ in WATCHED:
            state.session.info[CHANGED_KEY] = True
            cache.clear()

    @event.listens_for(sessions, "after_commit")
    def _committed(session: Session) -> None:
        # Cleared again: a request may have cached the old values in between.
        if session.info.pop(CHANGED_KEY, False):
            cache.clear()


def authenticate_cached_token(session: Session, token: str) -> Client | None:
    """Like :func:`authenticate_token`, answered from the cache when it can be."""
    cache: TokenCache = current_app.extensions[EXTENSION_KEY]
    digest = hash_token(token)
    client = cache.lookup(session, digest)
    if client is not None:
        return client

    client = authenticate_token(session, token)
    if client is not None:
        cache.remember(digest, client)
    return client
