"""What each compatibility profile rewrites before validation or PATCH."""

from __future__ import annotations

from typing import Any

import pytest

from scimserver.policy.client_settings import Profile
from scimserver.scim.dialects import Dialect, dialect_for
from scimserver.scim.schema import ResourceType

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
AD_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MANAGER = f"{ENTERPRISE}:manager"
ENTRA = dialect_for(Profile.ENTRA)
OKTA = dialect_for(Profile.OKTA)


def body(operation: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": [operation]}


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Replace", "path": "active", "value": False},
        ),
        (
            {"op": "Replace", "path": "active", "value": " TRUE "},
            {"op": "Replace", "path": "active", "value": True},
        ),
        (
            {"op": "Replace", "path": "active", "value": "yes"},
            {"op": "Replace", "path": "active", "value": "yes"},
        ),
        (
            {"op": "Add", "path": 'emails[type eq "work"].primary', "value": "True"},
            {"op": "Add", "path": 'emails[type eq "work"].primary', "value": True},
        ),
        (
            {
                "op": "Add",
                "path": 'emails[type eq "work"]',
                "value": {"primary": "true"},
            },
            {"op": "Add", "path": 'emails[type eq "work"]', "value": {"primary": True}},
        ),
        (
            {
                "op": "Add",
                "path": "emails",
                "value": [{"value": "a", "primary": "True"}],
            },
            {"op": "Add", "path": "emails", "value": [{"value": "a", "primary": True}]},
        ),
        (
            {"op": "replace", "value": {"active": "False", "name.givenName": "True"}},
            {"op": "replace", "value": {"active": False, "name.givenName": "True"}},
        ),
        (
            {"op": "Add", "path": "nickName", "value": [{"value": "Babs"}]},
            {"op": "Add", "path": "nickName", "value": "Babs"},
        ),
        (
            {"op": "Add", "path": MANAGER, "value": [{"value": "m-1"}]},
            {"op": "Add", "path": MANAGER, "value": {"value": "m-1"}},
        ),
        (
            {"op": "Add", "path": "emails", "value": [{"value": "a@b"}]},
            {"op": "Add", "path": "emails", "value": [{"value": "a@b"}]},
        ),
        (
            {"op": "Add", "path": "nope", "value": "True"},
            {"op": "Add", "path": "nope", "value": "True"},
        ),
        ({"op": "Remove", "path": "active"}, {"op": "Remove", "path": "active"}),
        (
            {"OP": "Replace", "Path": "active", "Value": "False"},
            {"OP": "Replace", "Path": "active", "Value": False},
        ),
    ],
)
def test_entra_patch_values_are_made_standard(
    users: ResourceType, operation: dict[str, Any], expected: dict[str, Any]
) -> None:
    prepared = ENTRA.prepare_patch(users, body(operation))

    assert prepared == body(expected)
    assert dialect_for(Profile.STANDARD).prepare_patch(users, body(operation)) == body(
        operation
    )


def test_entra_resources_get_booleans_and_lose_unused_schemas(
    users: ResourceType,
) -> None:
    payload = {
        "schemas": [USER, AD_GROUP, ENTERPRISE],
        "userName": "a",
        "active": "True",
        "emails": [{"value": "a@b", "primary": "False"}],
        ENTERPRISE: {"department": "True"},
    }

    prepared = ENTRA.prepare_resource(users, payload)

    assert prepared == {
        "schemas": [USER, ENTERPRISE],
        "userName": "a",
        "active": True,
        "emails": [{"value": "a@b", "primary": False}],
        ENTERPRISE: {"department": "True"},
    }


def test_an_unknown_schema_that_a_key_uses_is_left_for_validation(
    users: ResourceType,
) -> None:
    payload = {"schemas": [USER, "urn:x"], "userName": "a", "urn:x": {"y": 1}}

    assert ENTRA.prepare_resource(users, payload) == payload


@pytest.mark.parametrize(
    ("payload", "existing", "expected_active"),
    [
        ({"userName": "a"}, {"userName": "a", "active": False}, False),
        ({"userName": "a", "Active": True}, {"active": False}, True),
        ({"userName": "a"}, {"userName": "a"}, None),
        ({"userName": "a"}, None, None),
    ],
)
def test_okta_put_without_active_keeps_the_stored_value(
    users: ResourceType,
    payload: dict[str, Any],
    existing: dict[str, Any] | None,
    expected_active: bool | None,
) -> None:
    prepared = OKTA.prepare_resource(users, payload, existing)

    assert prepared.get("active", prepared.get("Active")) is expected_active
    assert dialect_for(Profile.STANDARD).prepare_resource(users, payload, existing) == (
        payload
    )


@pytest.mark.parametrize("payload", [None, [], "text", 3])
@pytest.mark.parametrize("dialect", [ENTRA, OKTA])
def test_bodies_that_are_not_objects_are_left_for_validation(
    users: ResourceType, dialect: Dialect, payload: Any
) -> None:
    assert dialect.prepare_resource(users, payload, {"active": True}) == payload
    assert dialect.prepare_patch(users, payload) == payload


@pytest.mark.parametrize(
    ("profile", "rehires"),
    [("standard", False), ("entra", True), ("okta", True), ("unknown", False)],
)
def test_dialect_for_each_profile(profile: str, rehires: bool) -> None:
    assert dialect_for(profile).rehires is rehires
