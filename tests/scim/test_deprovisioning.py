"""DELETE per client (hard or soft) and the rehire rule of the profiles."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from scimserver.db import get_database
from scimserver.models import Resource
from scimserver.policy.client_settings import Deprovisioning, Profile
from tests.conftest import ScimClient
from tests.scim.test_api_users import assert_error, create_user, user_payload
from tests.support.clients import profile_client

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def soft(app: Flask, client: FlaskClient) -> ScimClient:
    return profile_client(app, client, Profile.STANDARD, Deprovisioning.SOFT)


def create_group(scim: ScimClient, *member_ids: str) -> Any:
    members = [{"value": member_id} for member_id in member_ids]
    body = {"schemas": [GROUP], "displayName": "team", "members": members}
    response = scim.post("/Groups", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deprovisioned_at(app: Flask, resource_id: str) -> Any:
    with get_database(app).sessions() as session:
        return session.scalar(
            select(Resource.deprovisioned).where(Resource.id == resource_id)
        )


def set_active(scim: ScimClient, user_id: str, active: bool) -> Any:
    operation = {"op": "replace", "path": "active", "value": active}
    return scim.patch(
        f"/Users/{user_id}", {"schemas": [PATCH_OP], "Operations": [operation]}
    )


def test_hard_delete_removes_the_user_and_its_memberships(scim: ScimClient) -> None:
    user = create_user(scim)
    group = create_group(scim, user["id"])

    assert scim.delete(f"/Users/{user['id']}").status_code == 204

    assert_error(scim.get(f"/Users/{user['id']}"), 404)
    assert "members" not in scim.get(f"/Groups/{group['id']}").get_json()


def test_soft_delete_keeps_the_user_readable_and_inactive(
    app: Flask, soft: ScimClient
) -> None:
    user = create_user(soft)
    group = create_group(soft, user["id"])

    deleted = soft.delete(f"/Users/{user['id']}")
    read = soft.get(f"/Users/{user['id']}")
    listed = soft.get("/Users?filter=active%20eq%20false").get_json()

    assert deleted.status_code == 204
    assert read.status_code == 200
    assert read.get_json()["active"] is False
    assert read.get_json()["meta"]["version"] != user["meta"]["version"]
    assert [u["id"] for u in listed["Resources"]] == [user["id"]]
    members = soft.get(f"/Groups/{group['id']}").get_json()["members"]
    assert [m["value"] for m in members] == [user["id"]]
    assert deprovisioned_at(app, user["id"]) is not None


def test_a_repeated_soft_delete_changes_nothing(soft: ScimClient) -> None:
    user = create_user(soft)
    soft.delete(f"/Users/{user['id']}")
    first = soft.get(f"/Users/{user['id']}").get_json()

    assert soft.delete(f"/Users/{user['id']}").status_code == 204

    assert soft.get(f"/Users/{user['id']}").get_json() == first


def test_a_soft_deleted_user_round_trips_through_put(soft: ScimClient) -> None:
    user = create_user(soft)
    soft.delete(f"/Users/{user['id']}")
    read = soft.get(f"/Users/{user['id']}").get_json()

    replaced = soft.put(f"/Users/{user['id']}", read)

    assert replaced.status_code == 200, replaced.get_json()
    body = replaced.get_json()
    assert {k: v for k, v in body.items() if k != "meta"} == {
        k: v for k, v in read.items() if k != "meta"
    }


def test_reactivating_a_soft_deleted_user_undoes_the_soft_delete(
    app: Flask, soft: ScimClient
) -> None:
    user = create_user(soft)
    soft.delete(f"/Users/{user['id']}")

    response = set_active(soft, user["id"], True)

    assert response.get_json()["active"] is True
    assert deprovisioned_at(app, user["id"]) is None


def test_groups_are_deleted_hard_under_soft_deprovisioning(soft: ScimClient) -> None:
    group = create_group(soft)

    assert soft.delete(f"/Groups/{group['id']}").status_code == 204

    assert_error(soft.get(f"/Groups/{group['id']}"), 404)


def test_the_standard_profile_does_not_rehire(soft: ScimClient) -> None:
    user = create_user(soft)
    soft.delete(f"/Users/{user['id']}")

    assert_error(soft.post("/Users", user_payload()), 409, "uniqueness")


@pytest.mark.parametrize("profile", [Profile.ENTRA, Profile.OKTA])
def test_rehire_by_external_id_under_a_new_user_name(
    app: Flask, client: FlaskClient, profile: Profile
) -> None:
    scim = profile_client(app, client, profile)
    user = create_user(scim, "jdoe", externalId="emp-42")
    set_active(scim, user["id"], False)

    response = scim.post("/Users", user_payload("jdoe2", externalId="emp-42"))

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["id"], body["userName"], body["active"]) == (
        user["id"],
        "jdoe2",
        True,
    )
    assert response.headers["Location"] == body["meta"]["location"]


def test_a_rehired_user_is_answered_with_its_groups(
    app: Flask, client: FlaskClient
) -> None:
    scim = profile_client(app, client, Profile.ENTRA)
    user = create_user(scim, "jdoe", externalId="emp-42")
    group = create_group(scim, user["id"])
    set_active(scim, user["id"], False)

    response = scim.post("/Users", user_payload("jdoe", externalId="emp-42"))

    assert response.status_code == 201, response.get_json()
    assert [g["value"] for g in response.get_json()["groups"]] == [group["id"]]


@pytest.mark.parametrize("profile", [Profile.ENTRA, Profile.OKTA])
def test_rehire_keeps_a_requested_inactive_state(
    app: Flask, client: FlaskClient, profile: Profile
) -> None:
    scim = profile_client(app, client, profile)
    user = create_user(scim)
    set_active(scim, user["id"], False)

    response = scim.post("/Users", user_payload(active=False))

    assert response.status_code == 201
    assert response.get_json()["id"] == user["id"]
    assert response.get_json()["active"] is False


def test_an_active_external_id_match_creates_a_new_user(
    app: Flask, client: FlaskClient
) -> None:
    scim = profile_client(app, client, Profile.ENTRA)
    user = create_user(scim, "jdoe", externalId="emp-42")

    response = scim.post("/Users", user_payload("other", externalId="emp-42"))

    assert response.status_code == 201
    assert response.get_json()["id"] != user["id"]


def test_rehire_keeps_the_stored_password(app: Flask, client: FlaskClient) -> None:
    scim = profile_client(app, client, Profile.OKTA)
    user = create_user(scim, password="s3cret-Pa55")
    set_active(scim, user["id"], False)
    with get_database(app).sessions() as session:
        before = session.get(Resource, user["id"])
        assert before is not None
        stored = before.attributes["password"]

    scim.post("/Users", user_payload())

    with get_database(app).sessions() as session:
        after = session.get(Resource, user["id"])
        assert after is not None
        assert after.attributes["password"] == stored
