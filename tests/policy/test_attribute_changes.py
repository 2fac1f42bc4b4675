"""The attributes a write changes, as the write check sees them."""

from __future__ import annotations

from typing import Any

import pytest

from scimserver.policy.attribute_changes import changed_paths
from tests.policy.release_support import ENTERPRISE, groups, users

WORK = {"value": "b@example.com", "type": "work", "primary": True}
HOME = {"value": "b@home.org", "type": "home"}


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({"userName": "b"}, {"userName": "b"}, set()),
        ({"userName": "b"}, {"userName": "b", "title": "Guide"}, {"title"}),
        ({"title": "Guide"}, {}, {"title"}),
        ({"title": ""}, {}, set()),
        ({"title": "Guide"}, {"TITLE": "Guide"}, set()),
        ({"active": True}, {"active": False}, {"active"}),
        (
            {"name": {"givenName": "B", "familyName": "J"}},
            {"name": {"givenName": "Babs", "familyName": "J"}},
            {"name.givenName"},
        ),
        (
            {"name": {"givenName": "B", "familyName": "J"}},
            {},
            {"name.givenName", "name.familyName"},
        ),
        ({"name": {"givenName": "B"}}, {"name": {"givenName": "B", "x": 1}}, {"name"}),
        ({"emails": [WORK, HOME]}, {"emails": [HOME, WORK]}, set()),
        (
            {"emails": [WORK, HOME]},
            {"emails": [WORK, {**HOME, "type": "other"}]},
            {"emails.value", "emails.type"},
        ),
        ({"emails": [WORK]}, {"emails": [WORK, HOME]}, {"emails.value", "emails.type"}),
        (
            {"emails": [WORK, HOME]},
            {},
            {"emails.value", "emails.type", "emails.primary"},
        ),
        (
            {ENTERPRISE: {"manager": {"value": "m1", "displayName": "J"}}},
            {ENTERPRISE: {"manager": {"value": "m2", "displayName": "J"}}},
            {f"{ENTERPRISE}:manager.value"},
        ),
        (
            {ENTERPRISE: {"manager": {"value": "m1", "displayName": "J"}}},
            {ENTERPRISE: {"manager": {"value": "m1", "displayName": "K"}}},
            set(),
        ),
        (
            {ENTERPRISE: {"employeeNumber": "7", "costCenter": "4"}},
            {ENTERPRISE: {"costCenter": "4"}},
            {f"{ENTERPRISE}:employeeNumber"},
        ),
        ({"groups": [{"value": "g1"}]}, {}, set()),
        ({"id": "a", "meta": {"version": "1"}}, {"id": "b"}, set()),
        ({"unknownThing": 1}, {"unknownThing": 2}, set()),
    ],
)
def test_changed_paths_of_a_user(
    before: dict[str, Any], after: dict[str, Any], expected: set[str]
) -> None:
    assert changed_paths(users(), before, after) == expected
    assert changed_paths(users(), after, before) == expected


def test_changed_members_of_a_group_name_the_written_sub_attributes() -> None:
    before = {"displayName": "T", "members": [{"value": "u1", "display": "B"}]}
    after = {
        "displayName": "T",
        "members": [{"value": "u1", "display": "Babs"}, {"value": "u2"}],
    }

    assert changed_paths(groups(), before, after) == {"members.value"}
