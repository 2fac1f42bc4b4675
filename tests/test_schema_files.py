"""Checks of the schema and resource type JSON files in ``schemas/``.

Attribute characteristics follow RFC 7643 §2.2 and §7, the served schemas
follow §8.7.1 and the resource types follow §6 and §8.6.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

JsonObject = dict[str, Any]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIFECYCLE_SCHEMA = "urn:scimserver:params:scim:schemas:extension:lifecycle:1.0:User"
CONSENT_SCHEMA = "urn:scimserver:params:scim:schemas:extension:consent:1.0:User"
COMMON_SCHEMA = "urn:scimserver:internal:common"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"

SERVED_SCHEMA_FILES = (
    "User.json",
    "Group.json",
    "EnterpriseUser.json",
    "optional/Lifecycle.json",
    "Consent.json",
)
SCHEMA_FILES = (*SERVED_SCHEMA_FILES, "common.json")
RESOURCE_TYPE_FILES = ("resource_types/User.json", "resource_types/Group.json")

ATTRIBUTE_TYPES = frozenset(
    {
        "string",
        "boolean",
        "decimal",
        "integer",
        "dateTime",
        "binary",
        "reference",
        "complex",
    }
)
MUTABILITIES = frozenset({"readOnly", "readWrite", "immutable", "writeOnly"})
RETURNED_VALUES = frozenset({"always", "never", "default", "request"})
UNIQUENESS_VALUES = frozenset({"none", "server", "global"})

BOOLEAN_CHARACTERISTICS = ("multiValued", "required", "caseExact")
ENUMERATED_CHARACTERISTICS = {
    "type": ATTRIBUTE_TYPES,
    "mutability": MUTABILITIES,
    "returned": RETURNED_VALUES,
    "uniqueness": UNIQUENESS_VALUES,
}
MANDATORY_CHARACTERISTICS = frozenset(
    {"name", "description", *BOOLEAN_CHARACTERISTICS, *ENUMERATED_CHARACTERISTICS}
)
OPTIONAL_CHARACTERISTICS = frozenset(
    {"canonicalValues", "referenceTypes", "subAttributes"}
)


def load(relative_path: str) -> JsonObject:
    """Read one JSON document below ``schemas/``."""
    document: JsonObject = json.loads((SCHEMA_DIR / relative_path).read_text())
    return document


def walk_attributes(
    attributes: list[JsonObject], parent: str = ""
) -> Iterator[tuple[str, JsonObject]]:
    """Yield ``(dotted path, attribute)`` for attributes and their sub-attributes."""
    for attribute in attributes:
        path = f"{parent}{attribute.get('name', '?')}"
        yield path, attribute
        yield from walk_attributes(attribute.get("subAttributes", []), f"{path}.")


def find_attribute(relative_path: str, dotted_path: str) -> JsonObject:
    """Return the attribute at ``dotted_path`` in one schema file."""
    attributes = dict(walk_attributes(load(relative_path)["attributes"]))
    return attributes[dotted_path]


def is_string_list(value: object) -> bool:
    """Tell whether ``value`` is a non-empty list of non-empty strings."""
    if not isinstance(value, list) or not value:
        return False

    return all(isinstance(item, str) and item for item in value)


def characteristic_problems(attribute: JsonObject) -> list[str]:
    """List what is wrong with the characteristics of one attribute (RFC 7643 §7)."""
    keys = set(attribute)
    problems = [f"missing {key}" for key in sorted(MANDATORY_CHARACTERISTICS - keys)]
    unknown = keys - MANDATORY_CHARACTERISTICS - OPTIONAL_CHARACTERISTICS
    problems += [f"unknown characteristic {key}" for key in sorted(unknown)]

    for key in BOOLEAN_CHARACTERISTICS:
        if key in attribute and not isinstance(attribute[key], bool):
            problems.append(f"{key} is not a boolean")
    for key, allowed in ENUMERATED_CHARACTERISTICS.items():
        if key in attribute and attribute[key] not in allowed:
            problems.append(f"{key} {attribute[key]!r} is not allowed")
    for key in ("name", "description"):
        if not isinstance(attribute.get(key), str) or not attribute[key]:
            problems.append(f"{key} is not a non-empty string")

    return problems + shape_problems(attribute)


def shape_problems(attribute: JsonObject) -> list[str]:
    """List type-dependent problems: sub-attributes, references, canonical values."""
    problems = []
    is_complex = attribute.get("type") == "complex"
    is_reference = attribute.get("type") == "reference"

    if is_complex != ("subAttributes" in attribute):
        problems.append("subAttributes must be present exactly for complex types")
    if is_complex and not attribute.get("subAttributes"):
        problems.append("complex attribute without sub-attributes")
    if is_reference != is_string_list(attribute.get("referenceTypes")):
        problems.append("referenceTypes must be given exactly for reference types")
    if "canonicalValues" in attribute and not is_string_list(
        attribute["canonicalValues"]
    ):
        problems.append("canonicalValues is not a non-empty list of strings")

    return problems


def attribute_params() -> list[Any]:
    """Build one pytest parameter per attribute of every schema file."""
    return [
        pytest.param(attribute, id=f"{relative_path}:{path}")
        for relative_path in SCHEMA_FILES
        for path, attribute in walk_attributes(load(relative_path)["attributes"])
    ]


def all_strings(node: object) -> Iterator[str]:
    """Yield every string key and value inside a JSON value."""
    if isinstance(node, str):
        yield node
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from all_strings(value)
    if isinstance(node, list):
        for item in node:
            yield from all_strings(item)


@pytest.mark.parametrize("attribute", attribute_params())
def test_attribute_states_every_characteristic_with_allowed_values(
    attribute: JsonObject,
) -> None:
    assert characteristic_problems(attribute) == []


VALID_ATTRIBUTE: JsonObject = {
    "name": "nickName",
    "type": "string",
    "multiValued": False,
    "description": "A casual name.",
    "required": False,
    "caseExact": False,
    "mutability": "readWrite",
    "returned": "default",
    "uniqueness": "none",
}


def test_checker_accepts_a_valid_attribute() -> None:
    assert characteristic_problems(VALID_ATTRIBUTE) == []


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"returned": None}, id="missing-returned"),
        pytest.param({"caseExact": None}, id="missing-caseExact"),
        pytest.param({"type": "int"}, id="unknown-type"),
        pytest.param({"mutability": "readwrite"}, id="wrong-case-mutability"),
        pytest.param({"returned": "sometimes"}, id="unknown-returned"),
        pytest.param({"uniqueness": "tenant"}, id="unknown-uniqueness"),
        pytest.param({"required": "false"}, id="string-boolean"),
        pytest.param({"description": ""}, id="empty-description"),
        pytest.param({"type": "complex"}, id="complex-without-subs"),
        pytest.param({"subAttributes": [VALID_ATTRIBUTE]}, id="string-with-subs"),
        pytest.param({"type": "reference"}, id="reference-without-types"),
        pytest.param({"referenceTypes": ["User"]}, id="string-with-ref-types"),
        pytest.param({"canonicalValues": []}, id="empty-canonical-values"),
        pytest.param({"default": "x"}, id="unknown-characteristic"),
    ],
)
def test_checker_rejects_a_broken_attribute(changes: JsonObject) -> None:
    """A ``None`` in ``changes`` removes that characteristic."""
    merged = {**VALID_ATTRIBUTE, **changes}
    broken = {key: value for key, value in merged.items() if value is not None}

    assert characteristic_problems(broken) != []


@pytest.mark.parametrize("relative_path", SCHEMA_FILES)
def test_complex_attributes_hold_only_simple_sub_attributes(
    relative_path: str,
) -> None:
    """RFC 7643 §2.3.8: a complex attribute has no complex sub-attributes."""
    attributes = walk_attributes(load(relative_path)["attributes"])

    nested = [
        path
        for path, attribute in attributes
        if "." in path and attribute["type"] == "complex"
    ]

    assert nested == []


@pytest.mark.parametrize(
    ("relative_path", "schema_id", "name"),
    [
        ("User.json", USER_SCHEMA, "User"),
        ("Group.json", GROUP_SCHEMA, "Group"),
        ("EnterpriseUser.json", ENTERPRISE_USER_SCHEMA, "EnterpriseUser"),
        ("optional/Lifecycle.json", LIFECYCLE_SCHEMA, "LifecycleUser"),
        ("Consent.json", CONSENT_SCHEMA, "ConsentUser"),
        ("common.json", COMMON_SCHEMA, "Common"),
    ],
)
def test_schema_document_has_only_rfc_7643_section_7_fields(
    relative_path: str, schema_id: str, name: str
) -> None:
    document = load(relative_path)

    assert set(document) == {"id", "name", "description", "attributes"}
    assert (document["id"], document["name"]) == (schema_id, name)
    assert isinstance(document["description"], str) and document["description"]


@pytest.mark.parametrize("relative_path", SCHEMA_FILES + RESOURCE_TYPE_FILES)
def test_file_holds_no_server_url_or_meta(relative_path: str) -> None:
    document = load(relative_path)

    urls = [s for s in all_strings(document) if s.startswith(("http:", "https:"))]

    assert "meta" not in document
    assert urls == []


@pytest.mark.parametrize("relative_path", SCHEMA_FILES)
def test_attribute_names_are_unique_ignoring_case(relative_path: str) -> None:
    """RFC 7643 §2.1: attribute names are case insensitive."""
    paths = [path for path, _ in walk_attributes(load(relative_path)["attributes"])]

    assert len({path.lower() for path in paths}) == len(paths)


USER_ATTRIBUTE_NAMES = [
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
]
NAME_SUB_ATTRIBUTES = [
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
]
ADDRESS_SUB_ATTRIBUTES = [
    "formatted",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "type",
    "primary",
]
ENTERPRISE_ATTRIBUTE_NAMES = [
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
]
META_SUB_ATTRIBUTES = ["resourceType", "created", "lastModified", "location", "version"]
MULTI_VALUED_SUB_ATTRIBUTES = ["value", "display", "type", "primary"]
REFERENCE_SUB_ATTRIBUTES = ["value", "$ref", "display", "type"]


@pytest.mark.parametrize(
    ("relative_path", "parent", "names"),
    [
        ("User.json", None, USER_ATTRIBUTE_NAMES),
        ("User.json", "name", NAME_SUB_ATTRIBUTES),
        ("User.json", "emails", MULTI_VALUED_SUB_ATTRIBUTES),
        ("User.json", "phoneNumbers", MULTI_VALUED_SUB_ATTRIBUTES),
        ("User.json", "ims", MULTI_VALUED_SUB_ATTRIBUTES),
        ("User.json", "photos", MULTI_VALUED_SUB_ATTRIBUTES),
        ("User.json", "addresses", ADDRESS_SUB_ATTRIBUTES),
        ("User.json", "groups", REFERENCE_SUB_ATTRIBUTES),
        ("User.json", "entitlements", MULTI_VALUED_SUB_ATTRIBUTES),
        ("User.json", "roles", MULTI_VALUED_SUB_ATTRIBUTES),
        ("User.json", "x509Certificates", MULTI_VALUED_SUB_ATTRIBUTES),
        ("Group.json", None, ["displayName", "members"]),
        ("Group.json", "members", REFERENCE_SUB_ATTRIBUTES),
        ("EnterpriseUser.json", None, ENTERPRISE_ATTRIBUTE_NAMES),
        ("EnterpriseUser.json", "manager", ["value", "$ref", "displayName"]),
        ("common.json", None, ["id", "externalId", "meta"]),
        ("common.json", "meta", META_SUB_ATTRIBUTES),
    ],
)
def test_schema_defines_the_rfc_attribute_names(
    relative_path: str, parent: str | None, names: list[str]
) -> None:
    document = load(relative_path)
    attributes = (
        document["attributes"]
        if parent is None
        else find_attribute(relative_path, parent)["subAttributes"]
    )

    assert [attribute["name"] for attribute in attributes] == names


EMAIL_TYPES = ["work", "home", "other"]
PHONE_TYPES = ["work", "home", "mobile", "fax", "pager", "other"]
IM_TYPES = ["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]


@pytest.mark.parametrize(
    ("relative_path", "path", "characteristic", "expected"),
    [
        ("User.json", "userName", "required", True),
        ("User.json", "userName", "uniqueness", "server"),
        ("User.json", "userName", "caseExact", False),
        ("User.json", "name", "multiValued", False),
        ("User.json", "profileUrl", "referenceTypes", ["external"]),
        ("User.json", "active", "type", "boolean"),
        ("User.json", "password", "mutability", "writeOnly"),
        ("User.json", "password", "returned", "never"),
        ("User.json", "emails", "multiValued", True),
        ("User.json", "emails.type", "canonicalValues", EMAIL_TYPES),
        ("User.json", "phoneNumbers.type", "canonicalValues", PHONE_TYPES),
        ("User.json", "ims.type", "canonicalValues", IM_TYPES),
        ("User.json", "photos.type", "canonicalValues", ["photo", "thumbnail"]),
        ("User.json", "photos.value", "referenceTypes", ["external"]),
        ("User.json", "addresses.type", "canonicalValues", EMAIL_TYPES),
        ("User.json", "addresses.primary", "type", "boolean"),
        ("User.json", "groups", "mutability", "readOnly"),
        ("User.json", "groups.value", "mutability", "readOnly"),
        ("User.json", "groups.$ref", "mutability", "readOnly"),
        ("User.json", "groups.$ref", "referenceTypes", ["User", "Group"]),
        ("User.json", "groups.display", "mutability", "readOnly"),
        ("User.json", "groups.type", "canonicalValues", ["direct", "indirect"]),
        ("User.json", "groups.type", "mutability", "readOnly"),
        ("User.json", "x509Certificates.value", "type", "binary"),
        ("Group.json", "displayName", "required", True),
        ("Group.json", "members", "multiValued", True),
        ("Group.json", "members.value", "mutability", "immutable"),
        ("Group.json", "members.$ref", "mutability", "immutable"),
        ("Group.json", "members.$ref", "referenceTypes", ["User", "Group"]),
        ("Group.json", "members.type", "mutability", "immutable"),
        ("Group.json", "members.type", "canonicalValues", ["User", "Group"]),
        ("EnterpriseUser.json", "manager", "multiValued", False),
        ("EnterpriseUser.json", "manager.$ref", "referenceTypes", ["User"]),
        ("EnterpriseUser.json", "manager.displayName", "mutability", "readOnly"),
        ("common.json", "id", "mutability", "readOnly"),
        ("common.json", "id", "returned", "always"),
        ("common.json", "id", "caseExact", True),
        ("common.json", "id", "uniqueness", "server"),
        ("common.json", "externalId", "mutability", "readWrite"),
        ("common.json", "externalId", "caseExact", True),
        ("common.json", "meta", "mutability", "readOnly"),
        ("common.json", "meta.created", "type", "dateTime"),
        ("common.json", "meta.lastModified", "type", "dateTime"),
        ("common.json", "meta.resourceType", "mutability", "readOnly"),
        ("common.json", "meta.created", "mutability", "readOnly"),
        ("common.json", "meta.lastModified", "mutability", "readOnly"),
        ("common.json", "meta.location", "mutability", "readOnly"),
        ("common.json", "meta.version", "mutability", "readOnly"),
        ("common.json", "meta.location", "referenceTypes", ["uri"]),
    ],
)
def test_attribute_characteristic_matches_rfc_7643(
    relative_path: str, path: str, characteristic: str, expected: object
) -> None:
    attribute = find_attribute(relative_path, path)

    assert attribute[characteristic] == expected


@pytest.mark.parametrize("relative_path", RESOURCE_TYPE_FILES)
def test_resource_type_has_rfc_7643_section_6_fields(relative_path: str) -> None:
    document = load(relative_path)

    assert set(document) == {
        "schemas",
        "id",
        "name",
        "endpoint",
        "description",
        "schema",
        "schemaExtensions",
    }
    assert document["schemas"] == [RESOURCE_TYPE_SCHEMA]
    assert document["endpoint"].startswith("/")


@pytest.mark.parametrize("relative_path", RESOURCE_TYPE_FILES)
def test_resource_type_references_served_schema_ids(relative_path: str) -> None:
    served_ids = {load(path)["id"] for path in SERVED_SCHEMA_FILES}
    document = load(relative_path)

    referenced = [document["schema"]]
    referenced += [extension["schema"] for extension in document["schemaExtensions"]]

    assert set(referenced) <= served_ids


@pytest.mark.parametrize(
    ("relative_path", "endpoint", "schema_id", "extensions"),
    [
        (
            "resource_types/User.json",
            "/Users",
            USER_SCHEMA,
            [
                {"schema": ENTERPRISE_USER_SCHEMA, "required": False},
                {"schema": CONSENT_SCHEMA, "required": False},
            ],
        ),
        ("resource_types/Group.json", "/Groups", GROUP_SCHEMA, []),
    ],
)
def test_resource_type_matches_rfc_7643_section_8_6(
    relative_path: str,
    endpoint: str,
    schema_id: str,
    extensions: list[JsonObject],
) -> None:
    document = load(relative_path)

    assert document["endpoint"] == endpoint
    assert document["schema"] == schema_id
    assert document["schemaExtensions"] == extensions
