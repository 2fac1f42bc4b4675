"""Groups, members, and the derived ``groups`` of a User over HTTP."""

from __future__ import annotations

from typing import Any

from tests.conftest import ScimClient
from tests.scim.test_api_users import PATCH_OP, assert_error, create_user

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def create_group(scim: ScimClient, name: str, members: list[str] | None = None) -> Any:
    payload: dict[str, Any] = {"schemas": [GROUP], "displayName": name}
    if members:
        payload["members"] = [{"value": member} for member in members]
    response = scim.post("/Groups", payload)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def member_ids(group: dict[str, Any]) -> set[str]:
    return {member["value"] for member in group.get("members", [])}


def patch(scim: ScimClient, group_id: str, *operations: dict[str, Any]) -> Any:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    return scim.patch(f"/Groups/{group_id}", body)


def test_group_with_members_and_nested_group(scim: ScimClient) -> None:
    alice = create_user(scim, "alice")["id"]
    team = create_group(scim, "Team", [alice])

    parent = create_group(scim, "Division", [team["id"]])

    assert parent["members"] == [
        {
            "value": team["id"],
            "$ref": f"http://scim.test/scim/v2/Groups/{team['id']}",
            "type": "Group",
        }
    ]


def test_member_display_is_returned_on_request(scim: ScimClient) -> None:
    alice = create_user(scim, "alice", displayName="Alice A")["id"]
    bob = create_user(scim, "bob")["id"]
    team = create_group(scim, "Team", [alice, bob])

    response = scim.get(f"/Groups/{team['id']}?attributes=members.display")

    displays = {m["display"] for m in response.get_json()["members"]}
    assert displays == {"Alice A", "bob"}


def test_user_groups_attribute_is_derived(scim: ScimClient) -> None:
    alice = create_user(scim, "alice")["id"]
    team = create_group(scim, "Team", [alice])

    user = scim.get(f"/Users/{alice}").get_json()

    assert user["groups"] == [
        {
            "value": team["id"],
            "$ref": f"http://scim.test/scim/v2/Groups/{team['id']}",
            "display": "Team",
            "type": "direct",
        }
    ]


def test_patch_adds_and_removes_single_members(scim: ScimClient) -> None:
    alice = create_user(scim, "alice")["id"]
    bob = create_user(scim, "bob")["id"]
    group = create_group(scim, "Team", [alice])

    added = patch(
        scim, group["id"], {"op": "add", "path": "members", "value": [{"value": bob}]}
    )
    removed = patch(
        scim, group["id"], {"op": "remove", "path": f'members[value eq "{alice}"]'}
    )

    assert added.status_code == 200, added.get_json()
    assert member_ids(added.get_json()) == {alice, bob}
    assert removed.status_code == 200, removed.get_json()
    assert member_ids(removed.get_json()) == {bob}
    assert removed.get_json()["meta"]["version"] != group["meta"]["version"]


def test_patch_replace_members_and_remove_all(scim: ScimClient) -> None:
    alice = create_user(scim, "alice")["id"]
    bob = create_user(scim, "bob")["id"]
    group = create_group(scim, "Team", [alice])

    replaced = patch(
        scim,
        group["id"],
        {"op": "replace", "path": "members", "value": [{"value": bob}]},
    )
    emptied = patch(scim, group["id"], {"op": "remove", "path": "members"})

    assert member_ids(replaced.get_json()) == {bob}
    assert member_ids(emptied.get_json()) == set()


def test_unknown_member_is_rejected_and_nothing_changes(scim: ScimClient) -> None:
    alice = create_user(scim, "alice")["id"]
    group = create_group(scim, "Team", [alice])

    response = patch(
        scim,
        group["id"],
        {"op": "replace", "path": "displayName", "value": "Renamed"},
        {"op": "add", "path": "members", "value": [{"value": "missing-id"}]},
    )

    assert_error(response, 400, "invalidValue")
    unchanged = scim.get(f"/Groups/{group['id']}").get_json()
    assert unchanged["displayName"] == "Team"
    assert member_ids(unchanged) == {alice}


def test_excluded_members(scim: ScimClient) -> None:
    alice = create_user(scim, "alice")["id"]
    group = create_group(scim, "Team", [alice])

    body = scim.get(f"/Groups/{group['id']}?excludedAttributes=members").get_json()

    assert "members" not in body
    assert body["displayName"] == "Team"


def test_filter_groups_by_member(scim: ScimClient) -> None:
    alice = create_user(scim, "alice")["id"]
    create_group(scim, "Team", [alice])
    create_group(scim, "Other")

    body = scim.get(f'/Groups?filter=members.value eq "{alice}"').get_json()

    assert [g["displayName"] for g in body["Resources"]] == ["Team"]


def test_deleting_a_user_removes_its_memberships(scim: ScimClient) -> None:
    alice = create_user(scim, "alice")["id"]
    group = create_group(scim, "Team", [alice])

    scim.delete(f"/Users/{alice}")

    assert "members" not in scim.get(f"/Groups/{group['id']}").get_json()
