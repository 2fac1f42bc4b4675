"""When a PATCH answers 204 No Content rather than the whole resource.

RFC 7644 §3.5.2: a successful PATCH returns 200 with the resource (subject to
``attributes``) or MAY return 204 No Content. scimserver answers 204 when

- the request asks for it with ``Prefer: return=minimal`` (RFC 7240 §4.2), and
  the response then says ``Preference-Applied: return=minimal``; or
- the client's profile takes 204 for member changes (see
  :attr:`Dialect.minimal_member_patch`), every operation changes a Group's
  ``members``, and the request names neither ``attributes`` nor
  ``excludedAttributes`` (naming them asks for a representation).

A 204 does not list the members, so adding one member costs the same whatever
the group's size; the ETag header still carries the new version.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Response

from scimserver.models import Resource
from scimserver.scim.dialects import Dialect
from scimserver.scim.errors import ScimError
from scimserver.scim.patch import parse_path
from scimserver.scim.representation import etag, related_attribute
from scimserver.scim.schema import ResourceType

logger = logging.getLogger(__name__)

RETURN_MINIMAL = "return=minimal"
MEMBERS = "members"


def prefers_minimal(prefer: str | None) -> bool:
    """Whether a ``Prefer`` header asks for ``return=minimal`` (RFC 7240 §4.2)."""
    for preference in (prefer or "").split(","):
        token = preference.split(";", 1)[0].replace(" ", "").lower()
        if token == RETURN_MINIMAL:
            return True
    return False


def answers_no_content(
    dialect: Dialect,
    resource_type: ResourceType,
    body: Any,
    args: Mapping[str, str],
    prefer: str | None,
) -> bool:
    """Whether a successful PATCH with ``body`` gets 204 instead of 200.

    ``args`` is the query string, ``prefer`` the ``Prefer`` header if sent.
    """
    if prefers_minimal(prefer):
        return True
    if not dialect.minimal_member_patch or related_attribute(resource_type) != MEMBERS:
        return False
    if "attributes" in args or "excludedAttributes" in args:
        return False
    return changes_only_members(resource_type, body)


def no_content(resource: Resource, prefer: str | None) -> Response:
    """The 204 response of a PATCH: no body, the new ETag."""
    response = Response(status=204, headers={"ETag": etag(resource)})
    if prefers_minimal(prefer):
        response.headers["Preference-Applied"] = RETURN_MINIMAL
    return response


def changes_only_members(resource_type: ResourceType, body: Any) -> bool:
    """Whether every operation of a PatchOp targets ``members`` (RFC 7644 §3.5.2)."""
    operations = _field(body, "Operations")
    if not isinstance(operations, list) or not operations:
        return False
    return all(_targets_members(resource_type, op) for op in operations)


def _targets_members(resource_type: ResourceType, operation: Any) -> bool:
    path = _field(operation, "path")
    if isinstance(path, str) and path.strip():
        return _is_members(resource_type, path.strip())
    value = _field(operation, "value")
    if not isinstance(value, dict) or not value:
        return False
    return all(_is_members(resource_type, key) for key in value)


def _is_members(resource_type: ResourceType, path: str) -> bool:
    try:
        target = parse_path(resource_type, path)
    except ScimError:
        return False
    return target.attribute.name.lower() == MEMBERS


def _field(container: Any, name: str) -> Any:
    """A JSON member read case-insensitively, as SCIM clients spell them freely."""
    if not isinstance(container, dict):
        return None
    for key, value in container.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return None
