"""How release policies name attributes: full paths qualified by a schema URN.

A policy serves every resource type, and ``displayName`` or ``externalId`` exist
on Users and Groups alike, so a policy path always starts with the URN of the
schema that holds the attribute (RFC 7644 §3.10). The attributes common to every
resource (``id``, ``externalId``, ``meta``) are qualified by the core schema of
the resource type: ``urn:ietf:params:scim:schemas:core:2.0:User:externalId``.

Paths are stored in their canonical spelling (the case of the schema files), and
compared through :data:`PathKey`, the lower-cased (schema, attribute,
sub-attribute) triple.
"""

from __future__ import annotations

import logging
from typing import TypeAlias

from scimserver.scim.errors import InvalidPath
from scimserver.scim.schema import AttributePath, SchemaRegistry

logger = logging.getLogger(__name__)

#: (schema URN, attribute name, sub-attribute name or ""), lower-cased.
PathKey: TypeAlias = tuple[str, str, str]


def resolve_policy_path(registry: SchemaRegistry, text: str) -> AttributePath:
    """Resolve a URN-qualified policy path; raise :class:`InvalidPath` if unknown."""
    lowered = text.strip().lower()
    for resource_type in registry.resource_types:
        schemas = resource_type.all_schemas()
        if any(lowered.startswith(schema.id.lower() + ":") for schema in schemas):
            return resource_type.resolve(text.strip())
    raise InvalidPath(
        "the path does not start with the URN of a served schema: write "
        "urn:ietf:params:scim:schemas:core:2.0:User:emails, for example."
    )


def canonical_path(path: AttributePath) -> str:
    """The URN-qualified spelling of ``path`` that policies store."""
    text = f"{path.schema.id}:{path.attribute.name}"
    if path.sub_attribute is not None:
        text += "." + path.sub_attribute.name
    return text


def key_of(path: AttributePath) -> PathKey:
    """The key of a resolved path."""
    return path.key


def parse_key(canonical: str) -> PathKey:
    """The key of a canonical policy path (attribute names hold no colon)."""
    urn, _colon, rest = canonical.rpartition(":")
    attribute, _dot, sub = rest.partition(".")
    return (urn.lower(), attribute.lower(), sub.lower())


def parent_key(key: PathKey) -> PathKey:
    """The key of the attribute that holds a sub-attribute (itself if none)."""
    return (key[0], key[1], "")
