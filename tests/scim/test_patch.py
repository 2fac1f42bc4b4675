"""PATCH operations on resource documents (RFC 7644 §3.5.2)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scimserver.scim.errors import ScimError
from scimserver.scim.filter import AttributeReference, Comparison, ValuePath
from scimserver.scim.patch import (
    PATCH_OP,
    MemberChange,
    MemberOp,
    apply_patch,
    parse_path,
)
from scimserver.scim.schema import Attribute, ResourceType, Schema, SchemaRegistry
from scimserver.scim.value_filter import matches

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DEVICE = "urn:example:params:scim:schemas:core:2.0:Device"
BABS = "2819c223-7f76-453a-919d-413861904646"
JAMES = "08e1d05d-121c-4561-8b96-473d93df9210"

BJENSEN: dict[str, Any] = {
    "userName": "bjensen",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "nickName": "Babs",
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "addresses": [
        {"type": "work", "streetAddress": "100 Universal City Plaza", "country": "US"},
        {"type": "home", "streetAddress": "456 Hollywood Blvd", "country": "US"},
    ],
    ENTERPRISE: {
        "department": "Tour Operations",
        "manager": {"value": "26118915"},
    },
}


@pytest.fixture(scope="module")
def devices(users: ResourceType) -> ResourceType:
    """A resource type with immutable attributes, which User and Group lack."""
    attributes = (
        Attribute("serialNumber", "string", DEVICE, mutability="immutable"),
        Attribute(
            "owner",
            "complex",
            DEVICE,
            sub_attributes=(
                Attribute("value", "string", DEVICE, mutability="immutable"),
                Attribute("display", "string", DEVICE),
            ),
        ),
    )
    schema = Schema(DEVICE, "Device", "", attributes)
    return ResourceType("Device", "Device", "/Devices", "", schema, (), users.common)


def body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def patched(
    resource_type: ResourceType, document: dict[str, Any], *ops: dict[str, Any]
) -> dict[str, Any]:
    return apply_patch(resource_type, document, body(*ops)).document


def with_changes(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(document)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


# RFC 7644 §3.5.2.1 to §3.5.2.3, the examples on a User (Group ones are below).
RFC_USER_EXAMPLES = [
    pytest.param(
        {
            "op": "add",
            "value": {
                "emails": [{"value": "babs@jensen.org", "type": "home"}],
                "nickname": "Babs",
            },
        },
        BJENSEN,
        id="3.5.2.1 add without path, identical email not repeated",
    ),
    pytest.param(
        {"op": "add", "value": {"nickname": "Barbie", "title": "Tour Guide"}},
        with_changes(BJENSEN, nickName="Barbie", title="Tour Guide"),
        id="3.5.2.1 add without path replaces a singular value",
    ),
    pytest.param(
        {"op": "remove", "path": 'emails[type eq "work" and value ew "example.com"]'},
        with_changes(BJENSEN, emails=[{"value": "babs@jensen.org", "type": "home"}]),
        id="3.5.2.2 remove the values a filter selects",
    ),
    pytest.param(
        {
            "op": "replace",
            "path": 'addresses[type eq "work"]',
            "value": {
                "type": "work",
                "streetAddress": "911 Universal City Plaza",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "US",
                "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                "primary": True,
            },
        },
        with_changes(
            BJENSEN,
            addresses=[
                {
                    "type": "work",
                    "streetAddress": "911 Universal City Plaza",
                    "country": "US",
                    "locality": "Hollywood",
                    "region": "CA",
                    "postalCode": "91608",
                    "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                    "primary": True,
                },
                BJENSEN["addresses"][1],
            ],
        ),
        id="3.5.2.3 replace the value a filter selects",
    ),
    pytest.param(
        {
            "op": "replace",
            "path": 'addresses[type eq "work"].streetAddress',
            "value": "1010 Broadway Ave",
        },
        with_changes(
            BJENSEN,
            addresses=[
                {"type": "work", "streetAddress": "1010 Broadway Ave", "country": "US"},
                BJENSEN["addresses"][1],
            ],
        ),
        id="3.5.2.3 replace a sub-attribute of the selected values",
    ),
    pytest.param(
        {
            "op": "replace",
            "value": {
                "emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": True},
                    {"value": "babs@jensen.org", "type": "home"},
                ],
                "nickname": "Babs",
            },
        },
        BJENSEN,
        id="3.5.2.3 replace several attributes without path",
    ),
    pytest.param(
        {"op": "replace", "path": "emails", "value": [{"value": "only@example.com"}]},
        with_changes(BJENSEN, emails=[{"value": "only@example.com"}]),
        id="3.5.2.3 replace all values of a multi-valued attribute",
    ),
    pytest.param(
        {"op": "replace", "path": "title", "value": "Guide"},
        with_changes(BJENSEN, title="Guide"),
        id="3.5.2.3 replace of an unassigned attribute adds it",
    ),
    pytest.param(
        {"op": "replace", "path": "name", "value": {"givenName": "Babs"}},
        with_changes(BJENSEN, name={"givenName": "Babs", "familyName": "Jensen"}),
        id="3.5.2.3 replace of a complex attribute keeps other sub-attributes",
    ),
    pytest.param(
        {"op": "add", "path": "name.middleName", "value": "Jane"},
        with_changes(
            BJENSEN,
            name={"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"},
        ),
        id="3.5.2.1 add a sub-attribute",
    ),
    pytest.param(
        {"op": "add", "path": "phoneNumbers", "value": [{"value": "555-1234"}]},
        with_changes(BJENSEN, phoneNumbers=[{"value": "555-1234"}]),
        id="3.5.2.1 add to an unassigned multi-valued attribute",
    ),
    pytest.param(
        {"op": "remove", "path": "name.givenName"},
        with_changes(BJENSEN, name={"familyName": "Jensen"}),
        id="3.5.2.2 remove a sub-attribute",
    ),
    pytest.param(
        {"op": "remove", "path": "addresses"},
        with_changes(BJENSEN, addresses=None),
        id="3.5.2.2 remove all values",
    ),
    pytest.param(
        {"op": "remove", "path": 'addresses[type eq "work"].country'},
        with_changes(
            BJENSEN,
            addresses=[
                {"type": "work", "streetAddress": "100 Universal City Plaza"},
                BJENSEN["addresses"][1],
            ],
        ),
        id="3.5.2.2 remove a sub-attribute of the selected values",
    ),
    pytest.param(
        {"op": "remove", "path": 'emails[type eq "other"]'},
        BJENSEN,
        id="remove with a filter that matches nothing changes nothing",
    ),
    pytest.param(
        {"op": "remove", "path": "title"},
        BJENSEN,
        id="remove of an unassigned attribute changes nothing",
    ),
]


@pytest.mark.parametrize(("operation", "expected"), RFC_USER_EXAMPLES)
def test_rfc_examples_on_a_user(
    users: ResourceType, operation: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert patched(users, BJENSEN, operation) == expected


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        pytest.param(
            {"op": "replace", "value": {"active": False}},
            {"active": False},
            id="okta deactivation",
        ),
        pytest.param(
            {"op": "Replace", "path": "active", "value": True},
            {"active": True},
            id="entra capitalised op",
        ),
        pytest.param(
            {"op": "replace", "path": f"{ENTERPRISE}:manager.value", "value": "m2"},
            {ENTERPRISE: {"department": "Tour Operations", "manager": {"value": "m2"}}},
            id="enterprise manager.value",
        ),
        pytest.param(
            {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "m3"},
            {ENTERPRISE: {"department": "Tour Operations", "manager": {"value": "m3"}}},
            id="entra bare manager id",
        ),
        pytest.param(
            {"op": "add", "path": f"{ENTERPRISE}:employeeNumber", "value": "701984"},
            {
                ENTERPRISE: {
                    **BJENSEN[ENTERPRISE],
                    "employeeNumber": "701984",
                }
            },
            id="extension attribute by full path",
        ),
        pytest.param(
            {"op": "add", "value": {ENTERPRISE: {"division": "Theme Park"}}},
            {ENTERPRISE: {**BJENSEN[ENTERPRISE], "division": "Theme Park"}},
            id="extension object without path",
        ),
        pytest.param(
            {"op": "add", "value": {f"{ENTERPRISE}:division": "Theme Park"}},
            {ENTERPRISE: {**BJENSEN[ENTERPRISE], "division": "Theme Park"}},
            id="qualified key without path",
        ),
        pytest.param(
            {"op": "add", "path": ENTERPRISE, "value": {"division": "Theme Park"}},
            {ENTERPRISE: {**BJENSEN[ENTERPRISE], "division": "Theme Park"}},
            id="path naming the extension",
        ),
        pytest.param(
            {"op": "remove", "path": f"{ENTERPRISE}:department"},
            {ENTERPRISE: {"manager": BJENSEN[ENTERPRISE]["manager"]}},
            id="remove an extension attribute",
        ),
        pytest.param(
            {"op": "remove", "path": ENTERPRISE},
            {ENTERPRISE: None},
            id="remove a whole extension",
        ),
        pytest.param(
            {"op": "add", "value": {"name.honorificPrefix": "Ms."}},
            {"name": {**BJENSEN["name"], "honorificPrefix": "Ms."}},
            id="dotted key without path",
        ),
        pytest.param(
            {
                "op": "add",
                "path": 'phoneNumbers[type eq "work"].value',
                "value": "555-0100",
            },
            {"phoneNumbers": [{"type": "work", "value": "555-0100"}]},
            id="entra add through an eq filter creates the value",
        ),
        pytest.param(
            {"op": "add", "value": {'emails[type eq "work"].value': "b@disney.com"}},
            {
                "emails": [
                    {"value": "b@disney.com", "type": "work", "primary": True},
                    BJENSEN["emails"][1],
                ]
            },
            id="entra filter key without path",
        ),
        pytest.param(
            {"op": "replace", "value": {"id": "other", "meta": {}, "nickName": "B"}},
            {"nickName": "B"},
            id="readOnly keys without path are ignored",
        ),
        pytest.param(
            {"op": "replace", "path": "nickName", "value": None},
            {"nickName": None},
            id="replace with null unassigns",
        ),
        pytest.param(
            {"op": "replace", "path": "name", "value": {"givenName": None}},
            {"name": {"familyName": "Jensen"}},
            id="null sub-attribute in a merge unassigns it",
        ),
        pytest.param(
            {
                "op": "remove",
                "path": "emails",
                "value": [{"value": "babs@jensen.org"}],
            },
            {"emails": [BJENSEN["emails"][0]]},
            id="remove the given values",
        ),
        pytest.param(
            {"op": "replace", "path": "emails.type", "value": "other"},
            {
                "emails": [
                    {"value": "bjensen@example.com", "type": "other", "primary": True},
                    {"value": "babs@jensen.org", "type": "other"},
                ]
            },
            id="sub-attribute of every value",
        ),
    ],
)
def test_client_requests_on_a_user(
    users: ResourceType, operation: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert patched(users, BJENSEN, operation) == with_changes(BJENSEN, **expected)


@pytest.mark.parametrize(
    ("operation", "emails"),
    [
        pytest.param(
            {
                "op": "add",
                "path": "emails",
                "value": [{"value": "new@example.com", "primary": True}],
            },
            [False, None, True],
            id="added value",
        ),
        pytest.param(
            {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True},
            [False, True],
            id="sub-attribute through a filter",
        ),
        pytest.param(
            {
                "op": "replace",
                "path": 'emails[type eq "home"]',
                "value": {"primary": True},
            },
            [False, True],
            id="merged value",
        ),
    ],
)
def test_a_new_primary_value_demotes_the_others(
    users: ResourceType, operation: dict[str, Any], emails: list[bool | None]
) -> None:
    """RFC 7644 §3.5.2: the server sets primary to false on the other values."""
    document = patched(users, BJENSEN, operation)

    assert [email.get("primary") for email in document["emails"]] == emails


@pytest.mark.parametrize(
    ("payload", "scim_type"),
    [
        pytest.param([], "invalidSyntax", id="body not an object"),
        pytest.param({"Operations": [{"op": "add"}]}, "invalidSyntax", id="no schemas"),
        pytest.param(
            {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]},
            "invalidSyntax",
            id="wrong schema",
        ),
        pytest.param({"schemas": [PATCH_OP]}, "invalidSyntax", id="no Operations"),
        pytest.param(
            {"schemas": [PATCH_OP], "Operations": []}, "invalidSyntax", id="empty"
        ),
        pytest.param(
            {"schemas": [PATCH_OP], "Operations": {"op": "add"}},
            "invalidSyntax",
            id="Operations not a list",
        ),
    ],
)
def test_malformed_bodies(users: ResourceType, payload: Any, scim_type: str) -> None:
    with pytest.raises(ScimError) as error:
        apply_patch(users, BJENSEN, payload)

    assert error.value.scim_type == scim_type


ERRORS = [
    # The operation itself.
    pytest.param("User", ["not an object"], "invalidSyntax", id="operation not object"),
    pytest.param("User", {"path": "nickName"}, "invalidSyntax", id="no op"),
    pytest.param("User", {"op": "move", "path": "title"}, "invalidSyntax", id="op"),
    pytest.param("User", {"op": "add", "path": 7, "value": 1}, "invalidPath", id="p"),
    pytest.param("User", {"op": "add", "path": "title"}, "invalidValue", id="no value"),
    pytest.param("User", {"op": "remove"}, "noTarget", id="3.5.2.2 remove, no path"),
    pytest.param(
        "User", {"op": "add", "value": "Babs"}, "invalidValue", id="no path, no object"
    ),
    # Paths.
    pytest.param(
        "User", {"op": "add", "path": "nope", "value": 1}, "invalidPath", id="unknown"
    ),
    pytest.param(
        "User",
        {"op": "add", "path": "name.nope", "value": "x"},
        "invalidPath",
        id="unknown sub-attribute",
    ),
    pytest.param(
        "User",
        {"op": "add", "path": "urn:example:nope:title", "value": "x"},
        "invalidPath",
        id="unknown schema",
    ),
    pytest.param(
        "User",
        {"op": "add", "path": "department", "value": "x"},
        "invalidPath",
        id="extension attribute without its URN",
    ),
    pytest.param(
        "User",
        {"op": "replace", "path": 'emails[type eq "work"].nope', "value": "x"},
        "invalidPath",
        id="unknown sub-attribute after filter",
    ),
    pytest.param(
        "User",
        {"op": "replace", "path": 'emails[type eq "work"]value', "value": "x"},
        "invalidPath",
        id="text after filter",
    ),
    pytest.param(
        "User",
        {"op": "replace", "path": 'name[givenName eq "x"]', "value": {}},
        "invalidPath",
        id="filter on a singular attribute",
    ),
    pytest.param(
        "User",
        {"op": "replace", "path": 'emails[type eq "work"', "value": {}},
        "invalidPath",
        id="unclosed filter",
    ),
    pytest.param(
        "User",
        {"op": "remove", "path": 'emails[type eq "a]b"].value'},
        None,
        id="bracket inside a quoted string is not the end",
    ),
    # Filters.
    pytest.param(
        "User",
        {"op": "remove", "path": 'emails[nope eq "x"]'},
        "invalidFilter",
        id="filter on unknown sub-attribute",
    ),
    pytest.param(
        "User",
        {"op": "remove", "path": "emails[primary gt true]"},
        "invalidFilter",
        id="ordering booleans",
    ),
    pytest.param(
        "User",
        {"op": "remove", "path": 'emails[primary eq "yes"]'},
        "invalidFilter",
        id="boolean compared with a string",
    ),
    pytest.param(
        "User",
        {"op": "remove", "path": "emails[type eq]"},
        "invalidFilter",
        id="incomplete filter",
    ),
    pytest.param(
        "User",
        {"op": "remove", "path": "emails[]"},
        "invalidFilter",
        id="empty filter",
    ),
    # Targets.
    pytest.param(
        "User",
        {"op": "replace", "path": 'emails[type eq "other"]', "value": {"value": "x"}},
        "noTarget",
        id="3.5.2.3 replace, filter matches nothing",
    ),
    pytest.param(
        "User",
        {"op": "add", "path": 'emails[value co "zzz"].display', "value": "x"},
        "noTarget",
        id="add, unmatched filter that is not equality",
    ),
    # Mutability.
    pytest.param(
        "User", {"op": "remove", "path": "userName"}, "mutability", id="remove required"
    ),
    pytest.param(
        "User",
        {"op": "replace", "path": "userName", "value": None},
        "mutability",
        id="unassign required",
    ),
    pytest.param(
        "User",
        {"op": "replace", "value": {"userName": ""}},
        "mutability",
        id="unassign required without path",
    ),
    pytest.param(
        "User", {"op": "replace", "path": "id", "value": "x"}, "mutability", id="id"
    ),
    pytest.param(
        "User",
        {"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"},
        "mutability",
        id="meta",
    ),
    pytest.param(
        "User",
        {"op": "add", "path": "groups", "value": [{"value": "g1"}]},
        "mutability",
        id="groups",
    ),
    pytest.param(
        "User",
        {"op": "replace", "path": f"{ENTERPRISE}:manager.displayName", "value": "x"},
        "mutability",
        id="readOnly sub-attribute",
    ),
    pytest.param(
        "Device",
        {"op": "replace", "path": "serialNumber", "value": "S2"},
        "mutability",
        id="immutable with a value",
    ),
    pytest.param(
        "Device",
        {"op": "remove", "path": "serialNumber"},
        "mutability",
        id="remove immutable",
    ),
    pytest.param(
        "Device",
        {"op": "replace", "path": "owner", "value": {"value": "u2"}},
        "mutability",
        id="immutable sub-attribute through a merge",
    ),
    pytest.param(
        "Device",
        {"op": "replace", "path": "owner.value", "value": "u2"},
        "mutability",
        id="immutable sub-attribute by path",
    ),
    pytest.param(
        "Group",
        {"op": "replace", "path": 'members[value eq "u1"].display', "value": "x"},
        "mutability",
        id="member sub-attribute",
    ),
    pytest.param(
        "Group",
        {"op": "add", "path": 'members[value eq "u1"]', "value": {"value": "u2"}},
        "mutability",
        id="add to a member",
    ),
    # Values.
    pytest.param(
        "User",
        {"op": "replace", "path": "active", "value": "False"},
        "invalidValue",
        id="boolean as a string",
    ),
    pytest.param(
        "User",
        {"op": "add", "path": "emails", "value": [{"value": 5}]},
        "invalidValue",
        id="number for a string",
    ),
    pytest.param(
        "User",
        {"op": "add", "path": "name", "value": ["Babs"]},
        "invalidValue",
        id="list for a complex value",
    ),
    pytest.param(
        "User",
        {"op": "add", "value": {"favouriteColour": "blue"}},
        "invalidValue",
        id="unknown attribute without path",
    ),
    pytest.param(
        "User",
        {"op": "add", "path": "name", "value": {"nickname": "Babs"}},
        "invalidValue",
        id="unknown sub-attribute in a value",
    ),
    pytest.param(
        "User",
        {"op": "add", "path": ENTERPRISE, "value": "HR"},
        "invalidValue",
        id="extension given a string",
    ),
    pytest.param(
        "User",
        {"op": "replace", "path": "emails.primary", "value": True},
        "invalidValue",
        id="two primary values",
    ),
    pytest.param(
        "Group",
        {"op": "add", "path": "members", "value": [{"display": "no id"}]},
        "invalidValue",
        id="member without value",
    ),
]


@pytest.mark.parametrize(("resource", "operation", "scim_type"), ERRORS)
def test_errors_leave_the_document_untouched(
    registry: SchemaRegistry,
    devices: ResourceType,
    resource: str,
    operation: Any,
    scim_type: str | None,
) -> None:
    resource_type = registry.resource_type(resource) or devices
    document = {
        "User": BJENSEN,
        "Group": {"displayName": "Tour Guides"},
        "Device": {"serialNumber": "S1", "owner": {"value": "u1"}},
    }[resource]
    before = copy.deepcopy(document)
    operations = operation if isinstance(operation, list) else [operation]
    first = {"op": "replace", "path": "externalId", "value": "changed"}

    if scim_type is None:
        apply_patch(resource_type, document, body(first, *operations))
    else:
        with pytest.raises(ScimError) as error:
            apply_patch(resource_type, document, body(first, *operations))
        assert (error.value.status, error.value.scim_type) == (400, scim_type)
    assert document == before


def test_success_does_not_modify_the_input(users: ResourceType) -> None:
    before = copy.deepcopy(BJENSEN)

    result = patched(
        users,
        BJENSEN,
        {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True},
        {"op": "remove", "path": "name.givenName"},
        {"op": "add", "path": f"{ENTERPRISE}:manager.value", "value": "m9"},
    )

    assert before == BJENSEN
    assert result != before


def test_operations_apply_in_order(users: ResourceType) -> None:
    result = patched(
        users,
        BJENSEN,
        {"op": "remove", "path": "emails"},
        {"op": "add", "path": "emails", "value": {"value": "x@example.com"}},
        {
            "op": "replace",
            "path": 'emails[value eq "x@example.com"].type',
            "value": "w",
        },
    )

    assert result["emails"] == [{"value": "x@example.com", "type": "w"}]


def test_immutable_attribute_may_be_added_once(devices: ResourceType) -> None:
    """RFC 7644 §3.5.2: a client MAY add a value to an immutable attribute once."""
    first = patched(devices, {}, {"op": "add", "path": "serialNumber", "value": "S1"})
    again = patched(
        devices, first, {"op": "add", "path": "serialNumber", "value": "S1"}
    )

    assert first == again == {"serialNumber": "S1"}


def test_write_only_password_can_be_replaced(users: ResourceType) -> None:
    document = with_changes(BJENSEN, password="scrypt:old")

    result = patched(
        users, document, {"op": "replace", "path": "password", "value": "n"}
    )

    assert result["password"] == "n"


# RFC 7644 §3.5.2, the examples on a Group, and what Okta and Entra ID send.
MEMBER_EXAMPLES = [
    pytest.param(
        {
            "op": "add",
            "path": "members",
            "value": [
                {
                    "display": "Babs Jensen",
                    "$ref": f"https://example.com/v2/Users/{BABS}",
                    "value": BABS,
                }
            ],
        },
        [
            MemberChange(
                MemberOp.ADD,
                values=(
                    {
                        "$ref": f"https://example.com/v2/Users/{BABS}",
                        "value": BABS,
                    },
                ),
            )
        ],
        id="3.5.2.1 add a member",
    ),
    pytest.param(
        {"op": "remove", "path": "members"},
        [MemberChange(MemberOp.REMOVE_ALL)],
        id="3.5.2.2 remove all members",
    ),
    pytest.param(
        {"op": "remove", "path": f'members[value eq "{BABS}"]'},
        [MemberChange(MemberOp.REMOVE, member_ids=(BABS,))],
        id="3.5.2.2 remove one member (also Okta)",
    ),
    pytest.param(
        {"op": "remove", "path": f'members[value eq "{BABS}" or value eq "{JAMES}"]'},
        [MemberChange(MemberOp.REMOVE, member_ids=(BABS, JAMES))],
        id="remove members joined by or",
    ),
    pytest.param(
        {
            "op": "replace",
            "path": "members",
            "value": [{"value": BABS}, {"value": JAMES}],
        },
        [
            MemberChange(
                MemberOp.REPLACE_ALL, values=({"value": BABS}, {"value": JAMES})
            )
        ],
        id="3.5.2.3 replace all members",
    ),
    pytest.param(
        {"op": "replace", "path": "members", "value": []},
        [MemberChange(MemberOp.REPLACE_ALL)],
        id="replace members with none",
    ),
    pytest.param(
        {"op": "add", "path": "members", "value": [{"value": BABS}]},
        [MemberChange(MemberOp.ADD, values=({"value": BABS},))],
        id="okta add member",
    ),
    pytest.param(
        {"op": "Remove", "path": "members", "value": [{"value": BABS}]},
        [MemberChange(MemberOp.REMOVE, member_ids=(BABS,))],
        id="entra remove member with value",
    ),
    pytest.param(
        {"op": "add", "value": {"members": [{"value": BABS}]}},
        [MemberChange(MemberOp.ADD, values=({"value": BABS},))],
        id="members without path",
    ),
    pytest.param(
        {"op": "add", "path": "members", "value": []},
        [],
        id="adding no members changes nothing",
    ),
    pytest.param(
        {"op": "remove", "path": 'members[type eq "Group"]'},
        [
            MemberChange(
                MemberOp.REMOVE_MATCHING,
                value_filter=ValuePath(
                    AttributeReference("members"),
                    Comparison(AttributeReference("type"), "eq", "Group"),
                ),
            )
        ],
        id="remove members matching a filter",
    ),
    pytest.param(
        {
            "op": "replace",
            "path": f'members[value eq "{BABS}"]',
            "value": {"value": JAMES},
        },
        [
            MemberChange(MemberOp.REMOVE, member_ids=(BABS,), require_match=True),
            MemberChange(MemberOp.ADD, values=({"value": JAMES},)),
        ],
        id="replace the member a filter selects",
    ),
]


@pytest.mark.parametrize(("operation", "changes"), MEMBER_EXAMPLES)
def test_member_operations_become_member_changes(
    groups: ResourceType, operation: dict[str, Any], changes: list[MemberChange]
) -> None:
    document = {"displayName": "Tour Guides"}

    result = apply_patch(groups, document, body(operation))

    assert result.member_changes == changes
    assert result.document == document


def test_member_changes_keep_their_order(groups: ResourceType) -> None:
    """RFC 7644 §3.5.2.2: remove all members, then add others."""
    result = apply_patch(
        groups,
        {"displayName": "Tour Guides"},
        body(
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"value": JAMES}]},
            {"op": "replace", "value": {"id": "g1", "displayName": "Guides"}},
        ),
    )

    assert [change.op for change in result.member_changes] == [
        MemberOp.REMOVE_ALL,
        MemberOp.ADD,
    ]
    assert result.document == {"displayName": "Guides"}


@pytest.mark.parametrize(
    ("value_filter", "value", "expected"),
    [
        ('type eq "work"', {"type": "work"}, True),
        ('type eq "WORK"', {"type": "work"}, True),
        ('type eq "home"', {"type": "work"}, False),
        ('type ne "home"', {"type": "work"}, True),
        ('type ne "home"', {"value": "x"}, True),
        ('type eq "home"', {"value": "x"}, False),
        ("type pr", {"type": "work"}, True),
        ("type pr", {"type": ""}, False),
        ("type eq null", {"value": "x"}, True),
        ("type ne null", {"value": "x"}, False),
        ('value sw "BJ"', {"value": "bjensen@example.com"}, True),
        ('value ew ".com"', {"value": "bjensen@example.com"}, True),
        ('value co "jensen@"', {"value": "bjensen@example.com"}, True),
        ('value co "smith"', {"value": "bjensen@example.com"}, False),
        ('value gt "a"', {"value": "b"}, True),
        ('value le "a"', {"value": "b"}, False),
        ("primary eq true", {"primary": True}, True),
        ("primary eq false", {"value": "x"}, False),
        ('type eq "work" and primary eq true', {"type": "work"}, False),
        ('type eq "home" or primary eq true', {"primary": True}, True),
        ('not (type eq "work")', {"type": "work"}, False),
        ('not (type eq "work")', {"type": "home"}, True),
        ('type eq "a\\"b"', {"type": 'a"b'}, True),
    ],
)
def test_value_filter_evaluation(
    users: ResourceType, value_filter: str, value: dict[str, Any], expected: bool
) -> None:
    """RFC 7644 §3.4.2.2 operators, applied to one value of ``emails``."""
    path = parse_path(users, f"emails[{value_filter}]")

    assert path.value_filter is not None
    assert matches(path.value_filter, value, path.attribute) is expected


@pytest.mark.parametrize(
    ("text", "attribute", "sub_attribute", "has_filter"),
    [
        ("userName", "userName", None, False),
        ("NAME.givenname", "name", "givenName", False),
        (f"{ENTERPRISE}:manager.value", "manager", "value", False),
        ('emails[type eq "work"]', "emails", None, True),
        ('emails[type eq "work"].VALUE', "emails", "value", True),
        (
            'urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "x"]',
            "emails",
            None,
            True,
        ),
    ],
)
def test_parse_path(
    users: ResourceType,
    text: str,
    attribute: str,
    sub_attribute: str | None,
    has_filter: bool,
) -> None:
    path = parse_path(users, text)

    assert path.attribute.name == attribute
    assert (path.sub_attribute and path.sub_attribute.name) == sub_attribute
    assert (path.value_filter is not None) is has_filter


def test_errors_name_the_failing_operation(users: ResourceType) -> None:
    operations = body(
        {"op": "replace", "path": "nickName", "value": "B"},
        {"op": "replace", "path": "nope", "value": "x"},
    )

    with pytest.raises(ScimError) as error:
        apply_patch(users, BJENSEN, operations)

    assert error.value.detail == (
        "Operation 2: Unknown attribute 'nope' for User resources."
    )


def test_a_stored_read_only_value_is_kept(users: ResourceType) -> None:
    manager = {"value": "26118915", "displayName": "John Smith"}
    document = with_changes(BJENSEN, **{ENTERPRISE: {"manager": manager}})

    result = patched(
        users, document, {"op": "replace", "path": "nickName", "value": "B"}
    )

    assert result[ENTERPRISE] == {"manager": manager}
