"""Fixtures of the outbox tests: a hub with connectors, a verifying webhook receiver.

The receiver is a real HTTP server on 127.0.0.1 (pytest-httpserver) that checks
every request's Standard Webhooks signature with the ``standardwebhooks``
package, an implementation of the specification independent of ours, and
answers from a script of statuses, so that tests can make it fail, rate-limit
or recover.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from standardwebhooks import Webhook
from werkzeug import Request, Response

from scimserver import create_app
from scimserver.cli import main
from scimserver.connectors.models import DeliveryAttempt, OutboxEvent
from scimserver.connectors.worker import DeliveryWorker
from scimserver.db import get_database
from tests.conftest import BASE_URL, ScimClient, empty_database, make_token

SECRET_ENV = "OUTBOX_TEST_WEBHOOK_SECRET"
OLD_SECRET_ENV = "OUTBOX_TEST_WEBHOOK_SECRET_OLD"
SECRET = "whsec_" + base64.b64encode(b"outbox-test-secret-0123456789abcd").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"outbox-test-secret-previous-key!").decode()
HOOK_PATH = "/hooks/scim"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
#: A release policy that shows the webhook userName, names and active.
LMS_POLICY = """
[connectors.policy]
read = { classifications = ["public", "internal"] }
"""


@dataclass
class Received:
    """One request the receiver verified."""

    headers: dict[str, str]
    event: dict[str, Any]
    at: float


@dataclass
class Receiver:
    """Verifies each request and answers from ``script``, then with 204."""

    secrets: list[str]
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: Request) -> Response:
        body = request.get_data(as_text=True)
        headers = dict(request.headers.items())
        try:
            event = Webhook(self.secrets[0]).verify(body, headers)
        except Exception as error:  # the test fails on any refused request
            self.refused.append(repr(error))
            return Response(status=401)
        time.sleep(self.delay)
        with self.lock:
            status, extra = self.script.pop(0) if self.script else (204, {})
            if status < 300:
                self.received.append(Received(headers, event, time.monotonic()))
        return Response(status=status, headers=extra)

    def events(self) -> list[dict[str, Any]]:
        return [r.event for r in self.received]

    def types(self) -> list[str]:
        return [r.event["type"] for r in self.received]


@pytest.fixture
def receiver(httpserver: HTTPServer) -> Iterator[Receiver]:
    """A webhook receiver that verifies signatures with the current secret."""
    found = Receiver([SECRET])
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_handler(
        found.handle
    )
    yield found
    httpserver.clear()


def webhook_toml(
    url: str, name: str = "lms", extra: str = "", policy: str = LMS_POLICY
) -> str:
    """A connectors file with one webhook connector (fast retries for tests)."""
    return f"""
[[connectors]]
name = "{name}"
type = "webhook"
url = "{url}"
secret_env = "{SECRET_ENV}"
timeout = 5
max_attempts = 4
backoff = {{ base_seconds = 0.01, max_seconds = 0.05 }}
{extra}
{policy}
"""


MakeHub = Callable[..., Flask]


@pytest.fixture
def make_hub(
    database_url: str,
    schema_dir: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[MakeHub]:
    """Create hubs (applications) reading a connectors file; clean up after."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv(OLD_SECRET_ENV, OLD_SECRET)
    apps: list[Flask] = []

    def make(toml: str, **overrides: Any) -> Flask:
        path = tmp_path / f"connectors-{len(apps)}.toml"
        path.write_text(toml)
        app = create_app(
            {
                "database_url": database_url,
                "base_url": BASE_URL,
                "schema_dir": schema_dir,
                "connectors_file": str(path),
                **overrides,
            }
        )
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    if apps:
        empty_database(apps[0])
    for app in apps:
        get_database(app).dispose()


def hris(app: Flask) -> ScimClient:
    """A SCIM client acting as the HRIS (reads and writes everything)."""
    return ScimClient(
        app.test_client(), make_token(app, "hris", ["scim:read", "scim:write"])
    )


def new_user(scim: ScimClient, user_name: str, **extra: Any) -> str:
    body = {"schemas": [USER], "userName": user_name, **extra}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.get_json()
    user_id: str = response.get_json()["id"]
    return user_id


def set_title(scim: ScimClient, user_id: str, title: str) -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": title}],
    }
    response = scim.patch(f"/Users/{user_id}", body)
    assert response.status_code == 200, response.get_json()


def drain(app: Flask) -> int:
    """Deliver everything due, as ``scimserver worker --once`` does."""
    return DeliveryWorker(app).drain()


def settle(app: Flask, timeout: float = 10.0) -> None:
    """Run the worker until no event is pending, as a worker on duty would."""
    deadline = time.monotonic() + timeout
    while any(row.status in ("pending", "delivering") for row in outbox_rows(app)):
        assert time.monotonic() < deadline, "the outbox did not settle"
        if not drain(app):
            time.sleep(0.02)


def outbox_rows(app: Flask) -> list[OutboxEvent]:
    with get_database(app).sessions() as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def attempts_of(app: Flask, event_id: int) -> list[DeliveryAttempt]:
    with get_database(app).sessions() as session:
        query = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.event_id == event_id)
            .order_by(DeliveryAttempt.id)
        )
        return list(session.scalars(query))


def cli(app: Flask, *args: str) -> Any:
    """Run a ``scimserver`` command against ``app``; fail on a non-zero exit."""
    result = app.test_cli_runner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def json_of(result: Any) -> Any:
    return json.loads(result.stdout)
