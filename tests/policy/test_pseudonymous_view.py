"""User ids become pseudonyms in bodies and back into ids in filters."""

from __future__ import annotations

from typing import Any

import pytest

from scimserver.policy.pseudonymous_view import (
    holds_user_ids,
    pseudonymise,
    resolve_pseudonyms,
    user_ids_in,
)
from scimserver.scim.errors import InvalidFilter
from scimserver.scim.filter import (
    AttributeReference,
    Comparison,
    Expression,
    Negation,
    parse_filter,
)
from tests.policy.release_support import ENTERPRISE, groups, user_body, users

MANAGER = "26118915-6090-4610-87e4-49d8ca9f808d"
PID = "pid-" + "a" * 32
UNKNOWN_PID = "pid-" + "b" * 32


def fake(user_id: str) -> str:
    return f"P({user_id})"


@pytest.mark.parametrize(
    ("resource", "attribute", "expected"),
    [
        ("Group", "members", "per_value"),
        ("User", "groups", "never"),
        ("User", f"{ENTERPRISE}:manager", "always"),
        ("User", "emails", "never"),
        ("User", "userName", "never"),
    ],
)
def test_which_attributes_hold_user_ids(
    resource: str, attribute: str, expected: str
) -> None:
    resource_type = users() if resource == "User" else groups()

    path = resource_type.resolve(attribute)

    assert holds_user_ids(path.attribute) == expected


def test_a_user_body_shows_pseudonyms_for_its_id_location_and_manager() -> None:
    body = user_body()
    real = body["id"]

    result = pseudonymise(users(), body, fake)

    assert result["id"] == fake(real)
    assert result["meta"]["location"] == f"http://h/scim/v2/Users/{fake(real)}"
    manager = result[ENTERPRISE]["manager"]
    assert manager["value"] == fake(MANAGER)
    assert manager["$ref"] == f"http://h/scim/v2/Users/{fake(MANAGER)}"
    assert result["groups"] == body["groups"]  # Group ids are not pseudonymous.
    assert body == user_body()  # the input is left alone


def test_group_members_that_are_users_or_untyped_become_pseudonyms() -> None:
    body: dict[str, Any] = {
        "id": "g1",
        "displayName": "Tour Guides",
        "members": [
            {"value": "u1", "$ref": "http://h/scim/v2/Users/u1", "type": "User"},
            {"value": "g2", "$ref": "http://h/scim/v2/Groups/g2", "type": "Group"},
            {"value": "u3"},
        ],
        "meta": {"location": "http://h/scim/v2/Groups/g1"},
    }

    result = pseudonymise(groups(), body, fake)

    assert result["id"] == "g1"
    assert result["meta"] == body["meta"]
    assert result["members"] == [
        {
            "value": fake("u1"),
            "$ref": f"http://h/scim/v2/Users/{fake('u1')}",
            "type": "User",
        },
        {"value": "g2", "$ref": "http://h/scim/v2/Groups/g2", "type": "Group"},
        {"value": fake("u3")},
    ]
    assert user_ids_in(groups(), body) == {"u1", "u3"}


def test_a_ref_that_does_not_end_with_the_id_is_dropped() -> None:
    body = {"id": "g1", "members": [{"value": "u1", "$ref": "urn:odd", "type": "User"}]}

    result = pseudonymise(groups(), body, fake)

    assert result["members"] == [{"value": fake("u1"), "type": "User"}]


def resolve(text: str) -> str | None:
    return "u1" if text == PID else None


@pytest.mark.parametrize(
    ("resource", "text", "expected"),
    [
        ("User", f'id eq "{PID}"', 'id eq "u1"'),
        ("User", f'id ne "{PID}"', 'id ne "u1"'),
        ("User", f'id eq "{UNKNOWN_PID}"', "id pr and not (id pr)"),
        ("User", 'id eq "u1"', "id pr and not (id pr)"),
        ("User", 'id ne "u1"', "not (id pr and not (id pr))"),
        ("User", f'userName eq "{PID}"', f'userName eq "{PID}"'),
        ("User", "id pr", "id pr"),
        (
            "User",
            f'{ENTERPRISE}:manager.value eq "{PID}"',
            f'{ENTERPRISE}:manager.value eq "u1"',
        ),
        ("Group", f'id eq "{PID}"', f'id eq "{PID}"'),
        ("Group", f'members[value eq "{PID}"]', 'members[value eq "u1"]'),
        ("Group", f'members eq "{PID}"', 'members eq "u1"'),
        ("Group", 'members[value eq "g2"]', 'members[value eq "g2"]'),
        (
            "Group",
            f'displayName eq "x" or not (members.value eq "{UNKNOWN_PID}")',
            'displayName eq "x" or not (members.value pr and not (members.value pr))',
        ),
    ],
)
def test_filters_compare_ids_where_clients_wrote_pseudonyms(
    resource: str, text: str, expected: str
) -> None:
    resource_type = users() if resource == "User" else groups()

    result = resolve_pseudonyms(resource_type, parse_filter(text), resolve)

    assert result == parse_filter(expected)


def test_a_filter_on_an_unknown_attribute_stays_invalid() -> None:
    with pytest.raises(InvalidFilter):
        resolve_pseudonyms(users(), parse_filter('nope eq "x"'), resolve)


def test_a_deeply_nested_filter_is_refused_not_crashed() -> None:
    expression: Expression = Comparison(AttributeReference("id"), "pr")
    for _ in range(5000):
        expression = Negation(expression)

    with pytest.raises(InvalidFilter, match="nested"):
        resolve_pseudonyms(users(), expression, resolve)
