"""Validation of POST and PUT payloads against the schemas (RFC 7643, RFC 7644 §3)."""

from __future__ import annotations

from typing import Any

import pytest

from scimserver.scim.errors import InvalidSyntax, InvalidValue, MutabilityError
from scimserver.scim.schema import Attribute, ResourceType, Schema, SchemaRegistry
from scimserver.scim.validation import (
    MAX_STRING_BYTES,
    check_simple_value,
    split_members,
    validate_document,
    validate_resource,
)

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DEVICE = "urn:example:params:scim:schemas:core:2.0:Device"


@pytest.fixture(scope="module")
def devices(users: ResourceType) -> ResourceType:
    """A resource type with an immutable attribute, which User and Group lack."""
    attributes = (
        Attribute("serialNumber", "string", DEVICE, mutability="immutable"),
        Attribute("label", "string", DEVICE),
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


def user(**attributes: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": "bjensen", **attributes}


def error_detail(error: pytest.ExceptionInfo[Exception]) -> str:
    return str(error.value)


def test_rfc7643_full_user_becomes_a_document(users: ResourceType) -> None:
    """RFC 7643 §8.2 and §8.3, shortened: readOnly parts are not kept."""
    payload = {
        "schemas": [USER, ENTERPRISE],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "active": True,
        "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
        ENTERPRISE: {
            "employeeNumber": "701984",
            "manager": {"value": "26118915", "displayName": "John Smith"},
        },
        "meta": {"resourceType": "User", "version": 'W/"3694e05e9dff591"'},
    }

    document = validate_resource(users, payload)

    assert document == {
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "active": True,
        ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "26118915"}},
    }


def test_names_are_matched_ignoring_case(users: ResourceType) -> None:
    payload = {
        "Schemas": [USER.upper(), ENTERPRISE.lower()],
        "USERNAME": "bjensen",
        "Name": {"GIVENNAME": "Barbara"},
        "emails": [{"VALUE": "b@example.com", "Type": "work"}],
        ENTERPRISE.lower(): {"Department": "HR"},
    }

    document = validate_resource(users, payload)

    assert document == {
        "userName": "bjensen",
        "name": {"givenName": "Barbara"},
        "emails": [{"value": "b@example.com", "type": "work"}],
        ENTERPRISE: {"department": "HR"},
    }


@pytest.mark.parametrize(
    ("schemas", "fragment"),
    [
        (None, "'schemas' must be a JSON array"),
        (USER, "'schemas' must be a JSON array"),
        ([USER, 7], "'schemas' must be a JSON array"),
        ([], f"must contain '{USER}'"),
        ([ENTERPRISE], f"must contain '{USER}'"),
        ([USER, "urn:example:unknown"], "urn:example:unknown"),
        ([USER, GROUP], GROUP),
    ],
)
def test_schemas_must_name_the_core_schema_and_known_extensions(
    users: ResourceType, schemas: Any, fragment: str
) -> None:
    payload = {"userName": "bjensen"}
    if schemas is not None:
        payload["schemas"] = schemas

    with pytest.raises(InvalidValue) as error:
        validate_resource(users, payload)

    assert fragment in error_detail(error)


def test_extension_attributes_need_their_schema_listed(users: ResourceType) -> None:
    with pytest.raises(InvalidValue, match="not listed in 'schemas'"):
        validate_resource(users, user(**{ENTERPRISE: {"department": "HR"}}))


def test_body_must_be_an_object(users: ResourceType) -> None:
    with pytest.raises(InvalidSyntax):
        validate_resource(users, [user()])  # type: ignore[arg-type]


def test_unknown_attributes_are_all_named(users: ResourceType) -> None:
    payload = user(
        favouriteColour="blue",
        name={"givenName": "Barbara", "petName": "Babs"},
        emails=[{"value": "b@example.com", "label": "x"}],
        **{ENTERPRISE: {"shoeSize": 38}, f"{ENTERPRISE}:department": "HR"},
    )
    payload["schemas"] = [USER, ENTERPRISE]

    with pytest.raises(InvalidValue) as error:
        validate_resource(users, payload)

    detail = error_detail(error)
    for name in (
        "'favouriteColour'",
        "'name.petName'",
        "'emails.label'",
        f"'{ENTERPRISE}:shoeSize'",
        f"'{ENTERPRISE}:department'",
    ):
        assert name in detail


@pytest.mark.parametrize(
    ("attributes", "fragment"),
    [
        ({"active": "true"}, "'active' must be a JSON boolean"),
        ({"active": 1}, "'active' must be a JSON boolean"),
        ({"userName": 42}, "'userName' must be a JSON string"),
        ({"name": "Barbara Jensen"}, "'name' is complex"),
        ({"name": {"givenName": ["Barbara"]}}, "'name.givenName' must be a JSON"),
        ({"emails": {"value": "b@example.com"}}, "'emails' is multi-valued"),
        ({"emails": ["b@example.com"]}, "'emails' is complex"),
        ({"emails": [{"value": "b@x.org", "primary": "yes"}]}, "emails.primary"),
        ({"profileUrl": 5}, "'profileUrl' must be a JSON string"),
        ({"x509Certificates": [{"value": "not base64!"}]}, "base64"),
        ({"displayName": "é" * (MAX_STRING_BYTES // 2 + 1)}, "2048 bytes"),
    ],
)
def test_values_must_have_the_declared_type(
    users: ResourceType, attributes: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidValue) as error:
        validate_resource(users, user(**attributes))

    assert fragment in error_detail(error)


def test_long_binary_values_are_allowed(users: ResourceType) -> None:
    certificate = "QUJD" * MAX_STRING_BYTES

    document = validate_resource(users, user(x509Certificates=[{"value": certificate}]))

    assert document["x509Certificates"] == [{"value": certificate}]


def test_string_of_exactly_the_limit_is_allowed(users: ResourceType) -> None:
    name = "é" * (MAX_STRING_BYTES // 2)

    assert validate_resource(users, user(displayName=name))["displayName"] == name


@pytest.mark.parametrize(
    ("kind", "value", "valid"),
    [
        ("dateTime", "2008-01-23T04:56:22Z", True),
        ("dateTime", "2008-01-23T04:56:22.123+02:00", True),
        ("dateTime", "2008-01-23T04:56:22", True),
        ("dateTime", "2008-01-23", False),
        ("dateTime", "2008-02-30T04:56:22Z", False),
        ("dateTime", "23/01/2008 04:56", False),
        ("dateTime", 1201064182, False),
        ("integer", 42, True),
        ("integer", -1, True),
        ("integer", 4.2, False),
        ("integer", "42", False),
        ("integer", True, False),
        ("decimal", 4.2, True),
        ("decimal", 4, True),
        ("decimal", "4.2", False),
        ("decimal", False, False),
        ("decimal", float("inf"), False),
        ("boolean", False, True),
        ("boolean", "false", False),
        ("boolean", 0, False),
        ("binary", "TWFu", True),
        ("binary", "TWF", False),
        ("reference", "https://example.com/v2/Users/1", True),
        ("reference", 1, False),
    ],
)
def test_simple_types(kind: str, value: Any, valid: bool) -> None:
    """RFC 7643 §2.3: the data types, with no coercion from strings."""
    attribute = Attribute("field", kind, DEVICE)

    if valid:
        assert check_simple_value(attribute, value, "field") == value
    else:
        with pytest.raises(InvalidValue, match="'field'"):
            check_simple_value(attribute, value, "field")


def test_suggested_canonical_values_are_not_enforced(users: ResourceType) -> None:
    """RFC 7643 §2.2: canonicalValues are suggestions; clients use their own."""
    email = {"value": "b@example.com", "type": "Corporate"}

    document = validate_resource(users, user(emails=[email]))

    assert document["emails"] == [email]


def test_read_only_attributes_are_ignored(users: ResourceType) -> None:
    """RFC 7644 §3.3: readOnly values in a request are ignored."""
    payload = user(
        id="chosen-by-client",
        meta={"created": "not even a date"},
        groups=[{"value": "g1"}],
        **{ENTERPRISE: {"manager": {"value": "m1", "displayName": "Boss"}}},
    )
    payload["schemas"] = [USER, ENTERPRISE]

    document = validate_resource(users, payload)

    assert document == {"userName": "bjensen", ENTERPRISE: {"manager": {"value": "m1"}}}


def test_unassigned_values_are_dropped(users: ResourceType) -> None:
    """RFC 7643 §2.5: null, "", [] and {} are all 'no value'."""
    payload = user(
        nickName="",
        title=None,
        name={},
        phoneNumbers=[],
        emails=[{"value": "", "type": ""}, None, {"value": "b@example.com"}],
        addresses=[{"locality": "Paris", "region": None}],
    )

    document = validate_resource(users, payload)

    assert document == {
        "userName": "bjensen",
        "emails": [{"value": "b@example.com"}],
        "addresses": [{"locality": "Paris"}],
    }


def test_identical_values_are_kept_once(users: ResourceType) -> None:
    email = {"value": "b@example.com", "type": "work"}

    document = validate_resource(users, user(emails=[email, dict(email)]))

    assert document["emails"] == [email]


def test_one_primary_value_at_most(users: ResourceType) -> None:
    emails = [
        {"value": "a@example.com", "primary": True},
        {"value": "b@example.com", "primary": True},
    ]

    with pytest.raises(InvalidValue, match="more than one value with primary"):
        validate_resource(users, user(emails=emails))


def test_attribute_given_twice_in_different_case(users: ResourceType) -> None:
    with pytest.raises(InvalidValue, match="'nickName' is given twice"):
        validate_resource(users, user(nickName="Babs", nickname="B"))


@pytest.mark.parametrize(
    ("resource", "payload", "missing"),
    [
        ("User", {"schemas": [USER], "displayName": "Babs"}, "'userName'"),
        ("User", {"schemas": [USER], "userName": ""}, "'userName'"),
        ("Group", {"schemas": [GROUP], "members": []}, "'displayName'"),
    ],
)
def test_required_attributes(
    registry: SchemaRegistry, resource: str, payload: dict[str, Any], missing: str
) -> None:
    resource_type = registry.resource_type(resource)
    assert resource_type is not None

    with pytest.raises(InvalidValue, match=missing):
        validate_resource(resource_type, payload)


def test_required_sub_attributes_are_checked_in_each_value(
    devices: ResourceType,
) -> None:
    port = (
        Attribute("value", "string", DEVICE, required=True),
        Attribute("display", "string", DEVICE),
    )
    ports = Attribute(
        "ports", "complex", DEVICE, multi_valued=True, sub_attributes=port
    )
    schema = Schema(DEVICE, "Device", "", (ports,))
    resource_type = ResourceType(
        "Device", "Device", "/Devices", "", schema, (), devices.common
    )

    payload = {"schemas": [DEVICE], "ports": [{"value": "p1"}, {"display": "eth0"}]}

    with pytest.raises(InvalidValue, match=r"'ports\.value'"):
        validate_resource(resource_type, payload)


def test_put_clears_read_write_attributes_it_does_not_name(
    users: ResourceType,
) -> None:
    """RFC 7644 §3.5.1: PUT replaces all readWrite attributes."""
    existing = {
        "userName": "bjensen",
        "nickName": "Babs",
        "emails": [{"value": "b@example.com"}],
        ENTERPRISE: {"department": "HR"},
    }

    document = validate_resource(users, user(displayName="B"), existing)

    assert document == {"userName": "bjensen", "displayName": "B"}


def test_put_keeps_the_write_only_password(users: ResourceType) -> None:
    """The client cannot read the password back, so a PUT without it keeps it."""
    existing = {"userName": "bjensen", "password": "scrypt:hash"}

    kept = validate_resource(users, user(), existing)
    changed = validate_resource(users, user(password="n3w-Secret"), existing)

    assert kept["password"] == "scrypt:hash"
    assert changed["password"] == "n3w-Secret"


def test_put_keeps_server_set_read_only_values(users: ResourceType) -> None:
    existing = {"userName": "bjensen", "groups": [{"value": "g1"}]}

    document = validate_resource(users, user(groups=[{"value": "g2"}]), existing)

    assert document["groups"] == [{"value": "g1"}]


@pytest.mark.parametrize(
    ("existing", "payload", "expected"),
    [
        ({}, {"serialNumber": "S1"}, {"serialNumber": "S1"}),
        ({"serialNumber": "S1"}, {"serialNumber": "S1"}, {"serialNumber": "S1"}),
        ({"serialNumber": "S1"}, {"label": "x"}, {"serialNumber": "S1", "label": "x"}),
        ({"owner": {"value": "u1"}}, {"owner": {"display": "Babs"}}, None),
    ],
)
def test_put_may_set_an_immutable_attribute_once(
    devices: ResourceType,
    existing: dict[str, Any],
    payload: dict[str, Any],
    expected: dict[str, Any] | None,
) -> None:
    """RFC 7644 §3.5.1: immutable values may be set, then only repeated."""
    document = validate_resource(devices, {"schemas": [DEVICE], **payload}, existing)

    if expected is None:
        expected = {"owner": {"display": "Babs", "value": "u1"}}
    assert document == expected


@pytest.mark.parametrize(
    ("existing", "payload"),
    [
        ({"serialNumber": "S1"}, {"serialNumber": "S2"}),
        ({"owner": {"value": "u1"}}, {"owner": {"value": "u2"}}),
    ],
)
def test_put_cannot_change_an_immutable_attribute(
    devices: ResourceType, existing: dict[str, Any], payload: dict[str, Any]
) -> None:
    with pytest.raises(MutabilityError, match="immutable"):
        validate_resource(devices, {"schemas": [DEVICE], **payload}, existing)


def test_post_may_set_an_immutable_attribute(devices: ResourceType) -> None:
    payload = {"schemas": [DEVICE], "serialNumber": "S1"}

    assert validate_resource(devices, payload) == {"serialNumber": "S1"}


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ([{"value": "u1", "display": "Babs"}], [{"value": "u1"}]),
        ([{"VALUE": "u1", "type": "User"}], [{"value": "u1", "type": "User"}]),
        ([{"value": "u1"}, {"value": "u1"}], [{"value": "u1"}]),
        (None, []),
        ([], []),
    ],
)
def test_split_members_takes_members_out_of_a_group_payload(
    groups: ResourceType, members: Any, expected: list[dict[str, Any]]
) -> None:
    payload = {"schemas": [GROUP], "displayName": "Tour Guides", "Members": members}

    rest, found = split_members(groups, payload)

    assert found == expected
    assert rest == {"schemas": [GROUP], "displayName": "Tour Guides"}
    assert validate_resource(groups, rest) == {"displayName": "Tour Guides"}


def test_split_members_without_members_gives_none(groups: ResourceType) -> None:
    payload = {"schemas": [GROUP], "displayName": "Tour Guides"}

    assert split_members(groups, payload) == (payload, None)


def test_split_members_leaves_users_alone(users: ResourceType) -> None:
    payload = user()

    assert split_members(users, payload) == (payload, None)


@pytest.mark.parametrize(
    "members",
    [
        [{"display": "Babs"}],
        [{"value": 42}],
        [{"value": "u1", "colour": "red"}],
        {"value": "u1"},
    ],
)
def test_split_members_rejects_invalid_members(
    groups: ResourceType, members: Any
) -> None:
    payload = {"schemas": [GROUP], "displayName": "Tour Guides", "members": members}

    with pytest.raises(InvalidValue):
        split_members(groups, payload)


def test_validate_resource_never_keeps_members(groups: ResourceType) -> None:
    payload = {"schemas": [GROUP], "displayName": "T", "members": [{"value": "u1"}]}

    assert validate_resource(groups, payload) == {"displayName": "T"}


def test_validate_document_keeps_read_only_values(users: ResourceType) -> None:
    document = {
        "userName": "bjensen",
        ENTERPRISE: {"manager": {"value": "m1", "displayName": "Boss"}, "division": ""},
    }

    checked = validate_document(users, document)

    assert checked == {
        "userName": "bjensen",
        ENTERPRISE: {"manager": {"value": "m1", "displayName": "Boss"}},
    }


def test_validate_document_reports_missing_with_the_given_error(
    users: ResourceType,
) -> None:
    with pytest.raises(MutabilityError, match="'userName'"):
        validate_document(users, {"nickName": "Babs"}, MutabilityError)
