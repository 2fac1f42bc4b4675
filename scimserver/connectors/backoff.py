"""When to try a failed delivery again: exponential backoff with jitter.

Try ``n`` (1 for the first) waits ``base * 2**(n-1)`` seconds, capped at the
connector's ``max_seconds``, then drawn uniformly from the upper half of that
span ("equal jitter"), so that receivers recovering from an outage are not hit
by every worker at once while the wait still grows. A ``Retry-After`` given by
the receiver (RFC 9110 §10.2.3) replaces the computed wait: it is honoured
exactly, even when longer than ``max_seconds``.
"""

from __future__ import annotations

import logging
import random

from scimserver.connectors.config import RetryPolicy

logger = logging.getLogger(__name__)


def retry_delay(
    retry: RetryPolicy,
    attempt: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed try number ``attempt``."""
    if retry_after is not None:
        return max(0.0, retry_after)
    exponent = min(max(0, attempt - 1), 62)
    ceiling = min(retry.max_seconds, retry.base_seconds * 2**exponent)
    return (rng or random).uniform(ceiling / 2, ceiling)
