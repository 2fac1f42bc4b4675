"""Per-client token buckets answering 429 with Retry-After (RFC 6585 §4)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scimserver import create_app
from scimserver.policy import rate_limit
from scimserver.policy.rate_limit import EXTENSION_KEY, RateLimiter, TokenBucket
from tests.conftest import ScimClient, make_token
from tests.scim.test_api_users import assert_error


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A monotonic clock that moves only when a test moves it."""
    now = [1000.0]
    monkeypatch.setattr(rate_limit, "monotonic", lambda: now[0])
    return now


@pytest.fixture
def tiny_limits(app: Flask, frozen_clock: list[float]) -> list[float]:
    """One request a second, in bursts of two."""
    app.extensions[EXTENSION_KEY] = RateLimiter(per_second=1, burst=2)
    return frozen_clock


def test_over_the_burst_is_429_with_retry_after(
    scim: ScimClient, tiny_limits: list[float]
) -> None:
    assert scim.get("/Users").status_code == 200
    assert scim.get("/Users").status_code == 200

    response = scim.get("/Users")

    assert_error(response, 429)
    assert response.headers["Retry-After"] == "1"


def test_tokens_come_back_with_time(scim: ScimClient, tiny_limits: list[float]) -> None:
    for _ in range(2):
        scim.get("/Users")
    assert scim.get("/Users").status_code == 429

    tiny_limits[0] += 1.0

    assert scim.get("/Users").status_code == 200
    assert scim.get("/Users").status_code == 429


def test_each_client_has_its_own_bucket(
    app: Flask, client: FlaskClient, scim: ScimClient, tiny_limits: list[float]
) -> None:
    other = ScimClient(client, make_token(app, "lms", ["scim:read"]))
    for _ in range(2):
        scim.get("/Users")

    assert scim.get("/Users").status_code == 429
    assert other.get("/Users").status_code == 200


def test_requests_without_a_valid_token_spend_nothing(
    client: FlaskClient, scim: ScimClient, tiny_limits: list[float]
) -> None:
    for _ in range(5):
        client.get("/scim/v2/Users", headers={"Authorization": "Bearer wrong"})

    assert scim.get("/Users").status_code == 200


@pytest.mark.parametrize(
    ("rate", "burst", "now", "wait"),
    [
        (2, 1, 0.0, 0.5),  # empty bucket: half a second for the next token
        (2, 1, 0.25, 0.25),  # half a token gained, a quarter second to go
        (2, 1, 0.5, 0.0),  # refilled by then
        (1, 1, 0.1, 0.9),
        (10, 5, 100.0, 0.0),  # never above the burst, however long the pause
    ],
)
def test_token_bucket_refills_at_its_rate(
    rate: int, burst: int, now: float, wait: float
) -> None:
    bucket = TokenBucket(rate=rate, burst=burst, tokens=0.0, updated=0.0)

    assert bucket.take(now) == pytest.approx(wait)


def test_bucket_holds_at_most_the_burst(frozen_clock: list[float]) -> None:
    limiter = RateLimiter(per_second=10, burst=3)
    frozen_clock[0] += 3600

    waits = [limiter.wait_seconds(client_id=1) for _ in range(4)]

    assert waits == [0, 0, 0, 1]


@pytest.mark.parametrize(("rate", "burst"), [(0, 200), (50, 0)])
def test_zero_disables_the_limit(
    rate: int, burst: int, frozen_clock: list[float]
) -> None:
    limiter = RateLimiter(per_second=rate, burst=burst)

    assert all(limiter.wait_seconds(client_id=1) == 0 for _ in range(1000))


def test_settings_shape_the_limiter() -> None:
    app = create_app(
        {"database_url": "sqlite://", "rate_limit_per_second": 3, "rate_limit_burst": 4}
    )

    limiter: RateLimiter = app.extensions[EXTENSION_KEY]
    assert (limiter.per_second, limiter.burst) == (3, 4)
