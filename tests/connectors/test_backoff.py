"""Exponential backoff with jitter, and what HTTP answers mean for a delivery."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx
import pytest

from scimserver.connectors.backoff import retry_delay
from scimserver.connectors.config import RetryPolicy
from scimserver.connectors.http_outcome import (
    outcome_of_error,
    outcome_of_response,
    parse_retry_after,
)

NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 1, 2), (2, 2, 4), (3, 4, 8), (10, 30, 60), (10_000, 30, 60)],
)
def test_wait_doubles_per_attempt_within_its_jitter_and_cap(
    attempt: int, low: float, high: float
) -> None:
    retry = RetryPolicy(max_attempts=5, base_seconds=2, max_seconds=60)
    rng = random.Random(attempt)

    waits = [retry_delay(retry, attempt, rng=rng) for _ in range(200)]

    assert all(low <= wait <= high for wait in waits)
    assert len(set(waits)) > 100  # jittered, not one fixed value


def test_retry_after_replaces_the_backoff_even_beyond_the_cap() -> None:
    retry = RetryPolicy(max_attempts=5, base_seconds=2, max_seconds=60)

    assert retry_delay(retry, 1, retry_after=120) == 120


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        ("Thu, 03 Dec 2026 18:01:00 GMT", 60.0),
        ("Thu, 03 Dec 2026 17:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(
    value: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "wait"),
    [
        (200, {}, "delivered", None),
        (204, {}, "delivered", None),
        (429, {"Retry-After": "7"}, "retry", 7.0),
        (503, {"Retry-After": "9"}, "retry", 9.0),
        (500, {"Retry-After": "9"}, "retry", None),  # only 429 and 503 defer
        (408, {}, "retry", None),
        (400, {}, "rejected", None),
        (404, {}, "rejected", None),
        (410, {}, "rejected", None),
    ],
)
def test_http_answers_map_to_outcomes(
    status: int, headers: dict[str, str], outcome: str, wait: float | None
) -> None:
    result = outcome_of_response(httpx.Response(status, headers=headers), NOW)

    assert (result.status, result.http_status, result.retry_after) == (
        outcome,
        status,
        wait,
    )


def test_no_answer_is_retried() -> None:
    request = httpx.Request("POST", "http://127.0.0.1:9/")

    timeout = outcome_of_error(httpx.ReadTimeout("slow", request=request))
    refused = outcome_of_error(httpx.ConnectError("refused", request=request))

    assert (timeout.status, timeout.error) == ("retry", "timed out")
    assert refused.status == "retry"
