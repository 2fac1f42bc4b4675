"""Validation of SCIM resource payloads against their schemas (RFC 7643 §2, §7).

:func:`validate_resource` turns the body of a POST or PUT into the *document* the
store keeps: attribute names spelled as the schema spells them, values of the
declared types, extension attributes under their schema URN, no readOnly values and
nothing unassigned. ``id``, ``meta``, ``schemas`` and the Group ``members`` are not
part of the document; :func:`split_members` takes the members out of a payload.

Choices where the RFCs leave room:

- ``canonicalValues`` are suggestions (RFC 7643 §2.2): any value is accepted, since
  identity providers send their own ``type`` values. The one vocabulary the server
  relies on, ``members.type``, is checked by the store against the member itself.
- No type coercion: booleans must be JSON booleans, integers JSON integers.
- Strings and references hold at most :data:`MAX_STRING_BYTES` UTF-8 bytes, the
  size of an entry of the value index; binary values are exempt.
- writeOnly values such as ``password`` are kept as given; the caller hashes them
  (:mod:`scimserver.scim.passwords`). A PUT without them keeps the stored value,
  since a client can never read it back to send it again.
- On PUT, immutable sub-attributes are compared only inside singular complex
  attributes: the values of a multi-valued attribute have no identity by which an
  old value could be paired with a new one.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from scimserver.scim.errors import (
    BadRequest,
    InvalidSyntax,
    InvalidValue,
    MutabilityError,
)
from scimserver.scim.schema import Attribute, ResourceType, Schema

logger = logging.getLogger(__name__)

MAX_STRING_BYTES = 2048
MEMBERS = "members"

_DATE_TIME = re.compile(
    r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?"
)
_KEPT_ON_PUT = ("immutable", "writeOnly", "readOnly")


def validate_resource(
    resource_type: ResourceType,
    payload: dict[str, Any],
    existing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the canonical document for a POST (RFC 7644 §3.3) or PUT (§3.5.1).

    ``existing`` is the stored document on PUT: readWrite attributes absent from the
    payload are cleared, immutable ones must keep their value, writeOnly and
    readOnly ones stay. Raises :class:`InvalidValue` or :class:`MutabilityError`.
    """
    if not isinstance(payload, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    _check_schemas(resource_type, payload)

    cleaner = _Cleaner(keep_read_only=False, check_required=True)
    document = _read_document(cleaner, resource_type, payload)
    cleaner.raise_unknown()
    if existing is not None:
        document = _carry_over(resource_type, document, existing)

    cleaner.missing += missing_required(resource_type, document)
    cleaner.raise_missing(InvalidValue)
    return document


def validate_document(
    resource_type: ResourceType,
    document: dict[str, Any],
    missing_error: type[BadRequest] = InvalidValue,
) -> dict[str, Any]:
    """Check a whole document again, e.g. after a PATCH, and return it canonical.

    Unlike a payload, the document may hold readOnly values the server set. A
    required attribute that is missing raises ``missing_error``.
    """
    cleaner = _Cleaner(keep_read_only=True, check_required=True)
    cleaned = _read_document(cleaner, resource_type, document)
    cleaner.raise_unknown()

    cleaner.missing += missing_required(resource_type, cleaned)
    cleaner.raise_missing(missing_error)
    return cleaned


def check_value(
    attribute: Attribute, value: Any, where: str, *, one: bool = False
) -> Any:
    """Return ``value`` checked against ``attribute``, canonical; None if unassigned.

    With ``one``, ``value`` is a single value of a multi-valued attribute. This is
    for fragments such as PATCH values: readOnly sub-attributes are dropped and
    required sub-attributes are left to a later :func:`validate_document`.
    """
    cleaner = _Cleaner(keep_read_only=False, check_required=False)
    if one and not is_unassigned(value):
        cleaned = cleaner.one(attribute, value, where)
    else:
        cleaned = cleaner.value(attribute, value, where)
    cleaner.raise_unknown()
    return cleaned


def split_members(
    resource_type: ResourceType, payload: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """Take the Group ``members`` out of a payload; the store keeps them apart.

    Returns the rest of the payload and the checked members, or None when the
    payload has no ``members`` (an explicit null or empty list gives ``[]``).
    """
    attribute = members_attribute(resource_type)
    if attribute is None or not isinstance(payload, dict):
        return payload, None

    rest = {k: v for k, v in payload.items() if k.lower() != attribute.name.lower()}
    if len(rest) == len(payload):
        return payload, None
    given = next(v for k, v in payload.items() if k.lower() == attribute.name.lower())
    return rest, validate_members(attribute, given)


def validate_members(attribute: Attribute, value: Any) -> list[dict[str, Any]]:
    """Return checked ``members`` values; each needs a ``value``, the member's id."""
    given = value if isinstance(value, list) else [value]
    if not all(_has_member_id(member) for member in given if member is not None):
        raise InvalidValue(
            f"Each of '{attribute.name}' needs a 'value', the id of a User or Group."
        )

    cleaner = _Cleaner(keep_read_only=False, check_required=True)
    members: list[dict[str, Any]] = (
        cleaner.value(attribute, value, attribute.name) or []
    )
    cleaner.raise_unknown()
    cleaner.raise_missing(InvalidValue)
    return members


def _has_member_id(member: Any) -> bool:
    if not isinstance(member, dict):
        return False
    return any(k.lower() == "value" and isinstance(v, str) for k, v in member.items())


def members_attribute(resource_type: ResourceType) -> Attribute | None:
    """Return the ``members`` attribute that the store keeps outside the document."""
    return resource_type.schema.attribute(MEMBERS)


def missing_required(
    resource_type: ResourceType, document: dict[str, Any]
) -> list[str]:
    """Return the required attributes that ``document`` lacks (RFC 7643 §2.2)."""
    held_apart = members_attribute(resource_type)
    core = [*resource_type.common.attributes, *resource_type.schema.attributes]
    missing = [
        a.name
        for a in _required(core)
        if a.name not in document and a is not held_apart
    ]

    for schema, extension_required in resource_type.extensions:
        section = document.get(schema.id)
        if section is None and not extension_required:
            continue
        missing += [
            f"{schema.id}:{a.name}"
            for a in _required(schema.attributes)
            if a.name not in (section or {})
        ]
    return missing


def is_unassigned(value: Any) -> bool:
    """RFC 7643 §2.5: null, "", [] and {} all leave an attribute unassigned."""
    return value is None or (isinstance(value, str | list | dict) and not value)


def check_simple_value(attribute: Attribute, value: Any, where: str) -> Any:
    """Check a value of a non-complex attribute against its type (RFC 7643 §2.3)."""
    if attribute.type == "boolean":
        return _expect(value, bool, "a JSON boolean", where)
    if attribute.type == "integer":
        if isinstance(value, bool):
            raise InvalidValue(f"'{where}' must be a JSON integer.")
        return _expect(value, int, "a JSON integer", where)
    if attribute.type == "decimal":
        return _check_decimal(value, where)

    text = _expect(value, str, "a JSON string", where)
    if attribute.type == "binary":
        return _check_binary(text, where)
    if len(text.encode("utf-8")) > MAX_STRING_BYTES:
        raise InvalidValue(f"'{where}' is longer than {MAX_STRING_BYTES} bytes.")
    if attribute.type == "dateTime":
        _check_date_time(text, where)
    return text


class _Cleaner:
    """Checks values against their definitions, gathering unknown and missing names."""

    def __init__(self, *, keep_read_only: bool, check_required: bool) -> None:
        self.keep_read_only = keep_read_only
        self.check_required = check_required
        self.unknown: list[str] = []
        self.missing: list[str] = []

    def value(self, attribute: Attribute, value: Any, where: str) -> Any:
        """Return ``value`` canonical, or None when it leaves it unassigned."""
        if is_unassigned(value):
            return None
        if not attribute.multi_valued:
            return self.one(attribute, value, where)
        if not isinstance(value, list):
            raise InvalidValue(f"'{where}' is multi-valued: give a JSON array.")

        values: list[Any] = []
        for item in value:
            cleaned = None if is_unassigned(item) else self.one(attribute, item, where)
            if cleaned is not None and cleaned not in values:
                values.append(cleaned)
        _check_primary(values, where)
        return values or None

    def one(self, attribute: Attribute, value: Any, where: str) -> Any:
        """Return one value of ``attribute`` canonical (None when unassigned)."""
        if not attribute.is_complex:
            return check_simple_value(attribute, value, where)
        if not isinstance(value, dict):
            raise InvalidValue(f"'{where}' is complex: give a JSON object.")

        cleaned = self.attributes(attribute.sub_attribute, value, f"{where}.")
        if cleaned and self.check_required:
            self.missing += [
                f"{where}.{sub.name}"
                for sub in _required(attribute.sub_attributes)
                if sub.name not in cleaned
            ]
        return cleaned or None

    def attributes(
        self,
        find: Callable[[str], Attribute | None],
        values: dict[str, Any],
        prefix: str,
    ) -> dict[str, Any]:
        """Return the attributes of a JSON object, found by name with ``find``."""
        cleaned: dict[str, Any] = {}
        seen: set[str] = set()
        for name, value in values.items():
            attribute = find(name)
            if attribute is None:
                self.unknown.append(prefix + name)
                continue
            if attribute.name in seen:
                raise InvalidValue(f"'{prefix}{attribute.name}' is given twice.")
            seen.add(attribute.name)

            if attribute.mutability == "readOnly" and not self.keep_read_only:
                logger.debug("ignored readOnly attribute %s%s", prefix, attribute.name)
                continue
            checked = self.value(attribute, value, prefix + attribute.name)
            if checked is not None:
                cleaned[attribute.name] = checked
        return cleaned

    def raise_unknown(self) -> None:
        if self.unknown:
            names = ", ".join(f"'{name}'" for name in self.unknown)
            raise InvalidValue(f"Unknown attributes: {names}.")

    def raise_missing(self, error: type[BadRequest]) -> None:
        if self.missing:
            names = ", ".join(f"'{name}'" for name in self.missing)
            raise error(f"Required attributes are missing: {names}.")


def _read_document(
    cleaner: _Cleaner, resource_type: ResourceType, values: dict[str, Any]
) -> dict[str, Any]:
    """Split core from extension attributes and clean each part."""
    core: dict[str, Any] = {}
    extensions: dict[str, Any] = {}
    held_apart = members_attribute(resource_type)
    for key, value in values.items():
        if key.lower() == "schemas" or (held_apart and key.lower() == MEMBERS):
            continue
        extension = _extension(resource_type, key)
        if extension is None:
            core[key] = value
            continue

        if not isinstance(value, dict):
            raise InvalidValue(f"'{extension.id}' must be a JSON object of attributes.")
        section = cleaner.attributes(extension.attribute, value, f"{extension.id}:")
        if section:
            extensions[extension.id] = section

    find = _core_finder(resource_type)
    return {**cleaner.attributes(find, core, ""), **extensions}


def _extension(resource_type: ResourceType, key: str) -> Schema | None:
    if not key.lower().startswith("urn:"):
        return None
    schema = resource_type.extension(key)
    return None if schema is resource_type.schema else schema


def _core_finder(resource_type: ResourceType) -> Callable[[str], Attribute | None]:
    def find(name: str) -> Attribute | None:
        return resource_type.common.attribute(name) or resource_type.schema.attribute(
            name
        )

    return find


def _check_schemas(resource_type: ResourceType, payload: dict[str, Any]) -> None:
    """RFC 7643 §3: ``schemas`` names the core schema and every extension used."""
    schemas = next((v for k, v in payload.items() if k.lower() == "schemas"), None)
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise InvalidValue("'schemas' must be a JSON array of schema URNs.")
    listed = {urn.lower() for urn in schemas}
    if resource_type.schema.id.lower() not in listed:
        raise InvalidValue(f"'schemas' must contain '{resource_type.schema.id}'.")

    known = {schema.id.lower() for schema in resource_type.all_schemas()}
    unknown = [urn for urn in schemas if urn.lower() not in known]
    if unknown:
        names = ", ".join(f"'{urn}'" for urn in unknown)
        raise InvalidValue(f"Unknown schemas for {resource_type.name}: {names}.")

    for schema, required in resource_type.extensions:
        present = any(key.lower() == schema.id.lower() for key in payload)
        if present and schema.id.lower() not in listed:
            raise InvalidValue(f"'{schema.id}' is used but not listed in 'schemas'.")
        if required and schema.id.lower() not in listed:
            raise InvalidValue(f"{resource_type.name} resources require '{schema.id}'.")


def _carry_over(
    resource_type: ResourceType, document: dict[str, Any], existing: dict[str, Any]
) -> dict[str, Any]:
    """RFC 7644 §3.5.1: what a PUT keeps from the stored document or may not change."""
    core = [*resource_type.common.attributes, *resource_type.schema.attributes]
    _carry_section(core, document, existing, "")

    for schema, _required_extension in resource_type.extensions:
        old = existing.get(schema.id)
        if not isinstance(old, dict):
            continue
        section = document.get(schema.id, {})
        _carry_section(schema.attributes, section, old, f"{schema.id}:")
        if section:
            document[schema.id] = section
    return document


def _carry_section(
    attributes: Iterable[Attribute],
    section: dict[str, Any],
    old: dict[str, Any],
    prefix: str,
) -> None:
    for attribute in attributes:
        before = old.get(attribute.name)
        if before is None:
            continue
        after = section.get(attribute.name)
        where = prefix + attribute.name

        if (
            attribute.mutability == "immutable"
            and after is not None
            and after != before
        ):
            raise MutabilityError(f"'{where}' is immutable and already set.")
        if attribute.mutability in _KEPT_ON_PUT and after is None:
            section[attribute.name] = before
        elif attribute.is_complex and not attribute.multi_valued and after:
            _carry_immutable_subs(attribute, after, before, where)


def _carry_immutable_subs(
    attribute: Attribute, after: dict[str, Any], before: dict[str, Any], where: str
) -> None:
    for sub in attribute.sub_attributes:
        if sub.mutability != "immutable" or sub.name not in before:
            continue
        if sub.name not in after:
            after[sub.name] = before[sub.name]
        elif after[sub.name] != before[sub.name]:
            raise MutabilityError(f"'{where}.{sub.name}' is immutable and already set.")


def _required(attributes: Iterable[Attribute]) -> list[Attribute]:
    """Attributes a client must give: required and not set by the server."""
    return [a for a in attributes if a.required and a.mutability != "readOnly"]


def _check_primary(values: list[Any], where: str) -> None:
    """RFC 7643 §2.4: at most one value of a multi-valued attribute is primary."""
    primaries = [v for v in values if isinstance(v, dict) and v.get("primary") is True]
    if len(primaries) > 1:
        raise InvalidValue(f"'{where}' has more than one value with primary true.")


def _expect(value: Any, kind: type, description: str, where: str) -> Any:
    if not isinstance(value, kind):
        raise InvalidValue(f"'{where}' must be {description}.")
    return value


def _check_decimal(value: Any, where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"'{where}' must be a JSON number.")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidValue(f"'{where}' must be a finite number.")
    return value


def _check_binary(text: str, where: str) -> str:
    """RFC 7643 §2.3.6: binary values are base64 encoded (RFC 4648 §4)."""
    try:
        base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise InvalidValue(f"'{where}' must be base64 encoded.") from error
    return text


def _check_date_time(text: str, where: str) -> None:
    """RFC 7643 §2.3.5: an xsd:dateTime with both a date and a time."""
    message = f"'{where}' must be an xsd:dateTime such as 2008-01-23T04:56:22Z."
    if not _DATE_TIME.fullmatch(text):
        raise InvalidValue(message)
    try:
        datetime.fromisoformat(text)
    except ValueError as error:
        raise InvalidValue(message) from error
