"""Fixtures of the consent tests: a receipt key per test, consent API clients."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scimserver.consent import api as consent_api
from tests.conftest import ScimClient, make_token

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CONSENT = "urn:scimserver:params:scim:schemas:extension:consent:1.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

GRANT: dict[str, Any] = {
    "purpose": "eap_referral",
    "recipient": "eap-vendor",
    "dataCategories": [f"{USER}:phoneNumbers", f"{ENTERPRISE}:department"],
    "noticeVersion": "2026-11",
    "captureMethod": "enrolment_flow",
}


class ConsentClient:
    """Sends consent API requests with a bearer token."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.token = token

    def request(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs["json"] = body
        return self.client.open(
            "/api/v1" + path, method=method, headers=headers, **kwargs
        )

    def grant(self, user_id: str, **changes: Any) -> Any:
        return self.request("POST", f"/users/{user_id}/consents", {**GRANT, **changes})

    def granted(self, user_id: str, **changes: Any) -> dict[str, Any]:
        """Grant and return the record, failing the test unless it was created."""
        response = self.grant(user_id, **changes)
        assert response.status_code == 201, response.get_json()
        record: dict[str, Any] = response.get_json()
        return record

    def history(self, user_id: str) -> Any:
        return self.request("GET", f"/users/{user_id}/consents")

    def withdraw(self, consent_token: str) -> Any:
        return self.request("POST", f"/consents/{consent_token}/withdraw")

    def receipt(self, consent_token: str) -> Any:
        return self.request("GET", f"/consents/{consent_token}/receipt")


class Clock:
    """The consent API's clock, set by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now: datetime | None = None
        monkeypatch.setattr(consent_api, "utc_now", self._read)

    def _read(self) -> datetime:
        if self.now is None:
            return datetime.now(UTC)
        return self.now


@pytest.fixture
def receipt_key_file(app: Flask, tmp_path: Path) -> Path:
    """Receipts are signed with a key made for the test, never the repo's."""
    path = tmp_path / "keys" / "receipt-signing-key.pem"
    app.config["SETTINGS"] = app.config["SETTINGS"].with_overrides(
        {"receipt_key_file": str(path)}
    )
    return path


@pytest.fixture
def consents(client: FlaskClient, app: Flask, receipt_key_file: Path) -> ConsentClient:
    """An enrolment flow that may grant, withdraw and read consents."""
    token = make_token(app, "enrolment", ["consent:read", "consent:write"])
    return ConsentClient(client, token)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def create_user(scim: ScimClient, user_name: str = "bjensen", **extra: Any) -> str:
    """Create a User through SCIM and return its id."""
    payload = {"schemas": [USER], "userName": user_name, **extra}
    response = scim.post("/Users", payload)
    assert response.status_code == 201, response.get_json()
    user_id: str = response.get_json()["id"]
    return user_id


def assert_error(response: Any, status: int, scim_type: str | None = None) -> str:
    """Check a SCIM error response (RFC 7644 §3.12) and return its detail."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    detail: str = body["detail"]
    return detail
