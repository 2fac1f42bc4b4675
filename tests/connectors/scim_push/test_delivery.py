"""The SCIM push connector against a real downstream scimserver on 127.0.0.1."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask

from scimserver.connectors.base import DeliveryOutcome, EventType, OutboundEvent
from scimserver.connectors.links import find_link
from scimserver.connectors.mapping_versions import activate, store_version
from scimserver.connectors.scim_push import ScimPushConnector
from scimserver.db import get_database
from scimserver.policy.pseudonym_register import user_for
from tests.conftest import ScimClient
from tests.connectors.scim_push.downstream import Downstream, MakeConnector

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def make_event(
    event_type: EventType,
    resource: dict[str, Any],
    *,
    resource_type: str = "User",
    payload: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> OutboundEvent:
    """An event as the delivery worker builds it, the payload as released."""
    return OutboundEvent(
        id=str(uuid.uuid4()),
        connector="lms",
        event_type=event_type,
        resource_type=resource_type,
        resource_id=resource["id"],
        payload=resource if payload is None else payload,
        detail=detail or {},
    )


def deliver(app: Flask, connector: ScimPushConnector, event: OutboundEvent) -> Any:
    with app.app_context():
        return connector.deliver(event)


def hub_user(scim: ScimClient, user_name: str, **attributes: Any) -> dict[str, Any]:
    body = {"schemas": [USER], "userName": user_name, **attributes}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def downstream_id(app: Flask, resource_type: str, resource_id: str) -> str:
    with get_database(app).sessions() as session:
        link = find_link(session, "lms", resource_type, resource_id)
        assert link is not None
        return link.downstream_id


def test_first_sight_creates_the_user_and_remembers_its_id(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    user = hub_user(
        scim,
        "bjensen",
        name={"givenName": "Barbara", "familyName": "Jensen"},
        emails=[{"value": "bjensen@example.com", "type": "work", "primary": True}],
    )

    outcome = deliver(app, make_connector(), make_event("created", user))

    assert outcome == DeliveryOutcome("delivered")
    pushed = downstream.get(f"/Users/{downstream_id(app, 'User', user['id'])}")
    assert pushed["userName"] == "bjensen"
    assert pushed["name"]["familyName"] == "Jensen"
    assert pushed["emails"][0]["value"] == "bjensen@example.com"
    assert pushed["id"] != user["id"]
    assert len(downstream.users()) == 1


def test_update_patches_changes_and_removes_what_is_no_longer_released(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector()
    user = hub_user(scim, "bjensen", title="Tour Guide", nickName="Babs")
    deliver(app, connector, make_event("created", user))
    changed = {k: v for k, v in user.items() if k != "nickName"}
    changed["title"] = "Chief Guide"

    outcome = deliver(app, connector, make_event("updated", user, payload=changed))

    assert outcome.status == "delivered"
    pushed = downstream.get(f"/Users/{downstream_id(app, 'User', user['id'])}")
    assert pushed["title"] == "Chief Guide"
    assert "nickName" not in pushed
    assert len(downstream.users()) == 1


def test_put_update_replaces_the_whole_user(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector(update="put")
    user = hub_user(scim, "bjensen", title="Tour Guide", nickName="Babs")
    deliver(app, connector, make_event("created", user))
    changed = {k: v for k, v in user.items() if k not in ("nickName", "title")}

    outcome = deliver(app, connector, make_event("updated", user, payload=changed))

    assert outcome.status == "delivered"
    pushed = downstream.get(f"/Users/{downstream_id(app, 'User', user['id'])}")
    assert "nickName" not in pushed and "title" not in pushed
    assert pushed["userName"] == "bjensen"


def test_leave_deactivates_and_a_return_reactivates(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector()
    user = hub_user(scim, "bjensen")
    deliver(app, connector, make_event("created", user))
    path = f"/Users/{downstream_id(app, 'User', user['id'])}"

    left = deliver(app, connector, make_event("deleted", user, payload={}))
    inactive = downstream.get(path)["active"]
    back = deliver(app, connector, make_event("updated", user))

    assert (left.status, back.status) == ("delivered", "delivered")
    assert inactive is False
    assert downstream.get(path)["active"] is True


def test_leave_deletes_when_configured(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector(on_leave="delete")
    user = hub_user(scim, "bjensen")
    deliver(app, connector, make_event("created", user))
    path = f"/Users/{downstream_id(app, 'User', user['id'])}"

    outcome = deliver(app, connector, make_event("deleted", user, payload={}))

    assert outcome.status == "delivered"
    assert downstream.status(path) == 404
    with get_database(app).sessions() as session:
        assert find_link(session, "lms", "User", user["id"]) is None


def test_user_the_connector_may_no_longer_see_leaves(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector()
    user = hub_user(scim, "bjensen")
    deliver(app, connector, make_event("created", user))

    outcome = deliver(app, connector, make_event("updated", user, payload={}))

    assert outcome.status == "delivered"
    assert downstream.users()[0]["active"] is False


def test_conflict_on_create_links_the_existing_user_by_user_name(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    existing = downstream.post(
        "/Users", {"schemas": [USER], "userName": "BJensen", "title": "Old title"}
    )
    user = hub_user(scim, "bjensen", title="Tour Guide")

    outcome = deliver(app, make_connector(), make_event("created", user))

    assert outcome.status == "delivered"
    assert downstream_id(app, "User", user["id"]) == existing["id"]
    assert [u["title"] for u in downstream.users()] == ["Tour Guide"]


def test_update_of_a_user_deleted_downstream_creates_it_again(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector()
    user = hub_user(scim, "bjensen")
    deliver(app, connector, make_event("created", user))
    gone = downstream_id(app, "User", user["id"])
    assert downstream.http.delete(f"{downstream.url}/Users/{gone}").status_code == 204

    outcome = deliver(app, connector, make_event("updated", user))

    assert outcome.status == "delivered"
    assert downstream_id(app, "User", user["id"]) != gone
    assert [u["userName"] for u in downstream.users()] == ["bjensen"]


def test_consent_withdrawal_removes_the_consented_attribute(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector()
    phone = [{"value": "+1 555 0100", "type": "work"}]
    user = hub_user(scim, "bjensen", phoneNumbers=phone)
    deliver(app, connector, make_event("created", user))
    released = {k: v for k, v in user.items() if k != "phoneNumbers"}
    detail = {"purpose": "eap_referral", "removal": "remove_attributes"}

    outcome = deliver(
        app,
        connector,
        make_event("consent_withdrawn", user, payload=released, detail=detail),
    )

    assert outcome.status == "delivered"
    pushed = downstream.users()[0]
    assert "phoneNumbers" not in pushed
    assert pushed.get("active") is not False


def test_consent_withdrawal_deprovisions_when_configured(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector()
    user = hub_user(scim, "bjensen")
    deliver(app, connector, make_event("created", user))
    detail = {"purpose": "eap_referral", "removal": "deprovision"}

    outcome = deliver(
        app, connector, make_event("consent_withdrawn", user, detail=detail)
    )

    assert outcome.status == "delivered"
    assert downstream.users()[0]["active"] is False


def hub_group(scim: ScimClient, name: str, *members: dict[str, Any]) -> dict[str, Any]:
    body = {
        "schemas": [GROUP],
        "displayName": name,
        "members": [{"value": member["id"]} for member in members],
    }
    response = scim.post("/Groups", body)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def downstream_members(downstream: Downstream, group_id: str) -> set[str]:
    group = downstream.get(f"/Groups/{group_id}")
    return {member["value"] for member in group.get("members", [])}


def push_users(
    app: Flask, connector: ScimPushConnector, *users: dict[str, Any]
) -> list[str]:
    for user in users:
        assert deliver(app, connector, make_event("created", user)).status == (
            "delivered"
        )
    return [downstream_id(app, "User", user["id"]) for user in users]


def test_group_is_created_with_the_downstream_ids_of_its_members(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector()
    alice, bob = hub_user(scim, "alice"), hub_user(scim, "bob")
    down_alice, down_bob = push_users(app, connector, alice, bob)
    group = hub_group(scim, "Pilot cohort", alice, bob)

    outcome = deliver(
        app, connector, make_event("created", group, resource_type="Group")
    )

    assert outcome.status == "delivered"
    down_group = downstream_id(app, "Group", group["id"])
    assert downstream_members(downstream, down_group) == {down_alice, down_bob}
    assert downstream.get(f"/Groups/{down_group}")["displayName"] == "Pilot cohort"


def test_membership_changes_are_pushed_incrementally(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector()
    alice, bob, carol = (hub_user(scim, name) for name in ("alice", "bob", "carol"))
    _down_alice, down_bob, down_carol = push_users(app, connector, alice, bob, carol)
    group = hub_group(scim, "Pilot cohort", alice, bob)
    deliver(app, connector, make_event("created", group, resource_type="Group"))
    down_group = downstream_id(app, "Group", group["id"])
    # Another source adds a member downstream; an incremental push keeps it.
    outsider = downstream.post("/Users", {"schemas": [USER], "userName": "ext"})
    downstream.http.patch(
        f"{downstream.url}/Groups/{down_group}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": outsider["id"]}]}
            ],
        },
    ).raise_for_status()

    detail = {"added": [carol["id"]], "removed": [alice["id"]]}
    outcome = deliver(
        app,
        connector,
        make_event("members", group, resource_type="Group", detail=detail),
    )

    assert outcome.status == "delivered"
    assert downstream_members(downstream, down_group) == {
        down_bob,
        down_carol,
        outsider["id"],
    }


def test_membership_event_without_ids_reconciles_the_difference(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector()
    alice, bob = hub_user(scim, "alice"), hub_user(scim, "bob")
    _down_alice, down_bob = push_users(app, connector, alice, bob)
    group = hub_group(scim, "Pilot cohort", alice)
    deliver(app, connector, make_event("created", group, resource_type="Group"))
    changed = scim.patch(
        f"/Groups/{group['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
                {"op": "remove", "path": f'members[value eq "{alice["id"]}"]'},
            ],
        },
    )
    assert changed.status_code in (200, 204)

    detail = {"attributes": ["members"]}
    outcome = deliver(
        app,
        connector,
        make_event("members", group, resource_type="Group", detail=detail),
    )

    assert outcome.status == "delivered"
    down_group = downstream_id(app, "Group", group["id"])
    assert downstream_members(downstream, down_group) == {down_bob}


def test_member_pushed_after_its_group_joins_the_group_downstream(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector()
    alice = hub_user(scim, "alice")
    group = hub_group(scim, "Pilot cohort", alice)
    deliver(app, connector, make_event("created", group, resource_type="Group"))
    down_group = downstream_id(app, "Group", group["id"])
    assert downstream_members(downstream, down_group) == set()

    (down_alice,) = push_users(app, connector, alice)

    assert downstream_members(downstream, down_group) == {down_alice}


def test_deleted_group_is_deleted_downstream(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    connector = make_connector()
    group = hub_group(scim, "Pilot cohort")
    deliver(app, connector, make_event("created", group, resource_type="Group"))
    path = f"/Groups/{downstream_id(app, 'Group', group['id'])}"

    outcome = deliver(
        app, connector, make_event("deleted", group, resource_type="Group", payload={})
    )

    assert outcome.status == "delivered"
    assert downstream.status(path) == 404


def test_active_mapping_shapes_the_push_and_registers_the_pseudonym(
    app: Flask, scim: ScimClient, downstream: Downstream, make_connector: MakeConnector
) -> None:
    mapping = {
        "User": [
            {"to": "userName", "transform": "pseudonym"},
            {"to": "title", "transform": "constant", "value": "Learner"},
        ]
    }
    with get_database(app).sessions() as session:
        store_version(session, "lms", mapping, "test")
        activate(session, "lms", 1)
        session.commit()
    user = hub_user(scim, "bjensen", nickName="Babs")

    outcome = deliver(app, make_connector(), make_event("created", user))

    assert outcome.status == "delivered"
    (pushed,) = downstream.users()
    assert pushed["userName"].startswith("pid-")
    assert (pushed["title"], pushed.get("nickName")) == ("Learner", None)
    with get_database(app).sessions() as session:
        assert user_for(session, "lms", pushed["userName"]) == user["id"]
