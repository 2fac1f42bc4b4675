"""``scimserver report`` against a hand-computed data set.

Ten employees; the "Pilot" Group holds u0-u5. In December: everyone progressed
in wellness-101, u0-u4 (pilot) and u6-u7 (rest) completed it, u0 completed
stress-201; u8's November completion lies outside the period. Referrals of the
wellness rule: u0-u3 and u6 (consented), all sent, u0-u3 acknowledged, u0-u2
contact made. With a minimum of 3, counts of 1 and 2 are suppressed.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from scimserver.db import get_database
from scimserver.events.models import LearningEvent, Referral
from tests.conftest import ScimClient, make_token
from tests.connectors.outbox_support import cli, hris, make_hub
from tests.events.support import Api, eap, hub, new_employee

__all__ = ["eap", "hub", "make_hub"]

DECEMBER = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_report_matches_the_hand_computed_figures(hub: Flask) -> None:
    users = _fixture(hub)

    result = cli(
        hub,
        "report",
        "--since",
        "2026-12-01",
        "--until",
        "2027-01-01",
        "--cohort",
        "Pilot",
        "--min-count",
        "3",
    )
    body = json.loads(result.stdout)

    everyone, pilot, rest = (body["segments"][k] for k in ("all", "cohort", "rest"))
    assert everyone["modules"] == [
        _module("stress-201", None, None, None),
        _module("wellness-101", 10, 7, 0.7),
    ]
    assert _stages(everyone) == (7, 5, 5, 4, 3)
    assert everyone["funnels"][0]["conversion"] == {
        "consented": 0.7143,
        "sent": 1.0,
        "acknowledged": 0.8,
        "contactMade": 0.75,
    }
    assert everyone["funnels"][0]["medianHoursToContact"] == 48.0
    assert pilot["modules"][1] == _module("wellness-101", 6, 5, 0.8333)
    assert _stages(pilot) == (5, 4, 4, 4, 3)
    assert rest["modules"] == [_module("wellness-101", 4, None, None)]
    assert _stages(rest) == (None, None, None, 0, 0)
    assert set(rest["funnels"][0]["conversion"].values()) == {None}
    assert rest["funnels"][0]["medianHoursToContact"] is None
    assert not any(user_id in result.stdout for user_id in users)


def test_report_without_a_period_counts_everything(hub: Flask) -> None:
    _fixture(hub)

    body = json.loads(cli(hub, "report", "--min-count", "3").stdout)

    assert body["cohortGroup"] is None and list(body["segments"]) == ["all"]
    wellness = body["segments"]["all"]["modules"][1]
    assert (wellness["engaged"], wellness["completed"]) == (10, 8)


def test_an_even_count_has_the_mean_of_the_middle_two_as_median(hub: Flask) -> None:
    scim = hris(hub)
    users = [new_employee(scim, f"e{n}") for n in range(4)]
    with get_database(hub).sessions() as session:
        for user_id, days in zip(users, (1, 2, 3, 10), strict=True):
            session.add(_event(user_id, "wellness-101", "completed", DECEMBER))
            session.add(_referral(user_id, 3, days))
        session.commit()

    body = json.loads(cli(hub, "report", "--min-count", "1").stdout)

    assert body["segments"]["all"]["funnels"][0]["medianHoursToContact"] == 60.0


def test_the_report_endpoint_keeps_the_server_minimum(hub: Flask) -> None:
    _fixture(hub)
    token = make_token(hub, "hr-analyst", ["reports:read"])
    api = Api(hub.test_client(), token)
    pilot = _group_id(hub)

    response = api.get(f"/reports/programme?since=2026-12-01&cohort={pilot}")
    refused = Api(hub.test_client(), make_token(hub, "lms2", ["events:write"]))

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["minimumCount"] == 5  # the setting's default
    pilot_wellness = body["segments"]["cohort"]["modules"][1]
    assert pilot_wellness == _module("wellness-101", 6, 5, 0.8333)
    assert body["segments"]["rest"]["modules"] == [
        _module("wellness-101", None, None, None)
    ]
    assert api.get("/reports/programme?since=soon").status_code == 400
    assert api.get("/reports/programme?cohort=nope").status_code == 404
    assert refused.get("/reports/programme").status_code == 403


def _group_id(app: Flask) -> str:
    scim = ScimClient(app.test_client(), make_token(app, "reader", ["scim:read"]))
    response = scim.get('/Groups?filter=displayName eq "Pilot"')
    group_id: str = response.get_json()["Resources"][0]["id"]
    return group_id


def _fixture(app: Flask) -> list[str]:
    scim = hris(app)
    users = [new_employee(scim, f"u{n}") for n in range(10)]
    pilot = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Pilot",
        "members": [{"value": user_id} for user_id in users[:6]],
    }
    assert scim.post("/Groups", pilot).status_code == 201

    events = [(u, "wellness-101", "progressed", DECEMBER) for u in users]
    events += [
        (users[n], "wellness-101", "completed", DECEMBER) for n in (0, 1, 2, 3, 4, 6, 7)
    ]
    events += [(users[0], "stress-201", "completed", DECEMBER)]
    events += [(users[8], "wellness-101", "completed", NOVEMBER)]
    # How far each referral got (1 sent, 2 acknowledged, 3 contact made), and
    # after how many days from the completion contact was made.
    stages = {0: (3, 1), 1: (3, 3), 2: (3, 2), 3: (2, 0), 6: (1, 0)}
    with get_database(app).sessions() as session:
        session.add_all(_event(*event) for event in events)
        session.add_all(_referral(users[n], *stage) for n, stage in stages.items())
        session.commit()
    return users


def _event(user_id: str, module: str, verb: str, at: datetime) -> LearningEvent:
    return LearningEvent(
        statement_id=str(uuid.uuid4()),
        client="lms",
        user_id=user_id,
        module_id=module,
        verb=verb,
        occurred=at,
        received=at,
    )


def _referral(user_id: str, reached: int, hours: int) -> Referral:
    states = ["sent", "acknowledged", "contact_made"]
    return Referral(
        id=str(uuid.uuid4()),
        user_id=user_id,
        connector="eap",
        consent_token="token",
        module_id="wellness-101",
        reason="voluntary_followup",
        origin="rule:wellness-followup",
        rules_version="2026-12-01",
        state=states[reached - 1],
        created=DECEMBER,
        updated=DECEMBER,
        sent_at=DECEMBER,
        acknowledged_at=DECEMBER if reached >= 2 else None,
        contact_made_at=DECEMBER + timedelta(hours=24 * hours) if hours else None,
    )


def _module(
    module: str, engaged: int | None, completed: int | None, rate: float | None
) -> dict[str, Any]:
    return {
        "moduleId": module,
        "engaged": engaged,
        "completed": completed,
        "completionRate": rate,
    }


def _stages(segment: dict[str, Any]) -> tuple[int | None, ...]:
    [funnel] = segment["funnels"]
    stages = ("eligible", "consented", "sent", "acknowledged", "contactMade")
    return tuple(funnel[stage] for stage in stages)
