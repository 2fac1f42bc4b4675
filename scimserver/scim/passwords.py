"""Hashing of writeOnly secrets such as ``password`` before they are stored."""

from __future__ import annotations

from typing import Any

from werkzeug.security import generate_password_hash

from scimserver.scim.schema import ResourceType


def protect_secrets(
    resource_type: ResourceType,
    document: dict[str, Any],
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replace new clear-text writeOnly values by salted hashes.

    Values equal to the stored (already hashed) value are kept as they are, so that a
    PATCH which does not touch the password leaves it alone.
    """
    previous = previous or {}
    protected = dict(document)
    for attribute in resource_type.schema.attributes:
        if attribute.mutability != "writeOnly" or attribute.type != "string":
            continue
        value = document.get(attribute.name)
        if value is None or value == previous.get(attribute.name):
            continue
        protected[attribute.name] = generate_password_hash(str(value), "scrypt")
    return protected
