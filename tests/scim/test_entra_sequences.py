"""Microsoft Entra ID's documented provisioning requests, replayed over HTTP.

The requests follow the shapes of Microsoft's SCIM endpoint guide and of its
SCIM 2.0 compliance notes: PascalCase ``op``, the lookups by ``userName``,
``externalId`` and work email before a create, path-less PATCH values keyed by
attribute paths, the enterprise ``manager`` as a bare id, group reads without
members, member removal by value list, and the older job's ``"False"`` strings
and ``[{"value": ...}]`` single values. The client runs under the ``entra``
profile unless a test says otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scimserver.policy.client_settings import Deprovisioning, Profile
from tests.conftest import ScimClient
from tests.scim.test_api_users import assert_error
from tests.support.clients import profile_client

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
AD_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def entra(app: Flask, client: FlaskClient) -> ScimClient:
    return profile_client(app, client, Profile.ENTRA)


def entra_user(suffix: str = "ab6490ee") -> dict[str, Any]:
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": f"0a21f0f2-{suffix}",
        "userName": f"Test_User_{suffix}@contoso.com",
        "active": True,
        "emails": [
            {"primary": True, "type": "work", "value": f"Test_User_{suffix}@ex.com"}
        ],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
        "roles": [],
    }


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def found(scim: ScimClient, path: str, expression: str) -> list[dict[str, Any]]:
    response = scim.get(f"{path}?filter={quote(expression)}")
    assert response.status_code == 200, response.get_json()
    resources: list[dict[str, Any]] = response.get_json()["Resources"]
    return resources


def create(scim: ScimClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = scim.post(path, body)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def test_user_is_looked_up_created_and_found_by_each_matching_attribute(
    entra: ScimClient,
) -> None:
    payload = entra_user()
    assert found(entra, "/Users", f'userName eq "{payload["userName"]}"') == []

    user = create(entra, "/Users", payload)

    for expression in (
        f'userName eq "{payload["userName"]}"',
        f'externalId eq "{payload["externalId"]}"',
        f'emails[type eq "work"].value eq "{payload["emails"][0]["value"]}"',
    ):
        assert [u["id"] for u in found(entra, "/Users", expression)] == [user["id"]]
    assert "meta" in user and user["meta"]["resourceType"] == "User"
    assert "roles" not in user


def test_update_multi_valued_and_single_valued_properties(entra: ScimClient) -> None:
    user = create(entra, "/Users", entra_user())

    multi = entra.patch(
        f"/Users/{user['id']}",
        patch(
            {
                "op": "Replace",
                "path": 'emails[type eq "work"].value',
                "value": "updatedEmail@contoso.com",
            },
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamily"},
        ),
    )
    single = entra.patch(
        f"/Users/{user['id']}",
        patch({"op": "Replace", "path": "userName", "value": "renamed@contoso.com"}),
    )

    assert multi.status_code == 200, multi.get_json()
    assert single.status_code == 200, single.get_json()
    body = single.get_json()
    assert body["emails"][0]["value"] == "updatedEmail@contoso.com"
    assert body["emails"][0]["primary"] is True
    assert body["name"]["familyName"] == "updatedFamily"
    assert body["userName"] == "renamed@contoso.com"


def test_path_less_replace_keyed_by_attribute_paths(entra: ScimClient) -> None:
    user = create(entra, "/Users", entra_user())
    value = {
        "displayName": "Pvlo",
        'emails[type eq "work"].value': "pvlo@contoso.com",
        "name.givenName": "Gtfd",
        "name.familyName": "Pkqf",
        "externalId": "Eqpj",
        f"{ENTERPRISE}:employeeNumber": "Eqpj",
    }

    response = entra.patch(
        f"/Users/{user['id']}", patch({"op": "replace", "value": value})
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["displayName"] == "Pvlo"
    assert body["emails"][0]["value"] == "pvlo@contoso.com"
    assert body["name"] == {
        "formatted": "givenName familyName",
        "givenName": "Gtfd",
        "familyName": "Pkqf",
    }
    assert body["externalId"] == "Eqpj"
    assert body[ENTERPRISE]["employeeNumber"] == "Eqpj"


def test_manager_is_sent_as_a_bare_id(entra: ScimClient) -> None:
    manager = create(entra, "/Users", entra_user("manager1"))
    report = create(entra, "/Users", entra_user("report01"))

    response = entra.patch(
        f"/Users/{report['id']}",
        patch({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager["id"]}),
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()[ENTERPRISE]["manager"] == {"value": manager["id"]}


@pytest.mark.parametrize(
    "value", ["False", "false", False], ids=["False", "lower-false", "boolean"]
)
def test_disable_user_with_a_boolean_or_the_older_string(
    entra: ScimClient, value: object
) -> None:
    user = create(entra, "/Users", entra_user())

    response = entra.patch(
        f"/Users/{user['id']}",
        patch({"op": "Replace", "path": "active", "value": value}),
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["active"] is False
    assert found(entra, "/Users", "active eq false")[0]["id"] == user["id"]


def test_string_booleans_inside_values_and_resources(entra: ScimClient) -> None:
    payload = entra_user()
    payload["active"] = "True"
    payload["emails"][0]["primary"] = "True"
    user = create(entra, "/Users", payload)

    response = entra.patch(
        f"/Users/{user['id']}",
        patch({"op": "Replace", "value": {"active": "False"}}),
    )

    assert user["active"] is True and user["emails"][0]["primary"] is True
    assert response.get_json()["active"] is False


def test_the_older_single_value_list_is_unwrapped(entra: ScimClient) -> None:
    user = create(entra, "/Users", entra_user())

    response = entra.patch(
        f"/Users/{user['id']}",
        patch({"op": "Add", "path": "nickName", "value": [{"value": "Babs"}]}),
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["nickName"] == "Babs"


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "Replace", "path": "active", "value": "False"}, "invalidValue"),
        ({"op": "Replace", "value": {"active": "True"}}, "invalidValue"),
        ({"op": "Add", "path": "nickName", "value": [{"value": "B"}]}, "invalidValue"),
    ],
)
def test_the_standard_profile_refuses_entra_quirks(
    scim: ScimClient, operation: dict[str, Any], scim_type: str
) -> None:
    user = create(scim, "/Users", entra_user())

    response = scim.patch(f"/Users/{user['id']}", patch(operation))

    assert_error(response, 400, scim_type)


def test_the_standard_profile_refuses_string_booleans_in_a_post(
    scim: ScimClient,
) -> None:
    payload = {**entra_user(), "active": "True"}

    assert_error(scim.post("/Users", payload), 400, "invalidValue")


def test_group_sequence(entra: ScimClient) -> None:
    alice = create(entra, "/Users", entra_user("alice001"))
    bob = create(entra, "/Users", entra_user("bob00001"))
    group = create(
        entra,
        "/Groups",
        {
            "schemas": [GROUP, AD_GROUP],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"},
        },
    )
    path = f"/Groups/{group['id']}"

    renamed = entra.patch(
        path, patch({"op": "Replace", "path": "displayName", "value": "renamed"})
    )
    added = entra.patch(
        path,
        patch(
            {
                "op": "Add",
                "path": "members",
                "value": [
                    {"$ref": None, "value": alice["id"]},
                    {"$ref": None, "value": bob["id"]},
                ],
            }
        ),
    )
    removed = entra.patch(
        path,
        patch(
            {
                "op": "Remove",
                "path": "members",
                "value": [{"$ref": None, "value": alice["id"]}],
            }
        ),
    )
    read = entra.get(f"{path}?excludedAttributes=members")
    listed = entra.get(
        "/Groups?excludedAttributes=members&filter=" + quote('displayName eq "renamed"')
    )

    # RFC 7644 §3.5.2: member-only changes answer 204 for Entra, with the ETag.
    assert [r.status_code for r in (renamed, added, removed)] == [200, 204, 204]
    assert added.get_data() == b"" and removed.headers["ETag"]
    assert AD_GROUP not in group["schemas"]
    assert "members" not in read.get_json()
    assert read.get_json()["displayName"] == "renamed"
    assert [g["id"] for g in listed.get_json()["Resources"]] == [group["id"]]
    assert "members" not in listed.get_json()["Resources"][0]
    members = entra.get(path).get_json()["members"]
    assert [m["value"] for m in members] == [bob["id"]]


def test_older_member_removal_by_value_filter(entra: ScimClient) -> None:
    alice = create(entra, "/Users", entra_user("alice001"))
    group = create(
        entra,
        "/Groups",
        {"schemas": [GROUP], "displayName": "g", "members": [{"value": alice["id"]}]},
    )

    response = entra.patch(
        f"/Groups/{group['id']}",
        patch({"op": "Remove", "path": f'members[value eq "{alice["id"]}"]'}),
    )

    assert response.status_code == 204, response.get_data(as_text=True)
    assert "members" not in entra.get(f"/Groups/{group['id']}").get_json()


@pytest.mark.parametrize(
    ("deprovision", "after_delete"),
    [(Deprovisioning.HARD, 404), (Deprovisioning.SOFT, 200)],
)
def test_soft_delete_then_delete_weeks_later(
    app: Flask,
    client: FlaskClient,
    deprovision: Deprovisioning,
    after_delete: int,
) -> None:
    entra = profile_client(app, client, Profile.ENTRA, deprovision)
    user = create(entra, "/Users", entra_user())
    path = f"/Users/{user['id']}"

    disabled = entra.patch(
        path, patch({"op": "Replace", "path": "active", "value": False})
    )
    deleted = entra.delete(path)
    read = entra.get(path)

    assert disabled.status_code == 200
    assert deleted.status_code == 204
    assert read.status_code == after_delete
    if after_delete == 200:
        assert read.get_json()["active"] is False


def test_a_returning_employee_is_rehired_not_duplicated(
    app: Flask, client: FlaskClient
) -> None:
    entra = profile_client(app, client, Profile.ENTRA, Deprovisioning.SOFT)
    user = create(entra, "/Users", entra_user())
    assert entra.delete(f"/Users/{user['id']}").status_code == 204

    again = entra_user()
    again["name"]["familyName"] = "Married"
    rehired = create(entra, "/Users", again)

    assert rehired["id"] == user["id"]
    assert rehired["active"] is True
    assert rehired["name"]["familyName"] == "Married"
    assert rehired["meta"]["created"] == user["meta"]["created"]
    listed = entra.get("/Users?count=0").get_json()
    assert listed["totalResults"] == 1


def test_a_future_start_date_keeps_an_entra_user_inactive(entra: ScimClient) -> None:
    lifecycle = "urn:scimserver:params:scim:schemas:extension:lifecycle:1.0:User"
    start = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = entra_user()
    payload["schemas"] = [*payload["schemas"], lifecycle]
    payload[lifecycle] = {"startDate": start}

    user = create(entra, "/Users", payload)

    assert user["active"] is False
    assert user[lifecycle] == {"startDate": start}
