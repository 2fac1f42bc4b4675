"""RFC 7644 §3.5.2: which PATCH requests answer 204 No Content instead of 200."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scimserver.policy.client_settings import Profile
from scimserver.scim.api import REGISTRY_KEY
from scimserver.scim.patch_response import changes_only_members, prefers_minimal
from tests.conftest import ScimClient
from tests.scim.test_api_groups import create_group, member_ids
from tests.scim.test_api_users import PATCH_OP, create_user
from tests.scim.test_query_counts import count_statements
from tests.support.clients import profile_client

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
MINIMAL = {"Prefer": "return=minimal"}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def add_member(user_id: str) -> dict[str, Any]:
    return {"op": "add", "path": "members", "value": [{"value": user_id}]}


@pytest.fixture
def entra(app: Flask, client: FlaskClient) -> ScimClient:
    return profile_client(app, client, Profile.ENTRA)


def test_a_standard_client_gets_the_group_back(scim: ScimClient) -> None:
    alice = create_user(scim, "alice")["id"]
    group = create_group(scim, "Team")

    response = scim.patch(f"/Groups/{group['id']}", patch_body(add_member(alice)))

    assert response.status_code == 200
    assert member_ids(response.get_json()) == {alice}


def test_prefer_return_minimal_gets_no_content_and_the_new_etag(
    scim: ScimClient,
) -> None:
    alice = create_user(scim, "alice")["id"]
    group = create_group(scim, "Team")

    response = scim.patch(
        f"/Groups/{group['id']}", patch_body(add_member(alice)), headers=MINIMAL
    )
    read = scim.get(f"/Groups/{group['id']}")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert response.headers["Preference-Applied"] == "return=minimal"
    assert response.headers["ETag"] == read.headers["ETag"] != group["meta"]["version"]
    assert member_ids(read.get_json()) == {alice}


def test_prefer_return_minimal_applies_to_any_patch(scim: ScimClient) -> None:
    user = create_user(scim, "alice")
    replace = {"op": "replace", "path": "title", "value": "Engineer"}

    response = scim.patch(
        f"/Users/{user['id']}",
        patch_body(replace),
        headers={"Prefer": "respond-async, return=minimal"},
    )

    assert response.status_code == 204
    assert scim.get(f"/Users/{user['id']}").get_json()["title"] == "Engineer"


def test_entra_member_changes_get_no_content(
    scim: ScimClient, entra: ScimClient
) -> None:
    alice = create_user(scim, "alice")["id"]
    bob = create_user(scim, "bob")["id"]
    group = create_group(scim, "Team", [alice])
    remove = {"op": "Remove", "path": f'members[value eq "{alice}"]'}
    pathless = {"op": "Add", "value": {"members": [{"value": alice}]}}

    added = entra.patch(f"/Groups/{group['id']}", patch_body(add_member(bob)))
    removed = entra.patch(f"/Groups/{group['id']}", patch_body(remove))
    readded = entra.patch(f"/Groups/{group['id']}", patch_body(pathless))

    assert [r.status_code for r in (added, removed, readded)] == [204] * 3
    assert member_ids(scim.get(f"/Groups/{group['id']}").get_json()) == {alice, bob}


@pytest.mark.parametrize(
    ("query", "operations"),
    [
        ("?attributes=members", [add_member("{bob}")]),
        ("?excludedAttributes=members", [add_member("{bob}")]),
        ("", [{"op": "replace", "path": "displayName", "value": "Renamed"}]),
        (
            "",
            [
                add_member("{bob}"),
                {"op": "replace", "path": "displayName", "value": "Renamed"},
            ],
        ),
    ],
    ids=["attributes", "excludedAttributes", "displayName", "members and more"],
)
def test_entra_gets_a_body_when_it_asks_or_changes_more(
    scim: ScimClient,
    entra: ScimClient,
    query: str,
    operations: list[dict[str, Any]],
) -> None:
    bob = create_user(scim, "bob")["id"]
    group = create_group(scim, "Team")
    for operation in operations:
        if operation["path"] == "members":
            operation["value"] = [{"value": bob}]

    response = entra.patch(f"/Groups/{group['id']}{query}", patch_body(*operations))

    assert response.status_code == 200
    assert response.get_json()["id"] == group["id"]


@pytest.mark.parametrize("size", [2, 40])
def test_a_minimal_member_add_costs_the_same_for_any_group_size(
    app: Flask, scim: ScimClient, size: int
) -> None:
    ids = [create_user(scim, f"user{n}")["id"] for n in range(size)]
    newcomer = create_user(scim, "newcomer")["id"]
    group = create_group(scim, "Team", ids)

    with count_statements(app) as statements:
        response = scim.patch(
            f"/Groups/{group['id']}", patch_body(add_member(newcomer)), headers=MINIMAL
        )

    assert response.status_code == 204
    assert not any("scim_memberships.group_id, peer" in s for s in statements)
    assert len(statements) <= 10, statements


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        ([{"op": "add", "path": "members", "value": []}], True),
        ([{"op": "remove", "path": 'members[value eq "x"]'}], True),
        ([{"op": "remove", "path": f"{GROUP}:members"}], True),
        ([{"OP": "Add", "VALUE": {"Members": []}}], True),
        ([{"op": "add", "value": {"members": [], "displayName": "x"}}], False),
        ([{"op": "replace", "path": "displayName", "value": "x"}], False),
        ([{"op": "add", "path": "nosuch", "value": "x"}], False),
        ([], False),
    ],
)
def test_changes_only_members(
    app: Flask, operations: list[dict[str, Any]], expected: bool
) -> None:
    group_type = app.extensions[REGISTRY_KEY].resource_type("Group")

    assert changes_only_members(group_type, patch_body(*operations)) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("return=minimal", True),
        ("Return = Minimal", True),
        ("wait=10, return=minimal; foo=bar", True),
        ("return=representation", False),
        ("", False),
    ],
)
def test_prefers_minimal(header: str, expected: bool) -> None:
    assert prefers_minimal(header) is expected
