"""Client compatibility profiles: what each provisioning client sends, normalised.

A :class:`Dialect` rewrites a request body before validation (POST, PUT) or before
the PATCH is applied, so that the rest of the server sees plain RFC 7643/7644
SCIM. The client's ``profile`` column picks the dialect; the ``standard`` profile
changes nothing.

What the other profiles accept beyond RFC 7644:

- ``entra`` (Microsoft Entra ID): the strings ``"True"`` and ``"False"`` (any case)
  for boolean attributes, in resources and in PATCH values; a single-valued
  attribute given as ``[{"value": x}]`` in a PATCH, the form older Entra jobs send;
  schema URNs in ``schemas`` that the resource type does not know and no attribute
  uses (Entra lists an Active Directory group schema). Entra's other habits are
  standard enough for every profile: PascalCase ``op``, path-less values whose
  keys are attribute paths, the enterprise ``manager`` as a bare id, and member
  removal by ``path: members`` with a value list (see :mod:`.patch`).
- ``okta``: a PUT without ``active`` keeps the stored ``active``. Under RFC 7644
  §3.5.1 (the ``standard`` and ``entra`` profiles) a PUT replaces every readWrite
  attribute, so a PUT without ``active`` leaves it unassigned; scimserver never
  reads an unassigned ``active`` as inactive.

The ``entra`` profile answers a PATCH that only changes a Group's members with
204 No Content (RFC 7644 §3.5.2 allows it; Microsoft's provisioning service takes
it, and its own SCIM examples answer member changes so), which keeps member
changes to a large group cheap. Other profiles get 204 when they send ``Prefer:
return=minimal`` (:mod:`.patch_response`).

Both ``entra`` and ``okta`` rehire: a POST naming the ``userName`` or ``externalId``
of an inactive or soft-deleted User reactivates and updates that User
(:mod:`.deprovisioning`). Under ``standard`` the POST fails with 409 uniqueness.
"""

from __future__ import annotations

import logging
from typing import Any

from scimserver.policy.auth import current_client
from scimserver.policy.client_settings import Profile, profile_of
from scimserver.scim.errors import ScimError
from scimserver.scim.patch import parse_path
from scimserver.scim.schema import Attribute, ResourceType, Schema

logger = logging.getLogger(__name__)

ACTIVE = "active"
STRING_BOOLEANS = {"true": True, "false": False}


class Dialect:
    """The ``standard`` profile: requests are read exactly as RFC 7644 says."""

    profile = Profile.STANDARD
    #: Whether a POST may reactivate an inactive User with the same identity.
    rehires = False
    #: Whether a PATCH changing only a Group's members answers 204 No Content
    #: (RFC 7644 §3.5.2; see :mod:`.patch_response`).
    minimal_member_patch = False

    def prepare_resource(
        self,
        resource_type: ResourceType,
        payload: Any,
        existing: dict[str, Any] | None = None,
    ) -> Any:
        """Return the POST (RFC 7644 §3.3) or PUT (§3.5.1) body to validate.

        ``existing`` is the stored document on PUT.
        """
        return payload

    def prepare_patch(self, resource_type: ResourceType, body: Any) -> Any:
        """Return the PatchOp body (RFC 7644 §3.5.2) to apply."""
        return body


class EntraDialect(Dialect):
    """Microsoft Entra ID's provisioning service."""

    profile = Profile.ENTRA
    rehires = True
    minimal_member_patch = True

    def prepare_resource(
        self,
        resource_type: ResourceType,
        payload: Any,
        existing: dict[str, Any] | None = None,
    ) -> Any:
        if not isinstance(payload, dict):
            return payload
        prepared = {
            key: _coerce_at(resource_type, key, value) for key, value in payload.items()
        }
        return _drop_unused_schemas(resource_type, prepared)

    def prepare_patch(self, resource_type: ResourceType, body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        prepared = dict(body)
        for key, operations in body.items():
            if key.lower() == "operations" and isinstance(operations, list):
                prepared[key] = [_operation(resource_type, op) for op in operations]
        return prepared


class OktaDialect(Dialect):
    """Okta's SCIM 2.0 provisioning."""

    profile = Profile.OKTA
    rehires = True

    def prepare_resource(
        self,
        resource_type: ResourceType,
        payload: Any,
        existing: dict[str, Any] | None = None,
    ) -> Any:
        if not isinstance(payload, dict) or existing is None:
            return payload
        if ACTIVE not in existing or any(k.lower() == ACTIVE for k in payload):
            return payload
        logger.debug("PUT without active keeps the stored value (okta profile)")
        return {**payload, ACTIVE: existing[ACTIVE]}


DIALECTS: dict[Profile, Dialect] = {
    Profile.STANDARD: Dialect(),
    Profile.ENTRA: EntraDialect(),
    Profile.OKTA: OktaDialect(),
}


def dialect_for(profile: Profile | str) -> Dialect:
    """Return the dialect of ``profile``; unknown names get the standard one."""
    try:
        return DIALECTS[Profile(profile)]
    except ValueError:
        return DIALECTS[Profile.STANDARD]


def current_dialect() -> Dialect:
    """The dialect of the authenticated client; standard outside a request."""
    client = current_client()
    return dialect_for(profile_of(client) if client else Profile.STANDARD)


def _operation(resource_type: ResourceType, operation: Any) -> Any:
    """One PATCH operation with Entra's value forms made standard."""
    if not isinstance(operation, dict):
        return operation
    fields = {key.lower(): key for key in operation}
    if "value" not in fields:
        return operation

    value = operation[fields["value"]]
    path = operation.get(fields.get("path", ""))
    if isinstance(path, str) and path.strip():
        value = _coerce_at(resource_type, path.strip(), value, unwrap=True)
    elif isinstance(value, dict):
        value = {k: _coerce_at(resource_type, k, v) for k, v in value.items()}
    return {**operation, fields["value"]: value}


def _coerce_at(
    resource_type: ResourceType, path: str, value: Any, *, unwrap: bool = False
) -> Any:
    """Coerce ``value`` written at ``path``; unknown paths are left to validation."""
    extension = _extension(resource_type, path)
    if extension is not None:
        return _coerce_section(extension, value)
    try:
        target = parse_path(resource_type, path)
    except ScimError:
        return value

    attribute = target.sub_attribute or target.attribute
    if target.value_filter is not None and target.sub_attribute is None:
        return _coerce(attribute, value, one=True)
    if unwrap:
        value = _unwrap_single(attribute, value)
    return _coerce(attribute, value)


def _coerce_section(schema: Schema, value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return {k: _coerce(schema.attribute(k), v) for k, v in value.items()}


def _coerce(attribute: Attribute | None, value: Any, *, one: bool = False) -> Any:
    """Turn ``"True"``/``"False"`` into booleans wherever the schema says boolean."""
    if attribute is None:
        return value
    if isinstance(value, list) and (attribute.multi_valued and not one):
        return [_coerce(attribute, item, one=True) for item in value]
    if attribute.is_complex and isinstance(value, dict):
        return {k: _coerce(attribute.sub_attribute(k), v) for k, v in value.items()}
    if attribute.type == "boolean" and isinstance(value, str):
        return STRING_BOOLEANS.get(value.strip().lower(), value)
    return value


def _unwrap_single(attribute: Attribute, value: Any) -> Any:
    """``[{"value": x}]`` for a single-valued attribute means ``x`` (or the object)."""
    if attribute.multi_valued or not isinstance(value, list) or len(value) != 1:
        return value
    item = value[0]
    if attribute.is_complex:
        return item
    if isinstance(item, dict) and [k.lower() for k in item] == ["value"]:
        return next(iter(item.values()))
    return value


def _extension(resource_type: ResourceType, text: str) -> Schema | None:
    if not text.lower().startswith("urn:"):
        return None
    schema = resource_type.extension(text)
    return None if schema is resource_type.schema else schema


def _drop_unused_schemas(
    resource_type: ResourceType, payload: dict[str, Any]
) -> dict[str, Any]:
    """Forget schema URNs the resource type does not know and no key uses."""
    key = next((k for k in payload if k.lower() == "schemas"), None)
    if key is None or not isinstance(payload[key], list):
        return payload

    used = {k.lower() for k in payload}
    kept = [
        urn
        for urn in payload[key]
        if not isinstance(urn, str)
        or resource_type.extension(urn) is not None
        or urn.lower() in used
    ]
    return {**payload, key: kept}
