"""Options of the ``scim`` connector, and OAuth 2.0 client credentials."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from scimserver.connectors.base import OutboundEvent
from scimserver.connectors.scim_options import ConnectorConfigError, parse_options
from scimserver.connectors.scim_push import ScimPushConnector
from tests.connectors.scim_push.downstream import Downstream

SECRET_ENV = "SCIMSERVER_TEST_CLIENT_SECRET"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def bearer(**options: Any) -> dict[str, Any]:
    return {
        "url": "https://lms.example.com/scim/v2/",
        "auth": {"type": "bearer", "token_env": SECRET_ENV},
        **options,
    }


def test_defaults_and_shared_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "tok")

    options = parse_options(
        "lms", bearer(type="scim", scope="all", max_attempts=3, policy_file="p.json")
    )

    assert options.url == "https://lms.example.com/scim/v2"
    assert (options.update, options.on_leave) == ("patch", "deactivate")
    assert (options.timeout, options.connect_timeout, options.page_size) == (
        10.0,
        5.0,
        100,
    )


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (bearer(updates="put"), "unknown options updates"),
        (bearer(url="ftp://lms"), "url must be an http(s) URL"),
        (bearer(update="post"), "update must be one of patch, put"),
        (bearer(on_leave="archive"), "on_leave must be one of deactivate, delete"),
        (bearer(timeout=0), "timeout must be a positive number"),
        (bearer(sector="no spaces"), "invalid sector"),
        (bearer(auth={"type": "basic"}), "auth.type must be 'bearer' or"),
        (bearer(auth={"type": "bearer"}), "token_env is required"),
        (
            bearer(auth={"type": "bearer", "token_env": "SCIMSERVER_TEST_UNSET"}),
            "environment variable SCIMSERVER_TEST_UNSET (auth.token_env) is not set",
        ),
        (
            bearer(auth={"type": "client_credentials", "client_id": "hub"}),
            "token_url is required",
        ),
    ],
)
def test_invalid_options_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], problem: str
) -> None:
    monkeypatch.setenv(SECRET_ENV, "tok")
    monkeypatch.delenv("SCIMSERVER_TEST_UNSET", raising=False)

    with pytest.raises(ConnectorConfigError) as raised:
        parse_options("lms", options)

    assert problem in str(raised.value)
    assert str(raised.value).startswith("connector 'lms': ")


def test_secrets_stay_out_of_the_options_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "very-secret")
    table = bearer(
        auth={
            "type": "client_credentials",
            "token_url": "https://idp.example.com/token",
            "client_id": "hub",
            "client_secret_env": SECRET_ENV,
        }
    )

    options = parse_options("lms", table)

    assert options.auth.client_secret == "very-secret"  # type: ignore[union-attr]
    assert "very-secret" not in repr(options)


def test_client_credentials_fetch_a_token_once_and_use_it(
    app: Flask,
    downstream: Downstream,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The token endpoint is pytest-httpserver; the SCIM server is real."""
    monkeypatch.setenv(SECRET_ENV, "client-secret")
    token_requests: list[dict[str, str]] = []

    def issue(request: Request) -> Response:
        token_requests.append(dict(request.form))
        body = {
            "access_token": downstream.token,
            "token_type": "Bearer",
            "expires_in": 3600,
        }
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/token", method="POST").respond_with_handler(issue)
    connector = ScimPushConnector.from_options(
        "lms",
        {
            "url": downstream.url,
            "auth": {
                "type": "client_credentials",
                "token_url": httpserver.url_for("/token"),
                "client_id": "hub",
                "client_secret_env": SECRET_ENV,
                "scope": "scim.write",
            },
        },
    )

    outcomes = [deliver_new_user(app, connector, name) for name in ("alice", "bob")]
    connector.close()

    assert outcomes == ["delivered", "delivered"]
    assert sorted(u["userName"] for u in downstream.users()) == ["alice", "bob"]
    assert token_requests == [
        {"grant_type": "client_credentials", "scope": "scim.write"}
    ]


def test_an_unreachable_token_endpoint_means_retry(
    app: Flask, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "client-secret")
    httpserver.expect_request("/token").respond_with_data("down", status=503)
    connector = ScimPushConnector.from_options(
        "lms",
        {
            "url": httpserver.url_for("/scim/v2"),
            "auth": {
                "type": "client_credentials",
                "token_url": httpserver.url_for("/token"),
                "client_id": "hub",
                "client_secret_env": SECRET_ENV,
            },
        },
    )

    outcome = deliver_new_user(app, connector, "alice")
    connector.close()

    assert outcome == "retry"


def deliver_new_user(app: Flask, connector: ScimPushConnector, name: str) -> str:
    event = OutboundEvent(
        id=f"evt-{name}",
        connector="lms",
        event_type="created",
        resource_type="User",
        resource_id=str(uuid.uuid4()),
        payload={"schemas": [USER], "userName": name},
    )
    with app.app_context():
        return connector.deliver(event).status
