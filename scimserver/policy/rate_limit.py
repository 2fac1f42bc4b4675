"""Per-client rate limits: a token bucket for each API client (RFC 6585 §4).

A client over its limit gets 429 with a SCIM error body and ``Retry-After`` in
whole seconds, so that an identity provider pauses and retries rather than
marking the application as failing.

TODO: the buckets live in the memory of one process, so each gunicorn worker
keeps its own and a client may send up to (workers x limit) requests per second.
A shared limit needs its buckets in the database or in a proxy in front.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from time import monotonic

from flask import Flask, Response, current_app

from scimserver.models import Client
from scimserver.scim.errors import TooManyRequests
from scimserver.scim.responses import error_response

logger = logging.getLogger(__name__)

EXTENSION_KEY = "scimserver.rate_limit"


@dataclass
class TokenBucket:
    """Holds up to ``burst`` tokens and gains ``rate`` tokens a second."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Spend one token; return 0, or the seconds until one is available."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now

        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """One token bucket per client, shared by the threads of a process."""

    def __init__(self, per_second: int, burst: int) -> None:
        self.per_second = per_second
        self.burst = burst
        self._buckets: dict[int, TokenBucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """A rate or a burst of 0 turns the limit off."""
        return self.per_second > 0 and self.burst > 0

    def wait_seconds(self, client_id: int) -> int:
        """Count one request of a client; return 0, or whole seconds to wait."""
        if not self.enabled:
            return 0
        now = monotonic()
        with self._lock:
            bucket = self._buckets.get(client_id)
            if bucket is None:
                bucket = TokenBucket(self.per_second, self.burst, self.burst, now)
                self._buckets[client_id] = bucket
            wait = bucket.take(now)
        return math.ceil(wait) if wait > 0 else 0


def init_app(app: Flask) -> None:
    """Give ``app`` a rate limiter built from its settings."""
    settings = app.config["SETTINGS"]
    app.extensions[EXTENSION_KEY] = RateLimiter(
        settings.rate_limit_per_second, settings.rate_limit_burst
    )


def enforce_rate_limit(client: Client) -> Response | None:
    """Return a 429 response when ``client`` is over its limit, else None."""
    limiter: RateLimiter = current_app.extensions[EXTENSION_KEY]
    wait = limiter.wait_seconds(client.id)
    if wait == 0:
        return None

    logger.warning("rate limit reached client=%s retry_after=%s", client.name, wait)
    response = error_response(
        TooManyRequests(
            f"This client may send {limiter.per_second} requests a second "
            f"(bursts of {limiter.burst}). Retry after {wait} seconds."
        )
    )
    response.headers["Retry-After"] = str(wait)
    return response
