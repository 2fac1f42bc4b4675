"""Events are written in the transaction of the change, for the connectors in scope."""

from __future__ import annotations

from flask import Flask
from pytest_httpserver import HTTPServer

from scimserver.db import get_database
from scimserver.scim.api import REGISTRY_KEY
from scimserver.scim.store import ResourceStore
from scimserver.scim.writes import create_resource
from tests.conftest import ScimClient
from tests.connectors.outbox_support import (
    GROUP,
    HOOK_PATH,
    USER,
    MakeHub,
    Receiver,
    cli,
    hris,
    make_hub,
    new_user,
    outbox_rows,
    receiver,
    set_title,
    settle,
    webhook_toml,
)

__all__ = ["make_hub", "receiver"]

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PILOT_SCOPE = 'scope = { group = "Pilot cohort" }'


def _create_in_session(app: Flask, user_name: str, commit: bool) -> None:
    """Write a User through the SCIM write path in a session of our own."""
    users = app.extensions[REGISTRY_KEY].resource_type("User")
    with app.test_request_context(), get_database(app).sessions() as session:
        create_resource(
            ResourceStore(session, users), {"schemas": [USER], "userName": user_name}
        )
        if commit:
            session.commit()
        else:
            session.rollback()


def test_a_rolled_back_write_leaves_no_event(
    make_hub: MakeHub, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))

    _create_in_session(app, "rolled-back", commit=False)
    assert outbox_rows(app) == []
    _create_in_session(app, "committed", commit=True)

    [row] = outbox_rows(app)
    assert (row.event_type, row.status, row.attempts) == ("created", "pending", 0)


def test_a_refused_write_leaves_no_event(
    make_hub: MakeHub, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    scim = hris(app)
    new_user(scim, "bjensen")

    duplicate = scim.post("/Users", {"schemas": [USER], "userName": "BJensen"})

    assert duplicate.status_code == 409
    assert [row.event_type for row in outbox_rows(app)] == ["created"]


def test_without_connectors_nothing_is_queued(app: Flask, scim: ScimClient) -> None:
    new_user(scim, "bjensen")

    assert outbox_rows(app) == []


def test_bulk_queues_an_event_per_user_it_stored(
    make_hub: MakeHub, httpserver: HTTPServer
) -> None:
    """POSTs stored together each get their event; the one that failed none."""
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    scim = hris(app)
    new_user(scim, "taken")
    operations = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": f"u{n}",
            "data": {"schemas": [USER], "userName": "TAKEN" if n == 9 else f"u{n}"},
        }
        for n in range(12)
    ]
    body = {"schemas": [BULK_REQUEST], "Operations": operations}

    response = scim.post("/Bulk", body)

    done = response.get_json()["Operations"]
    stored = [op["location"].rsplit("/", 1)[1] for op in done if op["status"] == "201"]
    assert len(stored) == 11
    events = outbox_rows(app)[1:]
    assert [(row.event_type, row.resource_id) for row in events] == [
        ("created", user_id) for user_id in stored
    ]


def _group(scim: ScimClient, name: str, members: list[str]) -> str:
    body = {
        "schemas": [GROUP],
        "displayName": name,
        "members": [{"value": member} for member in members],
    }
    response = scim.post("/Groups", body)
    assert response.status_code == 201, response.get_json()
    group_id: str = response.get_json()["id"]
    return group_id


def _members(scim: ScimClient, group_id: str, op: str, user_id: str) -> None:
    operation = (
        {"op": "add", "path": "members", "value": [{"value": user_id}]}
        if op == "add"
        else {"op": "remove", "path": f'members[value eq "{user_id}"]'}
    )
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [operation],
    }
    assert scim.patch(f"/Groups/{group_id}", body).status_code == 200


def test_group_scope_delivers_members_only_and_follows_the_membership(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH), extra=PILOT_SCOPE))
    scim = hris(app)
    alice, bob, carol = (new_user(scim, name) for name in ("alice", "bob", "carol"))
    _group(scim, "Other team", [carol])
    pilot = _group(scim, "Pilot cohort", [alice])
    set_title(scim, alice, "In the pilot")
    set_title(scim, bob, "Not yet")
    _members(scim, pilot, "add", bob)
    _members(scim, pilot, "remove", alice)
    set_title(scim, alice, "Left the pilot")

    settle(app)

    def seen(subject: str) -> list[str]:
        events = receiver.events()
        return [e["type"].split(".", 2)[2] for e in events if e["subject"] == subject]

    assert seen(pilot) == ["group.created", "group.members", "group.members"]
    assert seen(alice) == ["user.created", "user.updated", "user.deleted"]
    assert seen(bob) == ["user.created"]
    left = [e for e in receiver.events() if e["type"] == "org.scimserver.user.deleted"]
    assert left[0]["data"]["detail"] == {"reason": "left_scope"}
    assert carol not in str(receiver.events())


def test_deleting_a_scope_member_reaches_the_connector(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH), extra=PILOT_SCOPE))
    scim = hris(app)
    alice, bob = new_user(scim, "alice"), new_user(scim, "bob")
    _group(scim, "Pilot cohort", [alice])

    scim.delete(f"/Users/{alice}")
    scim.delete(f"/Users/{bob}")
    settle(app)

    kinds = [(e["type"].rsplit(".", 1)[1], e["subject"]) for e in receiver.events()]
    assert kinds[-1] == ("deleted", alice)
    assert bob not in str(receiver.events())


def test_an_hr_end_date_applied_by_the_lifecycle_reaches_the_connector(
    make_hub: MakeHub, receiver: Receiver, httpserver: HTTPServer
) -> None:
    app = make_hub(webhook_toml(httpserver.url_for(HOOK_PATH)))
    scim = hris(app)
    lifecycle = "urn:scimserver:params:scim:schemas:extension:lifecycle:1.0:User"
    user_id = new_user(
        scim,
        "leaver",
        schemas=[USER, lifecycle],
        active=True,
        **{lifecycle: {"endDate": "2027-02-28T17:00:00Z"}},
    )

    result = cli(app, "lifecycle", "apply", "--now", "2027-03-01T09:00:00Z")
    settle(app)

    assert result.exit_code == 0
    last = receiver.events()[-1]
    assert (last["type"], last["subject"]) == ("org.scimserver.user.updated", user_id)
    assert last["data"]["resource"]["active"] is False
    assert last["data"]["detail"] == {"attributes": ["active"]}
