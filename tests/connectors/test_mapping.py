"""Attribute mappings: paths, transforms and validation."""

from __future__ import annotations

from typing import Any

import pytest

from scimserver.connectors.mapping import (
    DEFAULT_MAPPING,
    MappingError,
    MappingPath,
    parse_mapping,
)

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PAYLOAD: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "userName": "BJensen@Example.com",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "emails": [
        {"value": "babs@home.example", "type": "home"},
        {"value": "bjensen@example.com", "type": "work", "primary": True},
    ],
    "groups": [{"value": "g1"}],
    "meta": {"resourceType": "User"},
    ENTERPRISE: {"department": "Tours", "manager": {"value": "m1"}},
}


def apply(rules: list[dict[str, Any]]) -> dict[str, Any]:
    mapping = parse_mapping({"User": rules})
    return mapping.apply("User", PAYLOAD, lambda: "pid-sector")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            {"to": "userName", "from": "userName", "transform": "lower"},
            {"userName": "bjensen@example.com"},
        ),
        (
            {"to": "nickName", "from": "name.familyName", "transform": "upper"},
            {"nickName": "JENSEN"},
        ),
        (
            {"to": "title", "transform": "constant", "value": "Learner"},
            {"title": "Learner"},
        ),
        (
            {
                "to": "displayName",
                "from": ["name.givenName", "name.familyName"],
                "transform": "join",
            },
            {"displayName": "Barbara Jensen"},
        ),
        ({"to": "externalId", "transform": "pseudonym"}, {"externalId": "pid-sector"}),
        (
            {"to": "userName", "from": 'emails[type eq "work"].value'},
            {"userName": "bjensen@example.com"},
        ),
        (
            {"to": "userName", "from": "emails.value"},
            {"userName": "bjensen@example.com"},
        ),
        ({"to": "title", "from": f"{ENTERPRISE}:department"}, {"title": "Tours"}),
        ({"to": "title", "from": f"{ENTERPRISE}:manager.value"}, {"title": "m1"}),
        ({"to": "title", "from": "USERNAME"}, {"title": "BJensen@Example.com"}),
        ({"to": "title", "from": "nickName"}, {}),
    ],
)
def test_each_transform(rule: dict[str, Any], expected: dict[str, Any]) -> None:
    document = apply([rule])

    assert {k: v for k, v in document.items() if k != "schemas"} == expected


def test_written_paths_build_complex_and_extension_values() -> None:
    document = apply(
        [
            {"to": "name.givenName", "from": "name.givenName"},
            {"to": 'emails[type eq "work"].value', "from": "userName"},
            {
                "to": 'emails[type eq "work"].primary',
                "transform": "constant",
                "value": True,
            },
            {"to": f"{ENTERPRISE}:division", "transform": "constant", "value": "L&D"},
        ]
    )

    assert document == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "name": {"givenName": "Barbara"},
        "emails": [{"type": "work", "value": "BJensen@Example.com", "primary": True}],
        ENTERPRISE: {"division": "L&D"},
    }


def test_without_rules_the_released_payload_passes_minus_assigned_attributes() -> None:
    document = DEFAULT_MAPPING.apply("User", PAYLOAD, lambda: "unused")

    assert "id" not in document and "meta" not in document
    assert "groups" not in document
    assert document["userName"] == PAYLOAD["userName"]
    assert document["schemas"] == PAYLOAD["schemas"]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"Device": []}, "unknown resource type 'Device'"),
        ({"User": {}}, "User: a list of rules is expected"),
        (
            {"User": [{"to": "title", "transform": "reverse", "from": "x"}]},
            "transform must be one of",
        ),
        ({"User": [{"to": "title"}]}, "transform 'copy' needs 'from'"),
        ({"User": [{"to": "title", "transform": "constant"}]}, "needs 'value'"),
        ({"User": [{"to": "id", "from": "userName"}]}, "'id' is assigned"),
        ({"User": [{"to": "a b", "from": "userName"}]}, "invalid attribute path"),
        ({"User": [{"to": "title", "from": "x", "colour": 1}]}, "unknown keys colour"),
        ({"User": [{"to": "title", "from": 7}]}, "'from' is a path or a list of paths"),
        ({"User": ["title"]}, "User[0]: a rule is an object"),
    ],
)
def test_invalid_mappings_name_the_fault(source: dict[str, Any], problem: str) -> None:
    with pytest.raises(MappingError) as raised:
        parse_mapping(source)

    assert problem in str(raised.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(MappingError) as raised:
        parse_mapping({"User": [{"to": "id", "from": "x"}, {"to": "title"}]})

    assert [p.split(":")[0] for p in raised.value.problems] == ["User[0]", "User[1]"]


def test_filter_values_parse_as_strings_and_booleans() -> None:
    assert MappingPath.parse("emails[primary eq true].value").match is True
    assert MappingPath.parse('emails[type eq "work"]').match == "work"
