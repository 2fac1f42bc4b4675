"""Data categories of a consent: the attributes of the User it lets a recipient see.

A category is a schema URN (every attribute of that schema) or an attribute path,
as the release policy compares them (:mod:`scimserver.policy.consent_scope`).
Paths are stored qualified by their schema URN and spelt as the schema spells
them (RFC 7644 §3.10), so that ``phoneNumbers`` and
``urn:ietf:params:scim:schemas:core:2.0:User:phoneNumbers`` are one category.
An unknown category is refused: it would silently cover nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from scimserver.scim.errors import InvalidPath, InvalidValue
from scimserver.scim.schema import ResourceType

logger = logging.getLogger(__name__)


def canonical_categories(
    resource_type: ResourceType, categories: Iterable[str]
) -> tuple[str, ...]:
    """Return the categories qualified and deduplicated; 400 names each bad one."""
    canonical: list[str] = []
    unknown: list[str] = []
    for index, category in enumerate(categories):
        found = canonical_category(resource_type, category)
        if found is None:
            unknown.append(f"dataCategories[{index}]")
        elif found not in canonical:
            canonical.append(found)

    if unknown:
        raise InvalidValue(
            f"The consent request is not valid: {', '.join(unknown)}: not a schema "
            f"URN or attribute path of {resource_type.name} resources."
        )
    return tuple(canonical)


def canonical_category(resource_type: ResourceType, category: str) -> str | None:
    """The canonical spelling of one category, or None if it names nothing."""
    schema = resource_type.extension(category)
    if schema is not None:
        return schema.id
    try:
        path = resource_type.resolve(category)
    except InvalidPath:
        return None

    text = f"{path.schema.id}:{path.attribute.name}"
    if path.sub_attribute is not None:
        text += f".{path.sub_attribute.name}"
    return text
