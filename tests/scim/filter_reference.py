"""A plain in-Python evaluator of parsed filters: the oracle of the property tests.

It walks a resource's full JSON representation (``id``, ``meta`` and all) and
applies the semantics documented in :mod:`scimserver.scim.filter` directly,
without SQL, the value index or the membership table:

- a multi-valued attribute matches when any of its values matches;
- ``ne`` is ``not eq``; ``eq null`` means no value; ``ne null`` means a value;
- ``null``, ``""`` and ``[]`` are no value;
- in ``attr[...]`` the condition must hold for one value of ``attr``, and only
  values holding at least one non-empty sub-attribute count;
- strings compare lower-cased unless ``caseExact``, in code point order.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from scimserver.scim.filter import (
    Comparison,
    Expression,
    Logical,
    Negation,
    ValuePath,
)
from scimserver.scim.schema import COMMON_SCHEMA, Attribute, AttributePath, ResourceType


def matches(
    resource_type: ResourceType, resource: dict[str, Any], expression: Expression
) -> bool:
    """True when ``resource`` (full JSON representation) matches ``expression``."""
    if isinstance(expression, Logical):
        results = (matches(resource_type, resource, o) for o in expression.operands)
        return all(results) if expression.operator == "and" else any(results)
    if isinstance(expression, Negation):
        return not matches(resource_type, resource, expression.operand)
    if isinstance(expression, ValuePath):
        parent = resource_type.resolve(str(expression.path))
        items = _items(_raw_value(resource, parent))
        return any(_item_matches(parent, i, expression.condition) for i in items)

    path = resource_type.resolve(str(expression.path))
    if path.sub_attribute is None and path.attribute.is_complex:
        if expression.operator == "pr":
            return bool(_items(_raw_value(resource, path)))
        path = replace(path, sub_attribute=path.attribute.sub_attribute("value"))
    return _compare(_values(resource, path), path.target, expression)


def _items(value: Any) -> list[dict[str, Any]]:
    """The values of a complex attribute that hold at least one non-empty value."""
    return [
        element
        for element in _as_list(value)
        if isinstance(element, dict) and any(_has_value(v) for v in element.values())
    ]


def _item_matches(
    parent: AttributePath, item: dict[str, Any], condition: Expression
) -> bool:
    if isinstance(condition, Logical):
        results = (_item_matches(parent, item, o) for o in condition.operands)
        return all(results) if condition.operator == "and" else any(results)
    if isinstance(condition, Negation):
        return not _item_matches(parent, item, condition.operand)
    assert isinstance(condition, Comparison)

    sub = parent.attribute.sub_attribute(condition.path.name)
    assert sub is not None
    values = [v for v in _as_list(_lookup(item, sub.name)) if _has_value(v)]
    return _compare(values, sub, condition)


def _compare(values: list[Any], attribute: Attribute, comparison: Comparison) -> bool:
    operator, operand = comparison.operator, comparison.value
    if operator == "pr" or (operator == "ne" and operand is None):
        return bool(values)
    if operator == "eq" and operand is None:
        return not values
    if operator == "ne":
        return not any(_holds(attribute, "eq", v, operand) for v in values)
    return any(_holds(attribute, operator, v, operand) for v in values)


def _holds(attribute: Attribute, operator: str, value: Any, operand: Any) -> bool:
    if attribute.type in ("string", "reference"):
        if not attribute.case_exact:
            value, operand = value.lower(), operand.lower()
    elif attribute.type == "dateTime":
        value, operand = _moment(value), _moment(operand)
    elif attribute.type in ("integer", "decimal"):
        value, operand = float(value), float(operand)

    if operator == "eq":
        return bool(value == operand)
    if operator == "co":
        return bool(operand in value)
    if operator == "sw":
        return bool(value.startswith(operand))
    if operator == "ew":
        return bool(value.endswith(operand))
    if operator == "gt":
        return bool(value > operand)
    if operator == "ge":
        return bool(value >= operand)
    if operator == "lt":
        return bool(value < operand)
    assert operator == "le"
    return bool(value <= operand)


def _values(resource: dict[str, Any], path: AttributePath) -> list[Any]:
    raw = _as_list(_raw_value(resource, path))
    if path.sub_attribute is not None:
        name = path.sub_attribute.name
        raw = [
            value
            for element in raw
            if isinstance(element, dict)
            for value in _as_list(_lookup(element, name))
        ]
    return [value for value in raw if _has_value(value)]


def _raw_value(resource: dict[str, Any], path: AttributePath) -> Any:
    attribute = path.attribute
    container = resource
    if attribute.schema not in (COMMON_SCHEMA, path.core_schema):
        container = resource.get(attribute.schema) or {}
    return _lookup(container, attribute.name)


def _lookup(container: dict[str, Any], name: str) -> Any:
    wanted = name.lower()
    return next((v for k, v in container.items() if k.lower() == wanted), None)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _has_value(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
