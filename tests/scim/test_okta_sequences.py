"""Okta's documented provisioning request sequences, replayed over HTTP.

The payloads follow Okta's SCIM 2.0 integration guide: the connection test, the
``userName eq`` lookup before create, profile pushes by PUT, deactivation by PATCH,
group pushes that rename groups and add or remove single members, and the schema
import from ``/Schemas``. The client runs under the ``okta`` profile unless a test
says otherwise.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scimserver.policy.client_settings import Profile
from tests.conftest import ScimClient
from tests.support.clients import profile_client

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIFECYCLE = "urn:scimserver:params:scim:schemas:extension:lifecycle:1.0:User"


@pytest.fixture
def okta(app: Flask, client: FlaskClient) -> ScimClient:
    return profile_client(app, client, Profile.OKTA)


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


def test_connection_test_lists_users(okta: ScimClient) -> None:
    response = okta.get("/Users?startIndex=1&count=2")

    assert response.status_code == 200
    body = response.get_json()
    assert body["totalResults"] == 0
    assert body["Resources"] == []


def test_user_lifecycle(okta: ScimClient) -> None:
    user_name = "test.user@okta.local"
    assert by_user_name(okta, user_name)["totalResults"] == 0

    created = okta.post("/Users", okta_user(user_name))
    assert created.status_code == 201, created.get_json()
    user_id = created.get_json()["id"]
    assert created.get_json()["active"] is True

    found = by_user_name(okta, user_name)
    assert found["totalResults"] == 1
    assert found["Resources"][0]["id"] == user_id

    pushed = okta_user(user_name, given="Another")
    pushed["id"] = user_id
    replaced = okta.put(f"/Users/{user_id}", pushed)
    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.get_json()["name"]["givenName"] == "Another"

    deactivate = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    patched = okta.patch(f"/Users/{user_id}", deactivate)
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["active"] is False
    assert okta.get(f"/Users/{user_id}").get_json()["active"] is False


def test_duplicate_create_is_409(okta: ScimClient) -> None:
    okta.post("/Users", okta_user("dup@okta.local"))

    response = okta.post("/Users", okta_user("dup@okta.local"))

    assert response.status_code == 409
    assert response.get_json()["scimType"] == "uniqueness"


def test_group_push(okta: ScimClient) -> None:
    alice = okta.post("/Users", okta_user("alice@okta.local")).get_json()["id"]
    bob = okta.post("/Users", okta_user("bob@okta.local")).get_json()["id"]

    created = okta.post(
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
    assert okta.patch(f"/Groups/{group_id}", rename).status_code == 200

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
    assert okta.patch(f"/Groups/{group_id}", add).status_code == 200

    remove = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": f'members[value eq "{alice}"]'}],
    }
    assert okta.patch(f"/Groups/{group_id}", remove).status_code == 200

    group = okta.get(f"/Groups/{group_id}").get_json()
    assert group["displayName"] == "Renamed"
    assert [m["value"] for m in group["members"]] == [bob]

    listed = okta.get(
        "/Groups?filter="
        + quote('displayName eq "Renamed"')
        + "&startIndex=1&count=100"
    ).get_json()
    assert [g["id"] for g in listed["Resources"]] == [group_id]

    assert okta.delete(f"/Groups/{group_id}").status_code == 204
    assert okta.get(f"/Groups/{group_id}").status_code == 404


def deactivate(okta: ScimClient, user_id: str, active: bool = False) -> Any:
    operation = {"op": "replace", "value": {"active": active}}
    return okta.patch(
        f"/Users/{user_id}", {"schemas": [PATCH_OP], "Operations": [operation]}
    )


def test_profile_push_without_active_keeps_a_deactivated_user_inactive(
    okta: ScimClient,
) -> None:
    user_id = okta.post("/Users", okta_user("quiet@okta.local")).get_json()["id"]
    assert deactivate(okta, user_id).status_code == 200

    pushed = okta_user("quiet@okta.local", given="Renamed")
    del pushed["active"]
    replaced = okta.put(f"/Users/{user_id}", {**pushed, "id": user_id})

    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.get_json()["name"]["givenName"] == "Renamed"
    assert replaced.get_json()["active"] is False


def test_standard_put_without_active_leaves_it_unassigned(scim: ScimClient) -> None:
    user_id = scim.post("/Users", okta_user("plain@okta.local")).get_json()["id"]
    pushed = okta_user("plain@okta.local")
    del pushed["active"]

    replaced = scim.put(f"/Users/{user_id}", pushed)

    assert replaced.status_code == 200, replaced.get_json()
    assert "active" not in replaced.get_json()


def test_reactivation_and_reassignment_of_a_deactivated_user(
    okta: ScimClient,
) -> None:
    user_name = "back@okta.local"
    user_id = okta.post("/Users", okta_user(user_name)).get_json()["id"]
    deactivate(okta, user_id)

    reactivated = deactivate(okta, user_id, active=True)
    deactivate(okta, user_id)
    reassigned = okta.post("/Users", okta_user(user_name, given="Back"))

    assert reactivated.get_json()["active"] is True
    assert reassigned.status_code == 201, reassigned.get_json()
    assert reassigned.get_json()["id"] == user_id
    assert reassigned.get_json()["active"] is True
    assert reassigned.get_json()["name"]["givenName"] == "Back"
    assert by_user_name(okta, user_name)["totalResults"] == 1


def test_schema_import_reads_attributes_of_every_user_schema(
    okta: ScimClient,
) -> None:
    response = okta.get("/Schemas")

    assert response.status_code == 200
    schemas = {s["id"]: s for s in response.get_json()["Resources"]}
    assert {USER, ENTERPRISE, LIFECYCLE} <= schemas.keys()
    for schema in schemas.values():
        for attribute in schema["attributes"]:
            assert {"name", "type", "multiValued", "mutability"} <= attribute.keys()
    lifecycle = {a["name"]: a["type"] for a in schemas[LIFECYCLE]["attributes"]}
    assert lifecycle == {"startDate": "dateTime", "endDate": "dateTime"}
    one = okta.get(f"/Schemas/{ENTERPRISE}").get_json()
    assert one["id"] == ENTERPRISE
