"""How the SCIM push connector answers a failing downstream server.

pytest-httpserver plays a downstream server that fails on purpose (a real HTTP
server on 127.0.0.1 answering 429, 503, 500, 400, or too slowly).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from scimserver.connectors.base import OutboundEvent
from scimserver.connectors.scim_push import ScimPushConnector

TOKEN_ENV = "SCIMSERVER_TEST_FAILING_TOKEN"
USER: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "userName": "bjensen",
}
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def connector(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ScimPushConnector]:
    monkeypatch.setenv(TOKEN_ENV, "s3cr3t-token")
    made = ScimPushConnector.from_options(
        "lms",
        {
            "url": httpserver.url_for("/scim/v2"),
            "auth": {"type": "bearer", "token_env": TOKEN_ENV},
            "timeout": 0.5,
        },
    )
    yield made
    made.close()


def created() -> OutboundEvent:
    return OutboundEvent(
        id="evt-1",
        connector="lms",
        event_type="created",
        resource_type="User",
        resource_id=USER["id"],
        payload=USER,
    )


def deliver(app: Flask, connector: ScimPushConnector) -> Any:
    with app.app_context():
        return connector.deliver(created())


def test_429_with_retry_after_seconds_is_retried_after_that_delay(
    app: Flask, httpserver: HTTPServer, connector: ScimPushConnector
) -> None:
    httpserver.expect_request("/scim/v2/Users", method="POST").respond_with_json(
        {"schemas": [ERROR], "status": "429", "detail": "slow down"},
        status=429,
        headers={"Retry-After": "7"},
    )

    outcome = deliver(app, connector)

    assert (outcome.status, outcome.http_status, outcome.retry_after) == (
        "retry",
        429,
        7.0,
    )


def test_503_with_retry_after_date_is_retried_at_that_time(
    app: Flask, httpserver: HTTPServer, connector: ScimPushConnector
) -> None:
    later = datetime.now(UTC) + timedelta(seconds=120)
    httpserver.expect_request("/scim/v2/Users").respond_with_data(
        "maintenance", status=503, headers={"Retry-After": format_datetime(later, True)}
    )

    outcome = deliver(app, connector)

    assert outcome.status == "retry"
    assert outcome.retry_after is not None and 100 < outcome.retry_after <= 120


def test_500_is_retried_without_a_delay_of_its_own(
    app: Flask, httpserver: HTTPServer, connector: ScimPushConnector
) -> None:
    httpserver.expect_request("/scim/v2/Users").respond_with_data("boom", status=500)

    outcome = deliver(app, connector)

    assert (outcome.status, outcome.http_status, outcome.retry_after) == (
        "retry",
        500,
        None,
    )


def test_400_is_rejected_with_the_scim_error_detail(
    app: Flask, httpserver: HTTPServer, connector: ScimPushConnector
) -> None:
    httpserver.expect_request("/scim/v2/Users").respond_with_json(
        {
            "schemas": [ERROR],
            "status": "400",
            "scimType": "invalidValue",
            "detail": "Attribute 'userName' is required.",
        },
        status=400,
    )

    outcome = deliver(app, connector)

    assert (outcome.status, outcome.http_status) == ("rejected", 400)
    assert outcome.error == "HTTP 400: Attribute 'userName' is required."


def test_a_downstream_that_hangs_past_the_timeout_is_retried(
    app: Flask, httpserver: HTTPServer, connector: ScimPushConnector
) -> None:
    released = threading.Event()

    def hang(_request: Request) -> Response:
        released.wait(timeout=10)
        return Response("{}", status=201)

    httpserver.expect_request("/scim/v2/Users").respond_with_handler(hang)

    outcome = deliver(app, connector)
    released.set()

    assert (outcome.status, outcome.error) == ("retry", "timeout")


def test_a_refused_connection_is_retried(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(TOKEN_ENV, "s3cr3t-token")
    connector = ScimPushConnector.from_options(
        "lms",
        {
            "url": f"http://127.0.0.1:{port}/scim/v2",
            "auth": {"type": "bearer", "token_env": TOKEN_ENV},
        },
    )

    outcome = deliver(app, connector)
    connector.close()

    assert outcome.status == "retry"
    assert outcome.error is not None and outcome.error.startswith("connection failed")


def test_conflict_without_a_single_match_is_rejected(
    app: Flask, httpserver: HTTPServer, connector: ScimPushConnector
) -> None:
    httpserver.expect_request("/scim/v2/Users", method="POST").respond_with_json(
        {"schemas": [ERROR], "status": "409", "scimType": "uniqueness"}, status=409
    )
    httpserver.expect_request("/scim/v2/Users", method="GET").respond_with_json(
        {"totalResults": 0, "Resources": []}
    )

    outcome = deliver(app, connector)

    assert (outcome.status, outcome.http_status) == ("rejected", 409)
    assert "0 downstream resources match its userName" in (outcome.error or "")


def test_requests_carry_the_bearer_token_and_an_idempotency_key(
    app: Flask, httpserver: HTTPServer, connector: ScimPushConnector
) -> None:
    httpserver.expect_request(
        "/scim/v2/Users",
        method="POST",
        headers={"Authorization": "Bearer s3cr3t-token", "Idempotency-Key": "evt-1"},
    ).respond_with_json({**USER, "id": "down-1"}, status=201)

    outcome = deliver(app, connector)

    assert outcome.status == "delivered"
    httpserver.check_assertions()


def test_the_token_never_reaches_the_log(
    app: Flask,
    httpserver: HTTPServer,
    connector: ScimPushConnector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    httpserver.expect_request("/scim/v2/Users").respond_with_data("no", status=401)

    with caplog.at_level("DEBUG"):
        deliver(app, connector)

    assert "s3cr3t-token" not in caplog.text
    assert "bjensen" not in caplog.text
