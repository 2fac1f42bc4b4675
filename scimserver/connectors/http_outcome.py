"""What an HTTP answer means for an outbound delivery: done, retry, or refused.

- 2xx: delivered.
- 408, 425, 429 and 5xx: try again later; on 429 (RFC 6585 §4) and 503
  (RFC 9110 §15.6.4) not before the ``Retry-After`` header says
  (RFC 9110 §10.2.3, seconds or an HTTP-date).
- Any other status: the receiver refused the event for good.
- No answer (timeout, refused or dropped connection): try again later.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from scimserver.connectors.base import DeliveryOutcome

logger = logging.getLogger(__name__)

RETRYABLE = frozenset({408, 425, 429})
HONOURS_RETRY_AFTER = frozenset({429, 503})


def outcome_of_response(
    response: httpx.Response, now: datetime | None = None
) -> DeliveryOutcome:
    """Classify the receiver's answer."""
    status = response.status_code
    if 200 <= status < 300:
        return DeliveryOutcome("delivered", http_status=status)
    error = f"HTTP {status} {response.reason_phrase}".strip()
    if status in RETRYABLE or status >= 500:
        wait = None
        if status in HONOURS_RETRY_AFTER:
            wait = parse_retry_after(response.headers.get("Retry-After"), now)
        return DeliveryOutcome(
            "retry", http_status=status, error=error, retry_after=wait
        )
    return DeliveryOutcome("rejected", http_status=status, error=error)


def outcome_of_error(error: httpx.HTTPError) -> DeliveryOutcome:
    """A request that got no answer is retried; the error names its kind only."""
    if isinstance(error, httpx.TimeoutException):
        text = "timed out"
    elif isinstance(error, httpx.ConnectError):
        text = "connection refused or unreachable"
    else:
        text = f"transport error ({type(error).__name__})"
    return DeliveryOutcome("retry", error=text)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value; None when absent or invalid."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        logger.info("ignoring an invalid Retry-After header")
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
