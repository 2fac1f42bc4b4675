"""POST /api/v1/learning-events: stored once, or quarantined with a reason."""

from __future__ import annotations

import json
import uuid

from flask import Flask
from sqlalchemy import select

from scimserver.cli import main
from scimserver.db import get_database
from scimserver.events.models import LearningEvent
from tests.conftest import make_token
from tests.connectors.outbox_support import cli, hris, make_hub
from tests.events.support import (
    PROGRESSED,
    Api,
    eap,
    hub,
    lms,
    lms_pseudonym,
    new_employee,
    quarantined,
    xapi_completion,
)

__all__ = ["eap", "hub", "make_hub"]


def test_a_statement_is_stored_as_a_flag_with_its_moment(hub: Flask) -> None:
    user_id = new_employee(hris(hub), "bjensen")
    statement = xapi_completion(lms_pseudonym(hub, "bjensen"))

    response = lms(hub).post("/learning-events", statement)

    assert response.status_code == 200
    assert response.get_json()["results"] == [
        {"id": statement["id"], "status": "stored"}
    ]
    [event] = _events(hub)
    assert (event.user_id, event.module_id, event.verb) == (
        user_id,
        "wellness-101",
        "completed",
    )
    assert event.occurred.isoformat() == "2026-12-03T10:00:00+00:00"
    assert not hasattr(event, "score")
    assert "free text" not in cli(hub, "audit", "export").stdout


def test_a_repeated_statement_id_is_recorded_once(hub: Flask) -> None:
    new_employee(hris(hub), "bjensen")
    statement = xapi_completion("bjensen")
    client = lms(hub)

    first = client.post("/learning-events", statement)
    second = client.post("/learning-events", statement)

    assert first.get_json()["stored"] == 1
    assert second.status_code == 200
    assert second.get_json()["results"] == [
        {"id": statement["id"], "status": "duplicate"}
    ]
    assert len(_events(hub)) == 1


def test_plain_events_and_mbox_actors_are_understood(hub: Flask) -> None:
    new_employee(hris(hub), "bjensen@example.com")
    plain = {
        "employee": "bjensen@example.com",
        "module_id": "wellness-101",
        "event": "progressed",
        "timestamp": "2026-12-03T09:00:00+01:00",
    }
    by_mbox = xapi_completion("ignored")
    by_mbox["actor"] = {"mbox": "mailto:BJensen@example.com"}
    by_mbox["verb"] = {"id": PROGRESSED}

    response = lms(hub).post("/learning-events", [plain, by_mbox, plain])

    assert response.status_code == 200, response.get_json()
    statuses = [r["status"] for r in response.get_json()["results"]]
    assert statuses == ["stored", "stored", "duplicate"]
    assert {e.occurred.isoformat() for e in _events(hub)} >= {
        "2026-12-03T08:00:00+00:00"
    }


def test_bad_statements_are_quarantined_with_a_clear_error(hub: Flask) -> None:
    new_employee(hris(hub), "bjensen")
    good = xapi_completion("bjensen")
    unknown = xapi_completion("nobody")
    bad_verb = {**xapi_completion("bjensen"), "verb": {"id": "http://x/liked"}}
    no_actor = {k: v for k, v in xapi_completion("bjensen").items() if k != "actor"}
    other_sector = xapi_completion("pid-" + "a" * 32)

    response = lms(hub).post(
        "/learning-events", [good, unknown, bad_verb, no_actor, other_sector, 7]
    )

    assert response.status_code == 422
    body = response.get_json()
    assert (body["stored"], body["quarantined"]) == (1, 5)
    errors = [r.get("error", "") for r in body["results"]]
    assert errors[1].startswith("Unknown actor")
    assert "ADL verb" in errors[2]
    assert errors[3] == "actor must be an Agent object."
    assert errors[4].startswith("Unknown actor")
    assert "JSON object" in errors[5]
    kept = quarantined(hub)
    assert [q.id for q in kept] == [r["quarantineId"] for r in body["results"][1:]]
    assert kept[0].body == unknown and kept[0].statement_id == unknown["id"]
    assert [e.statement_id for e in _events(hub)] == [good["id"]]
    exported = cli(hub, "audit", "export").stdout
    actions = [json.loads(line)["action"] for line in exported.splitlines()]
    assert actions.count("learning_event.quarantined") == 5
    assert "nobody" not in exported


def test_the_events_scope_is_required(hub: Flask) -> None:
    token = make_token(hub, "reader", ["scim:read"])
    statement = xapi_completion("bjensen", statement_id=str(uuid.uuid4()))

    refused = Api(hub.test_client(), token).post("/learning-events", statement)
    anonymous = hub.test_client().post("/api/v1/learning-events", json=statement)

    assert refused.status_code == 403
    assert "events:write" in refused.get_json()["detail"]
    assert anonymous.status_code == 401
    assert quarantined(hub) == [] and _events(hub) == []


def test_a_body_that_is_not_json_is_refused(hub: Flask) -> None:
    client = lms(hub)
    response = client.client.post(
        "/api/v1/learning-events",
        data="{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {client.token}"},
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.get_json()["detail"]


def _events(app: Flask) -> list[LearningEvent]:
    with get_database(app).sessions() as session:
        return list(session.scalars(select(LearningEvent).order_by(LearningEvent.id)))


def test_operators_inspect_and_delete_quarantined_statements(hub: Flask) -> None:
    statement = xapi_completion("nobody")
    lms(hub).post("/learning-events", statement)
    [kept] = quarantined(hub)

    listed = cli(hub, "quarantine", "list").stdout
    shown = json.loads(cli(hub, "quarantine", "show", str(kept.id)).stdout)
    cli(hub, "quarantine", "delete", str(kept.id))
    missing = hub.test_cli_runner().invoke(main, ["quarantine", "show", str(kept.id)])

    assert statement["id"] in listed and "Unknown actor" in listed
    assert shown["statement"] == statement and shown["client"] == "lms"
    assert quarantined(hub) == []
    assert missing.exit_code != 0 and "no quarantined statement" in missing.output
    assert "learning_event.quarantine_deleted" in cli(hub, "audit", "export").stdout
