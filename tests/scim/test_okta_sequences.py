"""Okta's documented provisioning request sequences, replayed over HTTP.

The payloads follow Okta's SCIM 2.0 integration guide: the connection test, the
``userName eq`` lookup before create, profile pushes by PUT, deactivation by PATCH,
and group pushes that rename groups and add or remove single members.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.conftest import ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def okta_user(
    user_name: str, given: str = "Test", family: str = "User"
) -> dict[str, Any]:
    return {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


def by_user_name(scim: ScimClient, user_name: str) -> dict[str, Any]:
    query = quote(f'userName eq "{user_name}"')
    response = scim.get(f"/Users?filter={query}&startIndex=1&count=100")
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def test_connection_test_lists_users(scim: ScimClient) -> None:
    response = scim.get("/Users?startIndex=1&count=2")

    assert response.status_code == 200
    body = response.get_json()
    assert body["totalResults"] == 0
    assert body["Resources"] == []


def test_user_lifecycle(scim: ScimClient) -> None:
    user_name = "test.user@okta.local"
    assert by_user_name(scim, user_name)["totalResults"] == 0

    created = scim.post("/Users", okta_user(user_name))
    assert created.status_code == 201, created.get_json()
    user_id = created.get_json()["id"]
    assert created.get_json()["active"] is True

    found = by_user_name(scim, user_name)
    assert found["totalResults"] == 1
    assert found["Resources"][0]["id"] == user_id

    pushed = okta_user(user_name, given="Another")
    pushed["id"] = user_id
    replaced = scim.put(f"/Users/{user_id}", pushed)
    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.get_json()["name"]["givenName"] == "Another"

    deactivate = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    patched = scim.patch(f"/Users/{user_id}", deactivate)
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["active"] is False
    assert scim.get(f"/Users/{user_id}").get_json()["active"] is False


def test_duplicate_create_is_409(scim: ScimClient) -> None:
    scim.post("/Users", okta_user("dup@okta.local"))

    response = scim.post("/Users", okta_user("dup@okta.local"))

    assert response.status_code == 409
    assert response.get_json()["scimType"] == "uniqueness"


def test_group_push(scim: ScimClient) -> None:
    alice = scim.post("/Users", okta_user("alice@okta.local")).get_json()["id"]
    bob = scim.post("/Users", okta_user("bob@okta.local")).get_json()["id"]

    created = scim.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}
    )
    assert created.status_code == 201, created.get_json()
    group_id = created.get_json()["id"]

    rename = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "value": {"id": group_id, "displayName": "Renamed"}}
        ],
    }
    assert scim.patch(f"/Groups/{group_id}", rename).status_code == 200

    add = {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "add",
                "path": "members",
                "value": [
                    {"value": alice, "display": "alice@okta.local"},
                    {"value": bob, "display": "bob@okta.local"},
                ],
            }
        ],
    }
    assert scim.patch(f"/Groups/{group_id}", add).status_code == 200

    remove = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": f'members[value eq "{alice}"]'}],
    }
    assert scim.patch(f"/Groups/{group_id}", remove).status_code == 200

    group = scim.get(f"/Groups/{group_id}").get_json()
    assert group["displayName"] == "Renamed"
    assert [m["value"] for m in group["members"]] == [bob]

    listed = scim.get(
        "/Groups?filter="
        + quote('displayName eq "Renamed"')
        + "&startIndex=1&count=100"
    ).get_json()
    assert [g["id"] for g in listed["Resources"]] == [group_id]

    assert scim.delete(f"/Groups/{group_id}").status_code == 204
    assert scim.get(f"/Groups/{group_id}").status_code == 404
