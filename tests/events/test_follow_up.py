"""Follow-ups: no contact reported in time -> a signed CloudEvent to a nudger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer
from sqlalchemy import update
from standardwebhooks import Webhook
from werkzeug import Request, Response

from scimserver.db import get_database
from scimserver.events.models import Referral
from tests.connectors.outbox_support import (
    SECRET,
    SECRET_ENV,
    MakeHub,
    cli,
    drain,
    hris,
    make_hub,
)
from tests.events.support import (
    CALLBACK_SECRET,
    CALLBACK_SECRET_ENV,
    EAP_PATH,
    EAP_SECRET,
    EAP_SECRET_ENV,
    RULES,
    Eap,
    connectors_toml,
    consent_admin,
    eap,
    grant,
    lms,
    new_employee,
    referrals,
    xapi_completion,
)

__all__ = ["eap", "make_hub"]

NUDGE_PATH = "/nudges"
FOLLOW_UP = """
[follow_up]
after_hours = 0
connector = "nudges"
"""
NUDGER = """
[[connectors]]
name = "nudges"
type = "referral_follow_up"
url = "{url}"
secret_env = "{secret_env}"
timeout = 5
max_attempts = 3
backoff = {{ base_seconds = 0.01, max_seconds = 0.02 }}

[connectors.policy]
read = {{ classifications = ["public", "internal"] }}
pseudonymous = {{ enabled = true, sector = "nudges" }}
"""


@pytest.fixture
def nudges(httpserver: HTTPServer) -> Iterator[list[dict[str, object]]]:
    received: list[dict[str, object]] = []

    def handle(request: Request) -> Response:
        body = request.get_data(as_text=True)
        received.append(Webhook(SECRET).verify(body, dict(request.headers.items())))
        return Response(status=204)

    httpserver.expect_request(NUDGE_PATH, method="POST").respond_with_handler(handle)
    yield received
    httpserver.clear()


@pytest.fixture
def hub(
    make_hub: MakeHub,
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Flask:
    monkeypatch.setenv(EAP_SECRET_ENV, EAP_SECRET)
    monkeypatch.setenv(CALLBACK_SECRET_ENV, CALLBACK_SECRET)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES + FOLLOW_UP)
    nudger = NUDGER.format(url=httpserver.url_for(NUDGE_PATH), secret_env=SECRET_ENV)
    return make_hub(
        connectors_toml(httpserver.url_for(EAP_PATH)) + nudger,
        referral_rules_file=str(rules),
    )


def test_a_referral_without_contact_gets_one_follow_up(
    hub: Flask, eap: Eap, nudges: list[dict[str, object]]
) -> None:
    user_id = new_employee(hris(hub), "bjensen")
    grant(consent_admin(hub), user_id)
    lms(hub).post("/learning-events", xapi_completion("bjensen"))
    drain(hub)
    [referral] = referrals(hub)

    first = cli(hub, "referrals", "follow-up")
    second = cli(hub, "referrals", "follow-up")
    drain(hub)

    assert "1 follow-ups queued" in first.output
    assert "0 follow-ups queued" in second.output
    [event] = nudges
    assert event["type"] == "org.scimserver.referral.follow_up"
    assert event["id"] == f"follow_up_{referral.id}"
    data = event["data"]
    assert isinstance(data, dict)
    assert data["referralId"] == referral.id and data["moduleId"] == "wellness-101"
    assert str(data["subject"]).startswith("pid-") and user_id not in json.dumps(event)
    assert data["resource"]["userName"] == "bjensen"  # what its policy releases
    assert len(eap.received) == 1


def test_no_follow_up_once_contact_was_made(
    hub: Flask, eap: Eap, nudges: list[dict[str, object]]
) -> None:
    user_id = new_employee(hris(hub), "bjensen")
    grant(consent_admin(hub), user_id)
    lms(hub).post("/learning-events", xapi_completion("bjensen"))
    drain(hub)
    cli(hub, "referrals", "follow-up")
    _set_state(hub, "contact_made")

    drain(hub)

    assert nudges == []


def _set_state(app: Flask, state: str) -> None:
    """The EAP reported contact between the sweep and the delivery."""
    with get_database(app).sessions() as session:
        session.execute(update(Referral).values(state=state))
        session.commit()
