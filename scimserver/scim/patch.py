"""PATCH (RFC 7644 §3.5.2) applied to a resource document.

:func:`apply_patch` applies the operations of a PatchOp to a copy of the stored
document, checks the result as a whole, and returns it with the changes to Group
``members``, which the store keeps apart and applies row by row. Any error leaves
the caller's document as it was.

Choices where the RFC leaves room:

- A ``remove`` whose value filter matches nothing succeeds and changes nothing:
  §3.5.2.2 asks for ``noTarget`` only when ``path`` is missing, and provisioning
  clients repeat removals (Okta removes members that are already gone).
- An ``add`` whose value filter matches nothing creates the value when the filter
  only joins ``eq`` comparisons with ``and``: ``emails[type eq "work"].value``
  adds ``{"type": "work", "value": ...}``, as Microsoft Entra ID expects. Any other
  unmatched filter fails with ``noTarget``, and so does ``replace`` (§3.5.2.3).
- Replacing a complex value merges the given sub-attributes into it (§3.5.2.3),
  also for values picked by a value filter.
- A single value given for a multi-valued attribute counts as a list of one, and a
  plain value given for a complex attribute with a ``value`` sub-attribute counts as
  ``{"value": ...}`` (Entra ID sends the enterprise ``manager`` as a bare id).
- readOnly attributes in a value without ``path`` are ignored, as in a PUT
  (§3.5.1); naming one in ``path`` fails with ``mutability``.
- ``remove`` with ``path`` ``members`` and a ``value`` removes those members, the
  form Entra ID sends.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from scimserver.scim.errors import (
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    MutabilityError,
    NoTarget,
    ScimError,
)
from scimserver.scim.filter import (
    AttributeReference,
    Comparison,
    Expression,
    Logical,
    ValuePath,
    parse_filter,
)
from scimserver.scim.schema import Attribute, AttributePath, ResourceType, Schema
from scimserver.scim.validation import (
    check_value,
    is_unassigned,
    members_attribute,
    validate_document,
    validate_members,
)
from scimserver.scim.value_filter import check_filter, comparison, matches

logger = logging.getLogger(__name__)

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OPERATIONS = ("add", "remove", "replace")


class MemberOp(StrEnum):
    """What a :class:`MemberChange` does to the members of a group."""

    ADD = "add"
    REMOVE = "remove"
    REMOVE_MATCHING = "remove_matching"
    REMOVE_ALL = "remove_all"
    REPLACE_ALL = "replace_all"


@dataclass(frozen=True)
class MemberChange:
    """One change to Group ``members``; apply them in the order given.

    - ``ADD``: insert ``values`` (``{"value": id, ...}``) that are not members yet.
    - ``REMOVE``: delete the members whose ids are ``member_ids``.
    - ``REMOVE_MATCHING``: delete the members that ``value_filter`` (a
      :class:`~scimserver.scim.filter.ValuePath` on ``members``) matches.
    - ``REMOVE_ALL``: delete every member.
    - ``REPLACE_ALL``: delete every member, then insert ``values``.

    ``require_match`` comes from a ``replace`` with a value filter: when the removal
    deletes nothing, the PATCH must fail with :class:`NoTarget` (RFC 7644 §3.5.2.3).
    """

    op: MemberOp
    values: tuple[dict[str, Any], ...] = ()
    member_ids: tuple[str, ...] = ()
    value_filter: ValuePath | None = None
    require_match: bool = False


@dataclass(frozen=True)
class PatchResult:
    """The patched document and the membership changes, to store together."""

    document: dict[str, Any]
    member_changes: list[MemberChange] = field(default_factory=list)


@dataclass(frozen=True)
class PatchPath:
    """A PATCH ``path``: ``attrPath`` or ``valuePath [subAttr]`` (RFC 7644 §3.5.2)."""

    target: AttributePath
    value_filter: Expression | None = None
    text: str = ""

    @property
    def attribute(self) -> Attribute:
        return self.target.attribute

    @property
    def sub_attribute(self) -> Attribute | None:
        return self.target.sub_attribute

    @property
    def is_read_only(self) -> bool:
        return any(
            a is not None and a.mutability == "readOnly"
            for a in (self.attribute, self.sub_attribute)
        )


@dataclass(frozen=True)
class _Operation:
    op: str
    path: str | None
    value: Any
    has_value: bool


def apply_patch(
    resource_type: ResourceType, document: dict[str, Any], body: Any
) -> PatchResult:
    """Apply a PatchOp ``body`` to ``document``; the input is never modified.

    Raises the RFC 7644 §3.12 error of the first operation that fails, its detail
    prefixed with the operation's number.
    """
    operations = _read_body(body)
    patch = _Patch(resource_type, copy.deepcopy(document))

    for number, operation in enumerate(operations, start=1):
        try:
            patch.apply(_read_operation(operation))
        except ScimError as error:
            raise type(error)(f"Operation {number}: {error.detail}") from error

    patched = validate_document(resource_type, patch.document, MutabilityError)
    logger.debug("patched a %s with %d operations", resource_type.name, len(operations))
    return PatchResult(patched, patch.member_changes)


def parse_path(resource_type: ResourceType, text: str) -> PatchPath:
    """Parse ``attr``, ``attr.sub``, ``URN:attr[.sub]`` or ``attr[filter][.sub]``.

    Raises :class:`InvalidPath` for unknown attributes or a malformed path and
    :class:`InvalidFilter` for an invalid value filter.
    """
    open_at = text.find("[")
    if open_at < 0:
        return PatchPath(resource_type.resolve(text), None, text)

    close_at = _closing_bracket(text, open_at)
    base = resource_type.resolve(text[:open_at])
    attribute = base.attribute
    if base.sub_attribute is not None or not attribute.is_complex:
        raise InvalidPath(f"'{text}': only a complex attribute takes a value filter.")
    if not attribute.multi_valued:
        raise InvalidPath(f"'{text}': '{attribute.name}' is not multi-valued.")

    sub = _sub_after_filter(attribute, text[close_at + 1 :], text)
    value_filter = parse_filter(text[open_at + 1 : close_at])
    check_filter(value_filter, attribute)
    target = AttributePath(base.schema, attribute, sub, base.core_schema)
    return PatchPath(target, value_filter, text)


class _Patch:
    """The document being patched and the membership changes gathered so far."""

    def __init__(self, resource_type: ResourceType, document: dict[str, Any]) -> None:
        self.resource_type = resource_type
        self.document = document
        self.members = members_attribute(resource_type)
        self.member_changes: list[MemberChange] = []

    def apply(self, operation: _Operation) -> None:
        """Apply one operation (RFC 7644 §3.5.2.1 to §3.5.2.3)."""
        if operation.path is None:
            self._apply_without_path(operation)
            return

        extension = _extension(self.resource_type, operation.path)
        if extension is not None:
            self._apply_to_extension(operation, extension)
            return

        path = parse_path(self.resource_type, operation.path)
        if path.is_read_only:
            raise MutabilityError(f"'{path.text}' is readOnly (RFC 7644 §3.5.2).")
        self._apply_at(operation.op, path, operation.value, operation.has_value)

    def _apply_without_path(self, operation: _Operation) -> None:
        """§3.5.2.1/§3.5.2.3: without path, ``value`` holds the attributes."""
        if operation.op == "remove":
            raise NoTarget("A 'remove' operation needs a 'path' (RFC 7644 §3.5.2.2).")
        if not isinstance(operation.value, dict):
            raise InvalidValue("Without 'path', 'value' must be a JSON object.")

        for path, value in self._targets_of(operation.value):
            self._apply_at(operation.op, path, value, True)

    def _apply_to_extension(self, operation: _Operation, schema: Schema) -> None:
        """A path naming a schema extension addresses all of its attributes."""
        if operation.op != "remove":
            self._apply_without_path(
                _Operation(operation.op, None, {schema.id: operation.value}, True)
            )
            return

        for name in list(self.document.get(schema.id) or {}):
            path = parse_path(self.resource_type, f"{schema.id}:{name}")
            if not path.is_read_only:
                self._apply_at("remove", path, None, False)

    def _targets_of(self, value: dict[str, Any]) -> list[tuple[PatchPath, Any]]:
        """Resolve the keys of a path-less value; each names an attribute."""
        pairs: list[tuple[str, Any]] = []
        for key, item in value.items():
            extension = _extension(self.resource_type, key)
            if key.lower() == "schemas":
                continue
            if extension is None:
                pairs.append((key, item))
            elif isinstance(item, dict):
                pairs += [
                    (f"{extension.id}:{k}", v)
                    for k, v in item.items()
                    if k.lower() != "schemas"
                ]
            else:
                raise InvalidValue(f"'{extension.id}' must be a JSON object.")

        targets: list[tuple[PatchPath, Any]] = []
        unknown: list[str] = []
        for key, item in pairs:
            try:
                path = parse_path(self.resource_type, key)
            except InvalidPath:
                unknown.append(key)
                continue
            if path.is_read_only:
                logger.debug("ignored readOnly attribute %s in a PATCH value", key)
            else:
                targets.append((path, item))

        if unknown:
            raise InvalidValue(f"Unknown attributes: {', '.join(unknown)}.")
        return targets

    def _apply_at(self, op: str, path: PatchPath, value: Any, has_value: bool) -> None:
        if path.attribute is self.members:
            self._change_members(op, path, value, has_value)
        elif op == "remove":
            self._remove(path, value, has_value)
        elif not has_value:
            raise InvalidValue(f"'{op}' needs a 'value' (RFC 7644 §3.5.2).")
        else:
            self._write(op, path, value)

    def _write(self, op: str, path: PatchPath, value: Any) -> None:
        """§3.5.2.1 add and §3.5.2.3 replace; they differ on multi-valued targets."""
        attribute, sub = path.attribute, path.sub_attribute
        section = self._section(path.target)
        current = section.get(attribute.name)

        if path.value_filter is not None:
            new = _write_matching(op, path, path.value_filter, current, value)
        elif sub is not None:
            new = _write_sub_attribute(attribute, sub, current, value, path.text)
        elif attribute.multi_valued:
            new = _write_values(op, attribute, current, value, path.text)
        elif attribute.is_complex:
            new = _merge(attribute, current, value, path.text)
        else:
            new = check_value(attribute, value, path.text)

        if attribute.required and is_unassigned(new):
            raise MutabilityError(f"'{path.text}' is required (RFC 7644 §3.5.2.3).")
        _guard_immutable(attribute, current, new, path.text)
        _put(section, attribute.name, new)

    def _remove(self, path: PatchPath, value: Any, has_value: bool) -> None:
        """§3.5.2.2: unassign the target; required attributes cannot be removed."""
        attribute, sub = path.attribute, path.sub_attribute
        target = sub or attribute
        if target.required and (path.value_filter is None or sub is not None):
            raise MutabilityError(f"'{path.text}' is required (RFC 7644 §3.5.2.2).")
        section = self._section(path.target)
        current = section.get(attribute.name)
        if current is None:
            return

        if path.value_filter is not None:
            new = _remove_matching(path, path.value_filter, current)
        elif sub is not None:
            new = _write_sub_attribute(attribute, sub, current, None, path.text)
        elif has_value and attribute.multi_valued and not is_unassigned(value):
            new = _remove_values(attribute, current, value, path.text)
        else:
            new = None

        _guard_immutable(attribute, current, new, path.text)
        _put(section, attribute.name, new)

    def _change_members(
        self, op: str, path: PatchPath, value: Any, has_value: bool
    ) -> None:
        """Turn an operation on ``members`` into membership changes."""
        attribute = path.attribute
        if path.sub_attribute is not None or (path.value_filter and op == "add"):
            raise MutabilityError(
                f"'{path.text}': members are immutable; add or remove whole members "
                f"with path '{attribute.name}'."
            )
        if op == "remove":
            self.member_changes.append(_member_removal(path, value, has_value))
            return
        if not has_value:
            raise InvalidValue(f"'{op}' needs a 'value' (RFC 7644 §3.5.2).")

        values = tuple(validate_members(attribute, _as_values(attribute, value)))
        if op == "replace" and path.value_filter is None:
            self.member_changes.append(MemberChange(MemberOp.REPLACE_ALL, values))
            return
        if path.value_filter is not None:
            removal = _member_removal(path, None, False)
            self.member_changes.append(replace(removal, require_match=True))
        if values:
            self.member_changes.append(MemberChange(MemberOp.ADD, values))

    def _section(self, target: AttributePath) -> dict[str, Any]:
        """The object holding the target: the document or an extension's part."""
        if not target.is_extension:
            return self.document
        section: dict[str, Any] = self.document.setdefault(target.schema.id, {})
        return section


def _read_body(body: Any) -> list[Any]:
    """RFC 7644 §3.5.2: a PatchOp message with a non-empty ``Operations`` list."""
    if not isinstance(body, dict):
        raise InvalidSyntax("The PATCH body must be a JSON object.")
    fields = {key.lower(): value for key, value in body.items()}
    schemas = fields.get("schemas")
    if not isinstance(schemas, list) or PATCH_OP not in schemas:
        raise InvalidSyntax(f"'schemas' must be [\"{PATCH_OP}\"].")

    operations = fields.get("operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("'Operations' must be a non-empty JSON array.")
    return operations


def _read_operation(raw: Any) -> _Operation:
    if not isinstance(raw, dict):
        raise InvalidSyntax("Each operation must be a JSON object.")
    fields = {key.lower(): value for key, value in raw.items()}
    op = fields.get("op")
    if not isinstance(op, str) or op.lower() not in OPERATIONS:
        raise InvalidSyntax("'op' must be 'add', 'remove' or 'replace'.")

    path = fields.get("path")
    if path is not None and not isinstance(path, str):
        raise InvalidPath("'path' must be a string.")
    path = path.strip() if path else None
    return _Operation(op.lower(), path or None, fields.get("value"), "value" in fields)


def _extension(resource_type: ResourceType, text: str) -> Schema | None:
    """The schema extension that ``text`` names exactly, if any."""
    if not text.lower().startswith("urn:"):
        return None
    schema = resource_type.extension(text)
    return None if schema is resource_type.schema else schema


def _closing_bracket(text: str, open_at: int) -> int:
    """Find the ``]`` closing a value filter, skipping quoted strings."""
    quoted = escaped = False
    for index in range(open_at + 1, len(text)):
        char = text[index]
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if char == '"':
            quoted = True
        elif char == "[":
            raise InvalidPath(f"'{text}': value filters cannot be nested.")
        elif char == "]":
            return index
    raise InvalidPath(f"'{text}': the value filter is not closed with ']'.")


def _sub_after_filter(attribute: Attribute, tail: str, text: str) -> Attribute | None:
    if not tail:
        return None
    sub = attribute.sub_attribute(tail[1:]) if tail.startswith(".") else None
    if sub is None:
        raise InvalidPath(f"'{text}': '{tail}' is not a sub-attribute of the filter.")
    return sub


def _write_matching(
    op: str, path: PatchPath, value_filter: Expression, current: Any, value: Any
) -> Any:
    """Write to the values a filter selects (§3.5.2.1, §3.5.2.3)."""
    attribute, sub = path.attribute, path.sub_attribute
    values: list[Any] = [dict(item) for item in current or []]
    chosen = [
        i for i, item in enumerate(values) if matches(value_filter, item, attribute)
    ]
    if not chosen:
        values.append(_new_matching_value(op, path, value_filter))
        chosen = [len(values) - 1]

    for index in chosen:
        if sub is not None:
            values[index] = _set_sub_attribute(sub, values[index], value, path.text)
        else:
            values[index] = _merge(attribute, values[index], value, path.text)
    _demote_other_primaries(values, chosen)
    return [item for item in values if item] or None


def _new_matching_value(
    op: str, path: PatchPath, value_filter: Expression
) -> dict[str, Any]:
    template = None
    if op == "add":
        template = _equality_template(value_filter, path.attribute)
    if template is None:
        raise NoTarget(f"No value matches '{path.text}' (RFC 7644 §3.5.2.3).")
    return template


def _write_sub_attribute(
    attribute: Attribute, sub: Attribute, current: Any, value: Any, where: str
) -> Any:
    """Set ``attr.sub``; on a multi-valued attribute, in every value."""
    if not attribute.multi_valued:
        return _set_sub_attribute(sub, dict(current or {}), value, where)

    values: list[Any] = [dict(item) for item in current or []] or [{}]
    values = [_set_sub_attribute(sub, item, value, where) for item in values]
    return [item for item in values if item] or None


def _set_sub_attribute(
    sub: Attribute, item: dict[str, Any] | None, value: Any, where: str
) -> dict[str, Any] | None:
    item = dict(item or {})
    new = check_value(sub, value, where)
    _guard_immutable(sub, item.get(sub.name), new, where)
    _put(item, sub.name, new)
    return item or None


def _write_values(
    op: str, attribute: Attribute, current: Any, value: Any, where: str
) -> list[Any] | None:
    """§3.5.2.1: add appends new values; §3.5.2.3: replace sets all values."""
    incoming: list[Any] = (
        check_value(attribute, _as_values(attribute, value), where) or []
    )
    if op == "replace":
        return incoming or None

    values = [dict(item) if isinstance(item, dict) else item for item in current or []]
    written = []
    for item in incoming:
        if item not in values:
            values.append(item)
        written.append(values.index(item))
    _demote_other_primaries(values, written)
    return values or None


def _merge(attribute: Attribute, current: Any, value: Any, where: str) -> Any:
    """§3.5.2.3: given sub-attributes replace or add; the others are left alone."""
    value = _as_complex(attribute, value)
    if is_unassigned(value):
        return None
    update = check_value(attribute, value, where, one=True) or {}

    merged = dict(current or {})
    for name, given in value.items():
        sub = attribute.sub_attribute(name)
        if sub is not None and sub.mutability != "readOnly" and is_unassigned(given):
            merged.pop(sub.name, None)
    merged.update(update)

    for sub in attribute.sub_attributes:
        before = (current or {}).get(sub.name)
        _guard_immutable(sub, before, merged.get(sub.name), f"{where}.{sub.name}")
    return merged or None


def _remove_matching(
    path: PatchPath, value_filter: Expression, current: list[Any]
) -> list[Any] | None:
    """§3.5.2.2: drop the values a filter selects, or their sub-attribute."""
    kept = []
    for item in current:
        if not matches(value_filter, item, path.attribute):
            kept.append(item)
        elif path.sub_attribute is not None:
            kept.append(_set_sub_attribute(path.sub_attribute, item, None, path.text))
    return [item for item in kept if item] or None


def _remove_values(
    attribute: Attribute, current: list[Any], value: Any, where: str
) -> list[Any] | None:
    """Drop the values that have every sub-attribute value given in ``value``."""
    given = check_value(attribute, _as_values(attribute, value), where) or []
    kept = [item for item in current if not any(_holds(item, g) for g in given)]
    return kept or None


def _holds(item: Any, given: Any) -> bool:
    if isinstance(item, dict) and isinstance(given, dict):
        return all(item.get(name) == value for name, value in given.items())
    return bool(item == given)


def _member_removal(path: PatchPath, value: Any, has_value: bool) -> MemberChange:
    attribute = path.attribute
    if path.value_filter is not None:
        ids = _member_ids(path.value_filter)
        if ids is not None:
            return MemberChange(MemberOp.REMOVE, member_ids=tuple(ids))
        value_path = ValuePath(AttributeReference(attribute.name), path.value_filter)
        return MemberChange(MemberOp.REMOVE_MATCHING, value_filter=value_path)

    if has_value and not is_unassigned(value):
        members = validate_members(attribute, _as_values(attribute, value))
        return MemberChange(
            MemberOp.REMOVE, member_ids=tuple(m["value"] for m in members)
        )
    return MemberChange(MemberOp.REMOVE_ALL)


def _member_ids(value_filter: Expression) -> list[str] | None:
    """The ids of ``value eq "id"`` or of such comparisons joined by ``or``."""
    if isinstance(value_filter, Logical) and value_filter.operator == "or":
        found = [_member_ids(operand) for operand in value_filter.operands]
        if any(ids is None for ids in found):
            return None
        return [member_id for ids in found if ids for member_id in ids]
    if (
        isinstance(value_filter, Comparison)
        and value_filter.operator == "eq"
        and value_filter.path.name.lower() == "value"
        and value_filter.path.sub_attribute is None
        and value_filter.path.urn is None
        and isinstance(value_filter.value, str)
    ):
        return [value_filter.value]
    return None


def _as_values(attribute: Attribute, value: Any) -> list[Any]:
    values = value if isinstance(value, list) else [value]
    return [_as_complex(attribute, item) for item in values]


def _as_complex(attribute: Attribute, value: Any) -> Any:
    """A bare value given for a complex attribute with a ``value`` sub-attribute."""
    if (
        attribute.is_complex
        and value is not None
        and not isinstance(value, dict)
        and attribute.sub_attribute("value") is not None
    ):
        return {"value": value}
    return value


def _demote_other_primaries(values: list[Any], written: list[int]) -> None:
    """RFC 7644 §3.5.2: a value made primary makes the other values not primary."""
    if not any(_is_primary(values[index]) for index in written):
        return
    for index, item in enumerate(values):
        if index not in written and _is_primary(item):
            item["primary"] = False


def _is_primary(item: Any) -> bool:
    return isinstance(item, dict) and item.get("primary") is True


def _guard_immutable(attribute: Attribute, before: Any, after: Any, where: str) -> None:
    """RFC 7644 §3.5.2: an immutable attribute may be set once, never changed."""
    if attribute.mutability != "immutable" or is_unassigned(before):
        return
    if before != after:
        raise MutabilityError(f"'{where}' is immutable and already has a value.")


def _put(holder: dict[str, Any], name: str, value: Any) -> None:
    if is_unassigned(value):
        holder.pop(name, None)
    else:
        holder[name] = value


def _equality_template(
    value_filter: Expression, attribute: Attribute
) -> dict[str, Any] | None:
    """The value a filter of ``eq`` joined by ``and`` describes, else None."""
    if isinstance(value_filter, Logical) and value_filter.operator == "and":
        parts = [_equality_template(o, attribute) for o in value_filter.operands]
        if any(part is None for part in parts):
            return None
        return {name: v for part in parts if part for name, v in part.items()}
    if isinstance(value_filter, Comparison) and value_filter.operator == "eq":
        sub, _operator, expected = comparison(value_filter, attribute)
        return None if expected is None else {sub.name: expected}
    return None
