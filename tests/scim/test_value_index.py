"""The value index: which rows a resource document produces, and where paths live."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scimserver.models import Resource
from scimserver.scim.schema import ResourceType, SchemaRegistry, parse_schema
from scimserver.scim.value_index import (
    column_for,
    index_key,
    index_values,
    is_unstored,
    membership_of,
    parse_datetime,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
EXTRA = "urn:scimserver:test:2.0:Extra"

REGISTRY = SchemaRegistry.load(SCHEMAS)


def resource_type(name: str) -> ResourceType:
    found = REGISTRY.resource_type(name)
    assert found is not None
    return found


USER = resource_type("User")
GROUP = resource_type("Group")
EXTRA_USER = replace(
    USER,
    extensions=(
        *USER.extensions,
        (
            parse_schema(
                {
                    "id": EXTRA,
                    "attributes": [
                        {"name": "hired", "type": "dateTime"},
                        {"name": "badge", "type": "string", "caseExact": True},
                        {"name": "score", "type": "decimal"},
                        {"name": "level", "type": "integer"},
                        {"name": "tags", "type": "string", "multiValued": True},
                    ],
                }
            ),
            False,
        ),
    ),
)


def row(attribute: str, sub: str = "", item: int = 0, **value: Any) -> tuple[Any, ...]:
    columns = ("text_value", "number_value", "bool_value", "time_value")
    return (attribute, sub, item, *(value.get(c) for c in columns))


def rows_of(kind: ResourceType, document: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            r["attribute"],
            r["sub_attribute"],
            r["item"],
            r["text_value"],
            r["number_value"],
            r["bool_value"],
            r["time_value"],
        )
        for r in index_values(kind, document)
    )


def test_rfc_example_user_is_indexed_per_value() -> None:
    document = {
        "userName": "bjensen",
        "externalId": "e1",
        "displayName": "Babs",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "B@X.org", "type": "work", "primary": True},
            {"value": "babs@home.org", "type": "home"},
        ],
        "active": True,
        ENTERPRISE: {"department": "HR", "manager": {"value": "M-26"}},
    }

    assert rows_of(USER, document) == sorted(
        [
            row("name", "givenname", text_value="barbara"),
            row("name", "familyname", text_value="jensen"),
            row("emails", "value", 0, text_value="b@x.org"),
            row("emails", "type", 0, text_value="work"),
            row("emails", "primary", 0, bool_value=True),
            row("emails", "value", 1, text_value="babs@home.org"),
            row("emails", "type", 1, text_value="home"),
            row("active", bool_value=True),
            row(f"{ENTERPRISE.lower()}:department", text_value="hr"),
            row(f"{ENTERPRISE.lower()}:manager", "value", text_value="m-26"),
        ]
    )


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({EXTRA: {"badge": "AbC"}}, row(f"{EXTRA.lower()}:badge", text_value="AbC")),
        ({EXTRA: {"score": 2.5}}, row(f"{EXTRA.lower()}:score", number_value=2.5)),
        ({EXTRA: {"level": 7}}, row(f"{EXTRA.lower()}:level", number_value=7.0)),
        (
            {EXTRA: {"hired": "2011-05-13T06:42:34+02:00"}},
            row(
                f"{EXTRA.lower()}:hired",
                time_value=datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC),
            ),
        ),
        (
            {EXTRA: {"hired": "2011-05-13T04:42:34"}},
            row(
                f"{EXTRA.lower()}:hired",
                time_value=datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC),
            ),
        ),
        (
            {"profileUrl": "HTTPS://X.org/A"},
            row("profileurl", text_value="https://x.org/a"),
        ),
    ],
)
def test_values_go_to_the_column_of_their_type(
    document: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    assert rows_of(EXTRA_USER, document) == [expected]


def test_multi_valued_simple_values_are_numbered() -> None:
    document = {EXTRA: {"tags": ["Red", "", "blue"]}}

    assert rows_of(EXTRA_USER, document) == [
        row(f"{EXTRA.lower()}:tags", item=0, text_value="red"),
        row(f"{EXTRA.lower()}:tags", item=2, text_value="blue"),
    ]


@pytest.mark.parametrize(
    "document",
    [
        {"title": None},
        {"title": ""},
        {"emails": []},
        {"emails": [{"value": "", "type": None}]},
        {"name": {}},
        {"active": "yes"},
        {EXTRA: {"level": True}},
        {EXTRA: {"hired": "yesterday"}},
        {"noSuchAttribute": "x"},
        {"urn:example:unknown": {"title": "x"}},
        {"password": "secret"},
        {"x509Certificates": [{"value": "TUlJ"}]},
        {"userName": "bjensen", "externalId": "e1", "displayName": "Babs"},
        {"id": "u1", "meta": {"created": "2011-05-13T04:42:34Z"}},
        {"groups": [{"value": "g1", "display": "Admins"}]},
    ],
)
def test_values_without_an_indexed_value_produce_no_row(
    document: dict[str, Any],
) -> None:
    assert index_values(EXTRA_USER, document) == []


def test_binary_sub_attribute_is_skipped_but_its_siblings_are_not() -> None:
    document = {"x509Certificates": [{"value": "TUlJ", "display": "Cert"}]}

    assert rows_of(USER, document) == [
        row("x509certificates", "display", text_value="cert")
    ]


def test_group_members_are_not_indexed() -> None:
    document = {"displayName": "Admins", "members": [{"value": "u1"}]}

    assert index_values(GROUP, document) == []


@pytest.mark.parametrize(
    ("kind", "path", "column"),
    [
        (USER, "id", Resource.id),
        (USER, "externalId", Resource.external_id),
        (USER, "meta.created", Resource.created),
        (USER, "meta.lastModified", Resource.last_modified),
        (USER, "meta.resourceType", Resource.resource_type),
        (USER, "userName", Resource.user_name),
        (
            USER,
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            Resource.user_name,
        ),
        (USER, "displayName", Resource.display_name),
        (GROUP, "displayName", Resource.display_name),
        (USER, "name.givenName", None),
        (USER, f"{ENTERPRISE}:manager.displayName", None),
    ],
)
def test_column_backed_paths(kind: ResourceType, path: str, column: Any) -> None:
    assert column_for(kind.resolve(path)) is column


@pytest.mark.parametrize(
    ("kind", "path", "relation"),
    [
        (GROUP, "members.value", "members"),
        (GROUP, "members", "members"),
        (USER, "groups.display", "groups"),
        (USER, "emails.value", None),
    ],
)
def test_membership_paths(kind: ResourceType, path: str, relation: str | None) -> None:
    assert membership_of(kind.resolve(path)) == relation


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("title", "title"),
        ("Emails.Value", "emails"),
        ("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName", "name"),
        (f"{ENTERPRISE}:manager.value", f"{ENTERPRISE.lower()}:manager"),
    ],
)
def test_index_key_matches_the_rows(path: str, key: str) -> None:
    assert index_key(USER.resolve(path)) == key


@pytest.mark.parametrize(
    ("path", "unstored"),
    [
        ("meta.location", True),
        ("meta.version", True),
        ("meta", True),
        ("password", True),
        ("x509Certificates.value", True),
        ("x509Certificates.display", False),
        ("meta.created", False),
        ("title", False),
    ],
)
def test_paths_stored_nowhere(path: str, unstored: bool) -> None:
    assert is_unstored(USER.resolve(path)) is unstored


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2011-05-13T04:42:34Z", datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC)),
        ("2011-05-13T04:42:34.5-01:00", datetime(2011, 5, 13, 5, 42, 34, 500000, UTC)),
        ("2011-05-13", datetime(2011, 5, 13, tzinfo=UTC)),
        ("13 May 2011", None),
    ],
)
def test_parse_datetime(text: str, moment: datetime | None) -> None:
    assert parse_datetime(text) == moment
