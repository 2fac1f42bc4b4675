"""A hub with an ``eap_referral`` connector and rules, an LMS, and a real EAP.

The EAP is a real HTTP server on 127.0.0.1 (pytest-httpserver) that checks each
referral's Standard Webhooks signature with the ``standardwebhooks`` package
and answers from a script of statuses, so tests can make it fail for a while.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from standardwebhooks import Webhook
from werkzeug import Request, Response

from scimserver.db import get_database
from scimserver.events.models import QuarantinedStatement, Referral
from tests.conftest import ScimClient, make_token
from tests.connectors.outbox_support import MakeHub

EAP_SECRET_ENV = "EVENTS_TEST_EAP_SECRET"
CALLBACK_SECRET_ENV = "EVENTS_TEST_EAP_CALLBACK_SECRET"
EAP_SECRET = "whsec_" + base64.b64encode(b"eap-referral-secret-0123456789ab").decode()
CALLBACK_SECRET = (
    "whsec_" + base64.b64encode(b"eap-callback-secret-0123456789ab").decode()
)
EAP_PATH = "/eap/referrals"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PROGRESSED = "http://adlnet.gov/expapi/verbs/progressed"
LMS_POLICY: dict[str, Any] = {
    "read": {"classifications": ["public", "internal"]},
    "pseudonymous": {"enabled": True, "sector": "lms"},
}
GRANT: dict[str, Any] = {
    "purpose": "eap_referral",
    "recipient": "eap-vendor",
    "dataCategories": [f"{USER}:phoneNumbers"],
    "noticeVersion": "2026-11",
    "captureMethod": "enrolment_flow",
}
RULES = """
version = "2026-12-01"

[[rules]]
name = "wellness-followup"
on = "completed"
module = "wellness-101"
connector = "eap"
reason = "voluntary_followup"
"""


def connectors_toml(url: str) -> str:
    """One eap_referral connector with a pseudonymous policy; fast retries."""
    return f"""
[[connectors]]
name = "eap"
type = "eap_referral"
url = "{url}"
secret_env = "{EAP_SECRET_ENV}"
callback_secret_env = "{CALLBACK_SECRET_ENV}"
purpose = "eap_referral"
timeout = 5
max_attempts = 5
backoff = {{ base_seconds = 0.01, max_seconds = 0.02 }}

[connectors.policy]
read = {{ classifications = ["public"] }}
recipient = "eap-vendor"
pseudonymous = {{ enabled = true, sector = "eap" }}
"""


@dataclass
class Eap:
    """The EAP's referral endpoint: verifies, then answers from ``script``."""

    script: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: Request) -> Response:
        body = request.get_data(as_text=True)
        headers = dict(request.headers.items())
        try:
            payload = Webhook(EAP_SECRET).verify(body, headers)
        except Exception as error:
            self.refused.append(repr(error))
            return Response(status=401)
        with self.lock:
            status = self.script.pop(0) if self.script else 202
            if status < 300:
                self.received.append((headers, payload))
            else:
                self.failed += 1
        return Response(status=status)


@pytest.fixture
def eap(httpserver: HTTPServer) -> Iterator[Eap]:
    found = Eap()
    httpserver.expect_request(EAP_PATH, method="POST").respond_with_handler(
        found.handle
    )
    yield found
    httpserver.clear()


@pytest.fixture
def hub(
    make_hub: MakeHub,
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Flask:
    """A hub whose rules refer completions of wellness-101 to the EAP."""
    monkeypatch.setenv(EAP_SECRET_ENV, EAP_SECRET)
    monkeypatch.setenv(CALLBACK_SECRET_ENV, CALLBACK_SECRET)
    rules = tmp_path / "referral-rules.toml"
    rules.write_text(RULES)
    return make_hub(
        connectors_toml(httpserver.url_for(EAP_PATH)),
        referral_rules_file=str(rules),
    )


class Api:
    """JSON requests with a bearer token."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.token = client, token

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(
            "/api/v1" + path,
            data=json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def get(self, path: str) -> Any:
        return self.client.get(
            "/api/v1" + path, headers={"Authorization": f"Bearer {self.token}"}
        )


def lms(app: Flask) -> Api:
    token = make_token(app, "lms", ["events:write", "scim:read"], policy=LMS_POLICY)
    return Api(app.test_client(), token)


def consent_admin(app: Flask) -> Api:
    token = make_token(app, "portal", ["consent:read", "consent:write"])
    return Api(app.test_client(), token)


def new_employee(scim: ScimClient, user_name: str) -> str:
    response = scim.post("/Users", {"schemas": [USER], "userName": user_name})
    assert response.status_code == 201, response.get_json()
    user_id: str = response.get_json()["id"]
    return user_id


def grant(portal: Api, user_id: str) -> str:
    response = portal.post(f"/users/{user_id}/consents", GRANT)
    assert response.status_code == 201, response.get_json()
    token: str = response.get_json()["consentToken"]
    return token


def lms_pseudonym(app: Flask, user_name: str) -> str:
    """The LMS's pseudonym for a User, as the LMS learns it: from SCIM."""
    token = make_token(app, f"lms-reader-{user_name}", ["scim:read"], LMS_POLICY)
    response = ScimClient(app.test_client(), token).get("/Users")
    assert response.status_code == 200, response.get_json()
    [shown] = [
        r["id"] for r in response.get_json()["Resources"] if r["userName"] == user_name
    ]
    assert shown.startswith("pid-")
    return str(shown)


def xapi_completion(
    actor_name: str, module: str = "wellness-101", statement_id: str | None = None
) -> dict[str, Any]:
    """An xAPI statement as an LMS emits it (xAPI 1.0.3 Part Two §2.4)."""
    return {
        "id": statement_id or str(uuid.uuid4()),
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://lms.example.com", "name": actor_name},
        },
        "verb": {"id": COMPLETED, "display": {"en-US": "completed"}},
        "object": {"objectType": "Activity", "id": module},
        "result": {"score": {"scaled": 0.93}, "response": "free text never kept"},
        "timestamp": datetime(2026, 12, 3, 10, 0, tzinfo=UTC).isoformat(),
    }


def referrals(app: Flask) -> list[Referral]:
    with get_database(app).sessions() as session:
        return list(session.scalars(select(Referral).order_by(Referral.created)))


def quarantined(app: Flask) -> list[QuarantinedStatement]:
    with get_database(app).sessions() as session:
        query = select(QuarantinedStatement).order_by(QuarantinedStatement.id)
        return list(session.scalars(query))
