"""Schemas, a data dictionary with sensitive attributes, and consents for the tests
of the release policy.

The shipped dictionary classifies nothing as ``sensitive`` yet, so the tests mark
three attributes sensitive: a multi-valued complex attribute, an extension
attribute and one sub-attribute with an entry of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from scimserver.policy.dictionary import DataDictionary, Entry
from scimserver.policy.policy_document import PolicyDocument
from scimserver.policy.release import ReleasePolicy
from scimserver.scim.schema import ResourceType, SchemaRegistry

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SENSITIVE = (
    f"{USER}:phoneNumbers",
    f"{ENTERPRISE}:costCenter",
    f"{USER}:name.middleName",
)
KEY = b"k" * 32


@dataclass(frozen=True)
class GrantedConsent:
    """A consent as the consent store hands it over."""

    purpose: str
    recipient: str
    data_categories: tuple[str, ...]


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(SCHEMAS)


@cache
def dictionary() -> DataDictionary:
    """The shipped dictionary, with :data:`SENSITIVE` marked sensitive.

    Attributes the shipped dictionary misses count as internal here, so that the
    tests do not depend on another schema's entries being written yet.
    """
    shipped = DataDictionary.load(SCHEMAS)
    entries = dict(shipped.entries)
    for key in shipped.missing(registry()):
        entries[key] = Entry("internal", "HR", "test", "test")
    for key in SENSITIVE:
        base = entries.get(key) or entries[key.rpartition(".")[0]]
        entries[key] = replace(base, classification="sensitive")
    return DataDictionary(entries, shipped.classifications)


def users() -> ResourceType:
    found = registry().resource_type("User")
    assert found is not None
    return found


def groups() -> ResourceType:
    found = registry().resource_type("Group")
    assert found is not None
    return found


def policy(client: str = "lms", **fields: Any) -> ReleasePolicy:
    """A release policy built from :class:`PolicyDocument` fields."""
    document = PolicyDocument(**fields)
    key = KEY if document.pseudonymous else None
    return ReleasePolicy(document, client, dictionary(), pseudonym_key=key)


def user_body() -> dict[str, Any]:
    """A full User representation, as :func:`represent` returns it."""
    return {
        "schemas": [USER, ENTERPRISE],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "hr-701984",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "middleName": "Jane", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
        "addresses": [{"locality": "Hollywood", "type": "work"}],
        "groups": [
            {
                "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
                "$ref": "http://h/scim/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
                "display": "Tour Guides",
                "type": "direct",
            }
        ],
        ENTERPRISE: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "manager": {
                "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                "$ref": "http://h/scim/v2/Users/26118915-6090-4610-87e4-49d8ca9f808d",
                "displayName": "John Smith",
            },
        },
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22.000Z",
            "lastModified": "2011-05-13T04:42:34.000Z",
            "location": "http://h/scim/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "version": 'W/"3"',
        },
    }
