"""The PATCH operations and drift checks behind updates and syncs."""

from __future__ import annotations

from typing import Any

import pytest

from scimserver.connectors.reconcile import drifted
from scimserver.connectors.scim_push import (
    member_operations,
    patch_operations,
    pushed_paths,
)

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DOCUMENT: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
    "userName": "bjensen",
    "name": {"givenName": "Barbara"},
    "emails": [{"value": "bjensen@example.com", "type": "work"}],
    ENTERPRISE: {"department": "Tours"},
}


def test_pushed_paths_name_sub_attributes_and_extension_attributes() -> None:
    assert sorted(pushed_paths(DOCUMENT)) == [
        "emails",
        "name.givenName",
        f"{ENTERPRISE}:department",
        "userName",
    ]


def test_patch_replaces_what_is_sent_and_removes_what_is_no_longer_sent() -> None:
    previous = ["userName", "name.givenName", "name.familyName", "title", "members"]

    operations = patch_operations(DOCUMENT, previous)

    assert operations[0] == {
        "op": "replace",
        "value": {k: v for k, v in DOCUMENT.items() if k != "schemas"},
    }
    assert operations[1:] == [
        {"op": "remove", "path": "name.familyName"},
        {"op": "remove", "path": "title"},
    ]


def test_patch_leaves_group_members_to_incremental_changes() -> None:
    group = {"displayName": "Tours", "members": [{"value": "u1"}]}

    assert patch_operations(group, ["displayName", "members"]) == [
        {"op": "replace", "value": {"displayName": "Tours"}}
    ]


def test_member_operations_add_in_one_and_remove_each_by_filter() -> None:
    assert member_operations(["u3", "u4"], ["u1"]) == [
        {"op": "add", "path": "members", "value": [{"value": "u3"}, {"value": "u4"}]},
        {"op": "remove", "path": 'members[value eq "u1"]'},
    ]
    assert member_operations([], []) == []


HELD: dict[str, Any] = {
    "id": "down-1",
    "meta": {"resourceType": "User"},
    "userName": "bjensen",
    "name": {"givenName": "Barbara", "formatted": "Barbara Jensen"},
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": False}],
    ENTERPRISE: {"department": "Tours"},
    "active": True,
}


@pytest.mark.parametrize(
    ("held", "previous", "expected"),
    [
        (HELD, [], False),
        ({**HELD, "userName": "other"}, [], True),
        ({**HELD, "name": {"givenName": "Babs"}}, [], True),
        ({**HELD, "emails": []}, [], True),
        ({**HELD, ENTERPRISE: {}}, [], True),
        ({**HELD, "active": False}, [], True),
        ({**HELD, "title": "Guide"}, ["title"], True),
        ({**HELD, "title": "Guide"}, [], False),
    ],
)
def test_drift_compares_only_what_the_connector_sends(
    held: dict[str, Any], previous: list[str], expected: bool
) -> None:
    assert drifted(DOCUMENT, held, previous) is expected
